import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

import type { SchemaElement } from 'hyparquet-writer';

import {
  FORMAT_FIELDS,
  METADATA_FIELDS,
  type RecordFormat,
  withMetadata,
} from '../domain/record-format.js';
import type { RecordRow } from '../storage/datasets.repository.js';
import type { OrdinalRange, StoredRecords } from './record-pages.js';

/**
 * Streaming writers for one split of a version. Each takes the stored records page by page
 * (canonical JSON + metadata JSON) and yields file bytes in chunks of about 1 MB, so memory
 * stays flat however many records there are and a consumer that stops reading stops the
 * export. CSV and Parquet are encoded in worker threads (`encode-worker.js`): the event loop
 * only reads pages and moves bytes, and the encoding runs on the other cores. JSONL is too
 * when the workers can read the records themselves (embedded SQLite).
 */
export type RecordPages = AsyncIterable<RecordRow[]>;

/**
 * Where the encoders get records: pages read here (and handed over, for CSV / Parquet), or a
 * split in an embedded SQLite file that the workers read themselves (no copy through this
 * thread).
 */
export type RecordSource = RecordPages | StoredRecords;

function isStored(source: RecordSource): source is StoredRecords {
  return 'ranges' in source;
}

/** Text is turned into bytes once about this many characters are buffered. */
const CHUNK_CHARS = 1 << 19;

/**
 * JSONL: the stored canonical JSON, one record a line (metadata spliced in when asked). From
 * a split in an embedded SQLite file the workers read the records and write the lines
 * themselves, units of `JSONL_UNIT_ROWS` records in turn, the bytes yielded in unit order;
 * pages read here (PostgreSQL) are written by this thread. The bytes are the same either way.
 */
export async function* jsonlChunks(
  source: RecordSource,
  metadata: boolean,
  options: EncodeOptions = {},
): AsyncGenerator<Buffer> {
  if (isStored(source)) {
    const task: EncodeTask = { kind: 'jsonl', metadata, stored: storedTask(source) };
    yield* encodeUnits(task, units(source, metadata, JSONL_UNIT_ROWS), options);
    return;
  }
  let text = '';
  for await (const rows of source) {
    for (const row of rows) {
      text += (metadata ? withMetadata(row.content, row.meta) : row.content) + '\n';
    }
    if (text.length >= CHUNK_CHARS) {
      yield Buffer.from(text, 'utf8');
      text = '';
    }
  }
  if (text.length > 0) yield Buffer.from(text, 'utf8');
}

/** The CSV / Parquet columns of a format: its fields, then the metadata lists. */
export function exportColumns(format: RecordFormat, metadata: boolean): string[] {
  return [...FORMAT_FIELDS[format], ...(metadata ? METADATA_FIELDS : [])];
}

/** How many encoder workers one export uses (tests compare 1 with 2). */
export interface EncodeOptions {
  workers?: number;
}

/** Two workers keep both cores of a small machine busy; more would only share them. */
export const ENCODE_WORKERS = Math.max(1, Math.min(2, availableParallelism()));

/**
 * CSV (RFC 4180): a header row, CRLF between records, fields quoted when they hold a
 * quote, comma or line break (quotes doubled). `messages` and the metadata lists are JSON
 * text in their column (the stored JSON, not re-serialised). Pages are encoded by the
 * workers in turn and their bytes written in page order.
 */
export async function* csvChunks(
  format: RecordFormat,
  source: RecordSource,
  metadata: boolean,
  options: EncodeOptions = {},
): AsyncGenerator<Buffer> {
  yield Buffer.from(exportColumns(format, metadata).join(',') + '\r\n', 'utf8');
  const task: EncodeTask = {
    kind: 'csv',
    recordFormat: format,
    fields: [...FORMAT_FIELDS[format]],
    metadata,
    metadataFields: [...METADATA_FIELDS],
    stored: storedTask(source),
  };
  yield* encodeUnits(task, units(source, metadata, CSV_UNIT_ROWS), options);
}

/** Units whose bytes stand alone (JSONL lines, CSV rows): encoded in turn, yielded in order. */
async function* encodeUnits(
  task: EncodeTask,
  work: AsyncIterable<EncodeUnit>,
  options: EncodeOptions,
): AsyncGenerator<Buffer> {
  const encoders = new Encoders(task, options.workers ?? ENCODE_WORKERS);
  try {
    yield* encoders.inOrder(work, () => {});
  } finally {
    await encoders.stop();
  }
}

const STRING = { type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' } as const;

/** Parquet schema: strings for flat fields, `list<struct<role, content>>` for messages. */
export function parquetSchema(format: RecordFormat, metadata: boolean): SchemaElement[] {
  const columns = exportColumns(format, metadata);
  const schema: SchemaElement[] = [{ name: 'root', num_children: columns.length }];
  for (const column of FORMAT_FIELDS[format]) {
    if (column === 'messages') {
      schema.push(
        { name: 'messages', repetition_type: 'REQUIRED', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', repetition_type: 'REQUIRED', num_children: 2 },
        { ...STRING, name: 'role' },
        { ...STRING, name: 'content' },
      );
    } else {
      schema.push({ ...STRING, name: column });
    }
  }
  if (metadata) {
    for (const column of METADATA_FIELDS) {
      schema.push(
        { name: column, repetition_type: 'REQUIRED', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { ...STRING, name: 'element' },
      );
    }
  }
  return schema;
}

export interface ParquetOptions extends EncodeOptions {
  rowGroupRows: number;
  zstdLevel: number;
  /** Key/value metadata in the file footer (e.g. the version's checksum). */
  keyValues?: Record<string, string>;
}

/** The Parquet magic number at the start and the end of a file. */
const PAR1 = Buffer.from('PAR1', 'latin1');

/**
 * Parquet, zstd-compressed, one row group per `rowGroupRows` records. The workers encode row
 * groups in turn, each as if it began at offset 0; this thread writes them in order, notes
 * where each one landed, and finally has a worker write the footer with the offsets moved to
 * those places. The bytes equal those of a single writer.
 */
export async function* parquetChunks(
  format: RecordFormat,
  source: RecordSource,
  metadata: boolean,
  options: ParquetOptions,
): AsyncGenerator<Buffer> {
  const task: EncodeTask = {
    kind: 'parquet',
    recordFormat: format,
    fields: [...FORMAT_FIELDS[format]],
    metadata,
    metadataFields: [...METADATA_FIELDS],
    schema: parquetSchema(format, metadata),
    rowGroupRows: options.rowGroupRows,
    zstdLevel: options.zstdLevel,
    kvMetadata: Object.entries(options.keyValues ?? {}).map(([key, value]) => ({ key, value })),
    createdBy: 'clara datasets (hyparquet-writer)',
    stored: storedTask(source),
  };
  const encoders = new Encoders(task, options.workers ?? ENCODE_WORKERS);
  try {
    yield PAR1;
    let at = PAR1.length;
    const groups: { at: number; group: unknown }[] = [];
    const groupUnits = units(source, metadata, options.rowGroupRows);
    for await (const chunk of encoders.inOrder(groupUnits, (reply) => {
      groups.push({ at, group: reply.group });
    })) {
      at += chunk.length;
      yield chunk;
    }
    yield* encoders.bytesOf(await encoders.request(0, { footer: { groups, end: at } }));
  } finally {
    await encoders.stop();
  }
}

// --- the encoding workers -----------------------------------------------------------------

/** The split a worker reads itself, where it lies in an embedded SQLite file. */
interface StoredTask {
  file: string;
  versionId: string;
  split: string;
}

function storedTask(source: RecordSource): StoredTask | undefined {
  if (!isStored(source)) return undefined;
  return { file: source.file, versionId: source.versionId, split: source.split };
}

/** What `encode-worker.js` encodes (its `workerData`). */
type EncodeTask =
  | { kind: 'jsonl'; metadata: boolean; stored?: StoredTask }
  | {
      kind: 'csv';
      recordFormat: RecordFormat;
      fields: string[];
      metadata: boolean;
      metadataFields: string[];
      stored?: StoredTask;
    }
  | {
      kind: 'parquet';
      recordFormat: RecordFormat;
      fields: string[];
      metadata: boolean;
      metadataFields: string[];
      stored?: StoredTask;
      schema: SchemaElement[];
      rowGroupRows: number;
      zstdLevel: number;
      kvMetadata: { key: string; value: string }[];
      createdBy: string;
    };

/**
 * A unit of work, records whose bytes depend on nothing else (a run of CSV rows, a row
 * group): the records themselves, or the range of ordinals the worker reads.
 */
type EncodeUnit = { contents: string[]; metas: string[] | null } | { range: OrdinalRange };

interface EncodeReply {
  /** Views of buffers transferred from the worker. */
  chunks: Uint8Array[];
  /** Parquet: the row group's metadata, offsets relative to its start. */
  group?: unknown;
}

/** Records per CSV unit: big enough that handing out a unit costs little. */
const CSV_UNIT_ROWS = 1_000;

/** Records per JSONL unit (about 1 MB of lines for records of ~1 KB). */
const JSONL_UNIT_ROWS = 1_000;

/**
 * The units of work: consecutive runs of `rows` records (the last may hold fewer), as
 * ordinal ranges the workers read themselves, or as the records of pages read here.
 */
async function* units(
  source: RecordSource,
  metadata: boolean,
  rows: number,
): AsyncGenerator<EncodeUnit> {
  if (isStored(source)) {
    for (const range of source.ranges(rows)) yield { range };
    return;
  }
  let contents: string[] = [];
  let metas: string[] = [];
  for await (const page of source) {
    for (const row of page) {
      contents.push(row.content);
      if (metadata) metas.push(row.meta);
      if (contents.length === rows) {
        yield { contents, metas: metadata ? metas : null };
        contents = [];
        metas = [];
      }
    }
  }
  if (contents.length > 0) yield { contents, metas: metadata ? metas : null };
}

/**
 * Plain JavaScript next to this module, in the sources (Jest) and in the swc build alike.
 */
const ENCODE_WORKER = new URL('./encode-worker.js', import.meta.url);

/**
 * Units handed to each worker and not yet answered. Two per worker keep every thread busy
 * (the event loop reads the next page while the workers encode) and bound the memory an
 * export holds: at most this many units per worker, plus the one being read.
 */
const UNITS_IN_FLIGHT_PER_WORKER = 2;

let runningWorkers = 0;

/** Encoder workers started and not yet exited, in this process (for tests and diagnostics). */
export function runningEncodeWorkers(): number {
  return runningWorkers;
}

interface Pending {
  resolve: (reply: EncodeReply) => void;
  reject: (error: Error) => void;
}

/** A few encoder workers for one export; units go to them in turn. */
class Encoders {
  private readonly workers: Worker[] = [];
  private readonly pending: Pending[][] = [];
  private failure: Error | undefined;

  constructor(
    task: EncodeTask,
    private readonly count: number,
  ) {
    for (let i = 0; i < count; i++) {
      const worker = new Worker(ENCODE_WORKER, { workerData: task });
      runningWorkers++;
      const waiting: Pending[] = [];
      const fail = (error: Error) => {
        this.failure ??= error;
        for (const p of waiting.splice(0)) p.reject(this.failure);
      };
      worker.on('message', (reply: EncodeReply) => waiting.shift()?.resolve(reply));
      worker.on('error', fail);
      worker.on('exit', (code) => {
        runningWorkers--;
        fail(new Error(`the export encoder stopped (exit code ${code})`));
      });
      this.workers.push(worker);
      this.pending.push(waiting);
    }
  }

  /** Posts a message to worker `index`; its answer comes in the order of the posts. */
  request(index: number, message: EncodeUnit | { footer: unknown }): Promise<EncodeReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<EncodeReply>((resolve, reject) => {
      this.pending[index].push({ resolve, reject });
      this.workers[index].postMessage(message);
    });
  }

  bytesOf(reply: EncodeReply): Buffer[] {
    return reply.chunks.map((chunk) =>
      Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
    );
  }

  /**
   * Every unit encoded, by the workers in turn, and its bytes yielded in unit order; `onReply`
   * sees each answer before its bytes are yielded.
   */
  async *inOrder(
    work: AsyncIterable<EncodeUnit>,
    onReply: (reply: EncodeReply) => void,
  ): AsyncGenerator<Buffer> {
    const inFlight: Promise<EncodeReply>[] = [];
    const limit = this.count * UNITS_IN_FLIGHT_PER_WORKER;
    const settleOne = async function* (this: Encoders) {
      const reply = await inFlight.shift()!;
      onReply(reply);
      yield* this.bytesOf(reply);
    };
    let next = 0;
    for await (const unit of work) {
      const answer = this.request(next, unit);
      // Awaited in order below; a failure seen earlier must not count as unhandled.
      answer.catch(() => {});
      inFlight.push(answer);
      next = (next + 1) % this.count;
      while (inFlight.length >= limit) yield* settleOne.call(this);
    }
    while (inFlight.length > 0) yield* settleOne.call(this);
  }

  /** Stops every worker (also when the consumer stopped reading early). */
  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map((worker) => {
        worker.removeAllListeners('message');
        worker.removeAllListeners('error');
        worker.on('error', () => {}); // a stopped export's late failure is of no interest
        return worker.terminate();
      }),
    );
  }
}
