// The CSV / Parquet encoder of an export, run in `worker_threads` workers so that the encoding
// (JSON decoding, CSV escaping, Parquet column building, zstd) uses the other cores and never
// blocks the event loop that answers requests. Plain JavaScript on purpose: Node runs it as it
// is, both from the swc build (`dist/…`, compiled alongside) and from the sources under Jest.
// The main thread (record-writers.ts) only reads records, hands out units of work and puts
// the encoded bytes back in order; an export may use several of these workers at once.
//
// Protocol. workerData: an EncodeTask (see record-writers.ts). The main thread posts units of
// stored records, `{ contents: string[], metas: string[] | null }`; the worker answers every
// message, in order, with `{ chunks: ArrayBuffer[] }` (transferred): the unit's bytes, which
// depend on nothing but the unit. For CSV a unit is any run of records. For Parquet a unit is
// exactly one row group, its bytes written as if the group began at file offset 0; the answer
// also carries the group's metadata (`group`), whose offsets are relative to that start. The
// main thread writes the magic number, then the groups in order, and finally asks one worker
// for the footer: `{ footer: { groups: [{ at, group }] } }`, where `at` is each group's real
// file offset; the answer is the footer's bytes (page indexes, file metadata, magic number).
import { parentPort, workerData } from 'node:worker_threads';

const task = workerData;
const port = parentPort;

/** Only a whole ArrayBuffer can be transferred: copies views of shared or pooled memory. */
function ownBuffer(bytes) {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes.buffer
    : new Uint8Array(bytes).buffer;
}

function reply(bytes, extra) {
  const chunks = bytes.byteLength > 0 ? [ownBuffer(bytes)] : [];
  port.postMessage({ chunks, ...extra }, chunks);
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

function csvUnit({ contents, metas }) {
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
  reply(Buffer.from(text, 'utf8'));
}

// --- Parquet --------------------------------------------------------------------------------

let parquet;

/**
 * zstd at `level`: the native library (napi-rs build of libzstd, about three times faster than
 * the WebAssembly build here), or zstd-wasm where no native build exists for the platform.
 */
async function zstdCompressor(level) {
  try {
    const { Encoder } = await import('@toondepauw/node-zstd');
    const encoder = new Encoder(level);
    return (input) =>
      encoder.encodeSync(Buffer.from(input.buffer, input.byteOffset, input.byteLength));
  } catch {
    const { compress, init } = await import('@bokuweb/zstd-wasm');
    await init();
    return (input) => compress(input, level);
  }
}

async function parquetStart() {
  const [compress, { ByteWriter, ParquetWriter }] = await Promise.all([
    zstdCompressor(task.zstdLevel),
    import('hyparquet-writer'),
  ]);
  const writer = new ByteWriter(1 << 20);
  const fileWriter = new ParquetWriter({
    writer,
    schema: task.schema,
    codec: 'ZSTD',
    compressors: { ZSTD: compress },
    statistics: false,
    kvMetadata: task.kvMetadata,
    createdBy: task.createdBy,
  });
  // The main thread writes the leading magic number.
  writer.index = 0;
  writer.offset = 0;
  const columns = [...task.fields, ...(task.metadata ? task.metadataFields : [])];
  parquet = { writer, fileWriter, columns };
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

/** One row group, written as if it began at file offset 0. */
function parquetUnit({ contents, metas }) {
  const { writer, fileWriter, columns } = parquet;
  const fields = task.fields;
  const metadataFields = task.metadataFields;
  const width = fields.length;
  const count = contents.length;
  const buffered = columns.map(() => new Array(count));
  for (let r = 0; r < count; r++) {
    const record = JSON.parse(contents[r]);
    for (let f = 0; f < width; f++) buffered[f][r] = record[fields[f]];
    if (metas) {
      const meta = JSON.parse(metas[r]);
      for (let m = 0; m < metadataFields.length; m++) {
        buffered[width + m][r] = meta[metadataFields[m]];
      }
    }
  }
  const flat = task.recordFormat !== 'chat';
  writer.index = 0;
  writer.offset = 0;
  void fileWriter.write({
    // Free text is almost never repeated: skip the dictionary trial of those columns.
    columnData: columns.map((name, i) =>
      flat && i < width
        ? { name, data: utf8Views(buffered[i]), encoding: 'PLAIN' }
        : { name, data: buffered[i] },
    ),
    rowGroupSize: count,
  });
  const rowGroup = fileWriter.row_groups.pop();
  // Page indexes exist only for column chunks of more than one page.
  const indexes = fileWriter.pendingIndexes.filter((index) => index.offsetIndex);
  fileWriter.pendingIndexes = [];
  reply(new Uint8Array(writer.buffer, 0, writer.index).slice(), { group: { rowGroup, indexes } });
}

/** Moves a group's offsets (relative to its start) to where the group lies in the file. */
function placeGroup({ rowGroup, indexes }, at) {
  const shift = BigInt(at);
  for (const chunk of rowGroup.columns) {
    chunk.file_offset += shift;
    chunk.meta_data.data_page_offset += shift;
    if (chunk.meta_data.dictionary_page_offset !== undefined) {
      chunk.meta_data.dictionary_page_offset += shift;
    }
  }
  for (const { offsetIndex } of indexes) {
    for (const location of offsetIndex.page_locations) location.offset += shift;
  }
}

/** The footer after all groups: page indexes, file metadata, magic number. */
function parquetFooter({ groups, end }) {
  const { writer, fileWriter } = parquet;
  fileWriter.row_groups = [];
  fileWriter.pendingIndexes = [];
  fileWriter.num_rows = 0n;
  for (const { at, group } of groups) {
    placeGroup(group, at);
    fileWriter.row_groups.push(group.rowGroup);
    fileWriter.pendingIndexes.push(...group.indexes);
    fileWriter.num_rows += group.rowGroup.num_rows;
  }
  writer.index = 0;
  writer.offset = end;
  void fileWriter.finish();
  reply(new Uint8Array(writer.buffer, 0, writer.index).slice());
}

// --- dispatch -------------------------------------------------------------------------------

const start = task.kind === 'csv' ? Promise.resolve() : parquetStart();

// Messages are handled one after another, after the encoder is ready.
let queue = start;
port.on('message', (message) => {
  queue = queue.then(() => {
    if (task.kind === 'csv') csvUnit(message);
    else if (message.footer) parquetFooter(message.footer);
    else parquetUnit(message);
  });
  queue.catch((error) => {
    // Surfaces as the worker's `error` event in the main thread.
    setTimeout(() => {
      throw error;
    });
  });
});
