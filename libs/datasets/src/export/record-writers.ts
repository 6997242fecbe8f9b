import { Worker } from 'node:worker_threads';

import type { SchemaElement } from 'hyparquet-writer';

import {
  FORMAT_FIELDS,
  METADATA_FIELDS,
  type RecordFormat,
  withMetadata,
} from '../domain/record-format.js';
import type { RecordRow } from '../storage/datasets.repository.js';

/**
 * Streaming writers for one split of a version. Each takes the stored records page by page
 * (canonical JSON + metadata JSON) and yields file bytes in chunks of about 1 MB, so memory
 * stays flat however many records there are and a consumer that stops reading stops the
 * export. CSV and Parquet are encoded in a worker thread (`encode-worker.js`): the event loop
 * only reads pages and moves bytes, and the encoding runs on another core.
 */
export type RecordPages = AsyncIterable<RecordRow[]>;

/** Text is turned into bytes once about this many characters are buffered. */
const CHUNK_CHARS = 1 << 19;

/** JSONL: the stored canonical JSON, one record a line (metadata spliced in when asked). */
export async function* jsonlChunks(pages: RecordPages, metadata: boolean): AsyncGenerator<Buffer> {
  let text = '';
  for await (const rows of pages) {
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

/**
 * CSV (RFC 4180): a header row, CRLF between records, fields quoted when they hold a
 * quote, comma or line break (quotes doubled). `messages` and the metadata lists are JSON
 * text in their column (the stored JSON, not re-serialised).
 */
export async function* csvChunks(
  format: RecordFormat,
  pages: RecordPages,
  metadata: boolean,
): AsyncGenerator<Buffer> {
  yield Buffer.from(exportColumns(format, metadata).join(',') + '\r\n', 'utf8');
  yield* encodeInWorker(
    {
      kind: 'csv',
      recordFormat: format,
      fields: [...FORMAT_FIELDS[format]],
      metadata,
      metadataFields: [...METADATA_FIELDS],
    },
    pages,
  );
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

export interface ParquetOptions {
  rowGroupRows: number;
  zstdLevel: number;
  /** Key/value metadata in the file footer (e.g. the version's checksum). */
  keyValues?: Record<string, string>;
}

/**
 * Parquet, zstd-compressed, one row group per `rowGroupRows` records, encoded in a worker
 * thread so other requests are answered at full speed during an export.
 */
export async function* parquetChunks(
  format: RecordFormat,
  pages: RecordPages,
  metadata: boolean,
  options: ParquetOptions,
): AsyncGenerator<Buffer> {
  yield* encodeInWorker(
    {
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
    },
    pages,
  );
}

// --- the encoding worker ------------------------------------------------------------------

/** What `encode-worker.js` encodes (its `workerData`). */
type EncodeTask =
  | {
      kind: 'csv';
      recordFormat: RecordFormat;
      fields: string[];
      metadata: boolean;
      metadataFields: string[];
    }
  | {
      kind: 'parquet';
      recordFormat: RecordFormat;
      fields: string[];
      metadata: boolean;
      metadataFields: string[];
      schema: SchemaElement[];
      rowGroupRows: number;
      zstdLevel: number;
      kvMetadata: { key: string; value: string }[];
      createdBy: string;
    };

interface EncodeReply {
  chunks: ArrayBuffer[];
  end?: boolean;
}

/**
 * Plain JavaScript next to this module, in the sources (Jest) and in the swc build alike.
 */
const ENCODE_WORKER = new URL('./encode-worker.js', import.meta.url);

/**
 * Pages handed to the worker and not yet answered. Two keep both threads busy (the event loop
 * reads page N+1 while the worker encodes page N) and bound the memory an export holds.
 */
const PAGES_IN_FLIGHT = 2;

async function* encodeInWorker(task: EncodeTask, pages: RecordPages): AsyncGenerator<Buffer> {
  const worker = new Worker(ENCODE_WORKER, { workerData: task });
  const replies: EncodeReply[] = [];
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  worker.on('message', (reply: EncodeReply) => {
    replies.push(reply);
    notify();
  });
  worker.on('error', (error: Error) => {
    failure ??= error;
    notify();
  });
  worker.on('exit', (code) => {
    failure ??= new Error(`the export encoder stopped (exit code ${code})`);
    notify();
  });
  const nextReply = async (): Promise<EncodeReply> => {
    for (;;) {
      const reply = replies.shift();
      if (reply) return reply;
      if (failure) throw failure;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };
  const bytesOf = (reply: EncodeReply) => reply.chunks.map((chunk) => Buffer.from(chunk));

  try {
    let unanswered = 0;
    for await (const rows of pages) {
      worker.postMessage({
        contents: rows.map((row) => row.content),
        metas: task.metadata ? rows.map((row) => row.meta) : null,
      });
      unanswered++;
      while (unanswered >= PAGES_IN_FLIGHT || replies.length > 0) {
        const reply = await nextReply();
        unanswered--;
        yield* bytesOf(reply);
      }
    }
    worker.postMessage({ end: true });
    for (;;) {
      const reply = await nextReply();
      yield* bytesOf(reply);
      if (reply.end) return;
    }
  } finally {
    worker.removeAllListeners();
    worker.on('error', () => {}); // a stopped export's late failure is of no interest
    await worker.terminate();
  }
}
