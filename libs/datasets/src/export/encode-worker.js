// The CSV / Parquet encoder of one export, run in a `worker_threads` worker so that the
// encoding (JSON decoding, CSV escaping, Parquet column building, zstd) uses another core and
// never blocks the event loop that answers requests. Plain JavaScript on purpose: Node runs it
// as it is, both from the swc build (`dist/…`, compiled alongside) and from the sources under
// Jest. The main thread (record-writers.ts) only reads pages and moves bytes.
//
// Protocol. workerData: an EncodeTask (see record-writers.ts). The main thread posts one
// message per page of stored records, `{ contents: string[], metas: string[] | null }`, and
// finally `{ end: true }`. The worker answers every message, in order, with
// `{ chunks: ArrayBuffer[] }` (transferred; often empty while it batches ~1 MB), the answer
// to `end` with `end: true` as well.
import { parentPort, workerData } from 'node:worker_threads';

/** Encoded bytes are handed back in chunks of about this size. */
const CHUNK_BYTES = 1 << 20;

const task = workerData;
const port = parentPort;

/** Bytes waiting to be handed back, as ArrayBuffers that can be transferred. */
let pending = [];
let pendingBytes = 0;

function keep(bytes) {
  if (bytes.byteLength === 0) return;
  // Only a whole ArrayBuffer can be transferred: copy views of shared or pooled memory.
  const own =
    bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
      ? bytes
      : new Uint8Array(bytes);
  pending.push(own.buffer);
  pendingBytes += own.byteLength;
}

function reply(force, end) {
  if (!force && pendingBytes < CHUNK_BYTES) {
    port.postMessage({ chunks: [] });
    return;
  }
  const chunks = pending;
  pending = [];
  pendingBytes = 0;
  port.postMessage({ chunks, end }, chunks);
}

// --- CSV ------------------------------------------------------------------------------------

const NEEDS_QUOTES = /[",\r\n]/;

function csvField(value) {
  return NEEDS_QUOTES.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

const CHUNK_KEY = ',"source_chunk_ids":';
const TAGS_KEY = ',"tags":';
const DOCUMENTS_PREFIX = '{"source_document_ids":'.length;

/**
 * The three JSON arrays of a stored metadata object as CSV fields, without parsing: it is
 * canonical (`{"source_document_ids":[…],"source_chunk_ids":[…],"tags":[…]}`), and inside a
 * JSON string a quote is always escaped, so the key markers cannot occur in values.
 */
function csvMetadata(meta) {
  const chunks = meta.indexOf(CHUNK_KEY);
  const tags = meta.indexOf(TAGS_KEY, chunks);
  return (
    ',' +
    csvField(meta.slice(DOCUMENTS_PREFIX, chunks)) +
    ',' +
    csvField(meta.slice(chunks + CHUNK_KEY.length, tags)) +
    ',' +
    csvField(meta.slice(tags + TAGS_KEY.length, -1))
  );
}

let csvText = '';

function csvPage({ contents, metas }) {
  const fields = task.fields;
  const chat = task.recordFormat === 'chat';
  let text = '';
  for (let r = 0; r < contents.length; r++) {
    const content = contents[r];
    let line;
    if (chat) {
      // `{"messages":<array>}`: the array is the column's JSON text, no re-serialising.
      line = csvField(content.slice(12, -1));
    } else {
      const record = JSON.parse(content);
      line = csvField(record[fields[0]]);
      for (let f = 1; f < fields.length; f++) line += ',' + csvField(record[fields[f]]);
    }
    if (metas) line += csvMetadata(metas[r]);
    text += line + '\r\n';
  }
  csvText += text;
  if (csvText.length >= CHUNK_BYTES / 2) {
    keep(Buffer.from(csvText, 'utf8'));
    csvText = '';
  }
}

function csvEnd() {
  keep(Buffer.from(csvText, 'utf8'));
  csvText = '';
}

// --- Parquet --------------------------------------------------------------------------------

let parquet;

async function parquetStart() {
  const [{ compress, init }, { ByteWriter, ParquetWriter }] = await Promise.all([
    import('@bokuweb/zstd-wasm'),
    import('hyparquet-writer'),
  ]);
  await init();

  /** A ByteWriter whose bytes are handed out after every row group instead of kept. */
  class ChunkedWriter extends ByteWriter {
    flush() {
      if (this.index === 0) return;
      keep(new Uint8Array(this.buffer, 0, this.index).slice());
      this.index = 0;
    }

    finish() {
      this.flush();
    }
  }

  const level = task.zstdLevel;
  const writer = new ChunkedWriter(1 << 20);
  const fileWriter = new ParquetWriter({
    writer,
    schema: task.schema,
    codec: 'ZSTD',
    compressors: { ZSTD: (input) => compress(input, level) },
    statistics: false,
    kvMetadata: task.kvMetadata,
    createdBy: task.createdBy,
  });
  const columns = [...task.fields, ...(task.metadata ? task.metadataFields : [])];
  parquet = { writer, fileWriter, columns, buffered: columns.map(() => []), count: 0 };
}

/**
 * A column's strings as UTF-8 views into one buffer: one native write per value and no
 * allocation per value (the writer would otherwise encode each string on its own).
 */
function utf8Views(strings) {
  let chars = 0;
  for (const s of strings) chars += s.length;
  const bytes = Buffer.allocUnsafeSlow(chars * 3); // UTF-8 needs at most 3 bytes per UTF-16 unit
  const views = new Array(strings.length);
  let offset = 0;
  for (let i = 0; i < strings.length; i++) {
    const length = bytes.write(strings[i], offset);
    views[i] = new Uint8Array(bytes.buffer, offset, length);
    offset += length;
  }
  return views;
}

function parquetGroup() {
  const p = parquet;
  if (p.count === 0) return;
  const flat = task.recordFormat !== 'chat';
  const textColumns = task.fields.length;
  void p.fileWriter.write({
    // Free text is almost never repeated: skip the dictionary trial of those columns.
    columnData: p.columns.map((name, i) =>
      flat && i < textColumns
        ? { name, data: utf8Views(p.buffered[i]), encoding: 'PLAIN' }
        : { name, data: p.buffered[i] },
    ),
    rowGroupSize: p.count,
  });
  p.writer.flush();
  p.buffered = p.columns.map(() => []);
  p.count = 0;
}

function parquetPage({ contents, metas }) {
  const p = parquet;
  const fields = task.fields;
  const metadataFields = task.metadataFields;
  const width = fields.length;
  for (let r = 0; r < contents.length; r++) {
    const record = JSON.parse(contents[r]);
    for (let f = 0; f < width; f++) p.buffered[f].push(record[fields[f]]);
    if (metas) {
      const meta = JSON.parse(metas[r]);
      for (let m = 0; m < metadataFields.length; m++) {
        p.buffered[width + m].push(meta[metadataFields[m]]);
      }
    }
    if (++p.count >= task.rowGroupRows) parquetGroup();
  }
}

function parquetEnd() {
  parquetGroup();
  void parquet.fileWriter.finish();
}

// --- dispatch -------------------------------------------------------------------------------

const encoder =
  task.kind === 'csv'
    ? { start: async () => {}, page: csvPage, end: csvEnd }
    : { start: parquetStart, page: parquetPage, end: parquetEnd };

// Messages are handled one after another, after the encoder is ready.
let queue = encoder.start();
port.on('message', (message) => {
  queue = queue.then(() => {
    if (message.end) {
      encoder.end();
      reply(true, true);
    } else {
      encoder.page(message);
      reply(false, false);
    }
  });
  queue.catch((error) => {
    // Surfaces as the worker's `error` event in the main thread.
    setTimeout(() => {
      throw error;
    });
  });
});
