// The JSONL / CSV / Parquet encoder of an export, run in `worker_threads` workers so that the
// encoding (JSON decoding, CSV escaping, Parquet column building, zstd) and, on SQLite, the
// reading of the records use the other cores and never block the event loop that answers
// requests. Plain JavaScript on purpose: Node runs it as it is, both from the swc build
// (`dist/…`, compiled alongside) and from the sources under Jest.
// The main thread (record-writers.ts) only reads records, hands out units of work and puts
// the encoded bytes back in order; an export may use several of these workers at once.
//
// Protocol. workerData: an EncodeTask (see record-writers.ts). The main thread posts units of
// stored records, `{ contents: string[], metas: string[] | null }`, or, where the records are
// in an embedded SQLite file (`task.stored`), the unit's ordinals, `{ range: { after, last } }`,
// and the worker reads them with a read-only connection of its own, as UTF-8 bytes that are
// never turned into JavaScript strings (records in canonical JSON are decoded byte by byte;
// anything else goes through JSON.parse). It answers every
// message, in order, with `{ chunks: ArrayBuffer[] }` (transferred): the unit's bytes, which
// depend on nothing but the unit. For JSONL and CSV a unit is any run of records (JSONL: the
// stored bytes, one record a line, metadata spliced in). For Parquet a unit is exactly one
// row group, its bytes written as if the group began at file offset 0; the answer
// also carries the group's metadata (`group`), whose offsets are relative to that start. The
// main thread writes the magic number, then the groups in order, and finally asks one worker
// for the footer: `{ footer: { groups: [{ at, group }] } }`, where `at` is each group's real
// file offset; the answer is the footer's bytes (page indexes, file metadata, magic number).
import { parentPort, workerData } from 'node:worker_threads';

const task = workerData;
const port = parentPort;

/**
 * Hands `bytes` to the main thread. Their ArrayBuffer is transferred, not copied, so it must
 * be one the worker does not use again (`owned`); otherwise the bytes are copied first.
 */
function reply(bytes, extra, owned = false) {
  const view = owned ? bytes : new Uint8Array(bytes);
  const chunks = view.byteLength > 0 ? [view] : [];
  port.postMessage(
    { chunks, ...extra },
    chunks.map((chunk) => chunk.buffer),
  );
}

// --- records as UTF-8 bytes ------------------------------------------------------------------

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

/** Scratch space for decoded strings; views into it live until the next unit. */
let arena = Buffer.allocUnsafeSlow(1 << 20);
let arenaAt = 0;

function arenaReserve(bytes) {
  if (arenaAt + bytes > arena.length) {
    // Earlier views keep the old buffer alive as long as they need it.
    arena = Buffer.allocUnsafeSlow(Math.max(arena.length, bytes * 2));
    arenaAt = 0;
  }
}

/** UTF-8 of strings handed over by the main thread: one buffer, a view per string. */
function bytesOf(strings) {
  let chars = 0;
  for (const s of strings) chars += s.length;
  const bytes = Buffer.allocUnsafeSlow(chars * 3); // UTF-8 needs at most 3 bytes per UTF-16 unit
  const views = new Array(strings.length);
  let offset = 0;
  for (let i = 0; i < strings.length; i++) {
    const length = bytes.write(strings[i], offset);
    views[i] = bytes.subarray(offset, offset + length);
    offset += length;
  }
  return views;
}

/** `{"<first field>":"` and `,"<next field>":"`: how each string field opens in canonical JSON. */
const FIELD_OPENINGS = (task.fields ?? []).map((field, i) =>
  Buffer.from(`${i === 0 ? '{' : ','}${JSON.stringify(field)}:"`, 'utf8'),
);

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) HEX['0123456789abcdef'.charCodeAt(i)] = i;
for (let i = 10; i < 16; i++) HEX['ABCDEF'.charCodeAt(i - 10)] = i;

function hex4(b, at) {
  let unit = 0;
  for (let i = at; i < at + 4; i++) {
    const digit = b[i] < 128 ? HEX[b[i]] : -1;
    if (digit < 0) return -1;
    unit = (unit << 4) | digit;
  }
  return unit;
}

/** Writes one code point as UTF-8 into `target` at `o`; returns the index after it. */
function putCodePoint(target, o, cp) {
  if (cp < 0x80) target[o++] = cp;
  else if (cp < 0x800) {
    target[o++] = 0xc0 | (cp >> 6);
    target[o++] = 0x80 | (cp & 0x3f);
  } else if (cp < 0x10000) {
    target[o++] = 0xe0 | (cp >> 12);
    target[o++] = 0x80 | ((cp >> 6) & 0x3f);
    target[o++] = 0x80 | (cp & 0x3f);
  } else {
    target[o++] = 0xf0 | (cp >> 18);
    target[o++] = 0x80 | ((cp >> 12) & 0x3f);
    target[o++] = 0x80 | ((cp >> 6) & 0x3f);
    target[o++] = 0x80 | (cp & 0x3f);
  }
  return o;
}

/** Where the last escape read by `escapeAt` ended. */
let escapeEnd = 0;

/**
 * The code point of the JSON escape whose backslash is at `i` (surrogate pairs joined; a
 * lone surrogate becomes U+FFFD, as Buffer.write encodes it), or -1 for an invalid escape.
 */
function escapeAt(b, i) {
  const e = b[i + 1];
  escapeEnd = i + 2;
  switch (e) {
    case 0x22: // "
    case 0x5c: // \
    case 0x2f: // /
      return e;
    case 0x6e: // n
      return 0x0a;
    case 0x72: // r
      return 0x0d;
    case 0x74: // t
      return 0x09;
    case 0x62: // b
      return 0x08;
    case 0x66: // f
      return 0x0c;
    case 0x75: {
      // u
      let cp = hex4(b, i + 2);
      if (cp < 0) return -1;
      escapeEnd = i + 6;
      if (cp >= 0xd800 && cp < 0xdc00 && b[escapeEnd] === BACKSLASH && b[escapeEnd + 1] === 0x75) {
        const low = hex4(b, escapeEnd + 2);
        if (low >= 0xdc00 && low < 0xe000) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          escapeEnd += 6;
        }
      }
      return cp >= 0xd800 && cp < 0xe000 ? 0xfffd : cp;
    }
    default:
      return -1;
  }
}

/** Where the last JSON string read by `decodeString` / `csvString` ended (after its quote). */
let stringEnd = 0;

/**
 * The JSON string that starts at `i` (after its opening quote) of `b`, decoded to UTF-8 in
 * the arena (one pass, byte by byte: cheaper than searching and slicing); null when the bytes
 * are not a JSON string.
 */
function decodeString(b, i) {
  // Decoded text is never longer than its JSON form.
  arenaReserve(b.length - i);
  const target = arena;
  const from = arenaAt;
  let o = from;
  const n = b.length;
  while (i < n) {
    const c = b[i];
    if (c === QUOTE) {
      stringEnd = i + 1;
      arenaAt = o;
      return target.subarray(from, o);
    }
    if (c === BACKSLASH) {
      const cp = escapeAt(b, i);
      if (cp < 0) return null;
      i = escapeEnd;
      if (cp < 0x80) target[o++] = cp;
      else o = putCodePoint(target, o, cp);
    } else {
      target[o++] = c;
      i++;
    }
  }
  return null;
}

/**
 * The string fields of a flat record in canonical JSON (`{"a":"…","b":"…"}`, fields in
 * `task.fields` order), decoded into `values`; false for any other form of JSON.
 */
function decodeFlat(b, values) {
  let at = 0;
  for (let f = 0; f < FIELD_OPENINGS.length; f++) {
    const opening = FIELD_OPENINGS[f];
    for (let i = 0; i < opening.length; i++) if (b[at + i] !== opening[i]) return false;
    const value = decodeString(b, at + opening.length);
    if (value === null) return false;
    values[f] = value;
    at = stringEnd;
  }
  return at === b.length - 1 && b[at] === 0x7d;
}

/** The same fields through JSON.parse, for records not in canonical form. */
function parseFlat(b, values) {
  const record = JSON.parse(b.toString('utf8'));
  const fields = task.fields;
  for (let f = 0; f < fields.length; f++) {
    values[f] = Buffer.from(String(record[fields[f]]), 'utf8');
  }
}

// --- CSV ------------------------------------------------------------------------------------

/** The CSV bytes of the unit being encoded; handed over (not copied) when it is done. */
let out = Buffer.allocUnsafeSlow(1 << 21);
let outAt = 0;

function outReserve(bytes) {
  if (outAt + bytes > out.length) {
    const bigger = Buffer.allocUnsafeSlow(Math.max(out.length * 2, outAt + bytes));
    out.copy(bigger, 0, 0, outAt);
    out = bigger;
  }
}

/**
 * CSV quoting, byte by byte, straight into `out`: a field is quoted when it holds a quote,
 * comma or line break, with its quotes doubled. An opening quote is written first and taken
 * back (the field moved one byte left) when the field turns out not to need it.
 */
function closeField(open, o, needsQuotes) {
  if (needsQuotes) {
    out[open] = QUOTE;
    out[o++] = QUOTE;
    outAt = o;
  } else {
    out.copyWithin(open, open + 1, o);
    outAt = o - 1;
  }
}

/** `b[start, end)` as it is (JSON text, or decoded text) as one CSV field. */
function csvRaw(b, start, end) {
  outReserve((end - start) * 2 + 2);
  const target = out;
  const open = outAt;
  let o = open + 1;
  let needsQuotes = false;
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c === QUOTE) {
      target[o++] = QUOTE;
      needsQuotes = true;
    } else if (c === COMMA || c === 0x0a || c === 0x0d) needsQuotes = true;
    target[o++] = c;
  }
  closeField(open, o, needsQuotes);
}

/**
 * The JSON string that starts at `i` (after its opening quote) of `b`, decoded and written
 * as one CSV field in a single pass; false when the bytes are not a JSON string.
 */
function csvString(b, i) {
  const n = b.length;
  // Decoded text is never longer than its JSON form; doubled quotes at most double it.
  outReserve((n - i) * 2 + 2);
  const target = out;
  const open = outAt;
  let o = open + 1;
  let needsQuotes = false;
  while (i < n) {
    let c = b[i];
    if (c === QUOTE) {
      stringEnd = i + 1;
      closeField(open, o, needsQuotes);
      return true;
    }
    if (c === BACKSLASH) {
      c = escapeAt(b, i);
      if (c < 0) return false;
      i = escapeEnd;
      if (c >= 0x80) {
        o = putCodePoint(target, o, c);
        continue;
      }
    } else i++;
    if (c === QUOTE) {
      target[o++] = QUOTE;
      needsQuotes = true;
    } else if (c === COMMA || c === 0x0a || c === 0x0d) needsQuotes = true;
    target[o++] = c;
  }
  return false;
}

/**
 * The fields of a flat record in canonical JSON (`{"a":"…","b":"…"}`, fields in
 * `task.fields` order) as CSV fields; false (nothing written) for any other form of JSON.
 */
function csvFlat(b) {
  const rowStart = outAt;
  let at = 0;
  for (let f = 0; f < FIELD_OPENINGS.length; f++) {
    const opening = FIELD_OPENINGS[f];
    for (let i = 0; i < opening.length; i++) {
      if (b[at + i] !== opening[i]) return ((outAt = rowStart), false);
    }
    if (f > 0) {
      outReserve(1);
      out[outAt++] = COMMA;
    }
    if (!csvString(b, at + opening.length)) return ((outAt = rowStart), false);
    at = stringEnd;
  }
  if (at === b.length - 1 && b[at] === 0x7d) return true;
  outAt = rowStart;
  return false;
}

const CHUNK_KEY = Buffer.from(',"source_chunk_ids":', 'utf8');
const TAGS_KEY = Buffer.from(',"tags":', 'utf8');
const DOCUMENTS_PREFIX = '{"source_document_ids":'.length;

/**
 * The three JSON arrays of a stored metadata object as CSV fields, without parsing: it is
 * canonical (`{"source_document_ids":[…],"source_chunk_ids":[…],"tags":[…]}`), and inside a
 * JSON string a quote is always escaped, so the key markers cannot occur in values.
 */
function csvMetadata(meta) {
  const chunks = meta.indexOf(CHUNK_KEY);
  const tags = meta.indexOf(TAGS_KEY, chunks);
  outReserve(1);
  out[outAt++] = COMMA;
  csvRaw(meta, DOCUMENTS_PREFIX, chunks);
  outReserve(1);
  out[outAt++] = COMMA;
  csvRaw(meta, chunks + CHUNK_KEY.length, tags);
  outReserve(1);
  out[outAt++] = COMMA;
  csvRaw(meta, tags + TAGS_KEY.length, meta.length - 1);
}

function csvUnit({ contents, metas }) {
  const chat = task.recordFormat === 'chat';
  const values = new Array(task.fields.length);
  for (let r = 0; r < contents.length; r++) {
    const content = contents[r];
    if (chat) {
      // `{"messages":<array>}`: the array is the column's JSON text, no re-serialising.
      csvRaw(content, 12, content.length - 1);
    } else if (!csvFlat(content)) {
      parseFlat(content, values);
      for (let f = 0; f < values.length; f++) {
        if (f > 0) {
          outReserve(1);
          out[outAt++] = COMMA;
        }
        csvRaw(values[f], 0, values[f].length);
      }
    }
    if (metas) csvMetadata(metas[r]);
    outReserve(2);
    out[outAt++] = 0x0d;
    out[outAt++] = 0x0a;
  }
  const bytes = out.subarray(0, outAt);
  out = Buffer.allocUnsafeSlow(out.length);
  outAt = 0;
  reply(bytes, undefined, true);
}

// --- JSONL ----------------------------------------------------------------------------------

/**
 * JSONL: the stored canonical JSON as it is, one record a line; with metadata, the metadata
 * object spliced into the record object (`withMetadata` of record-format.ts, on bytes): the
 * record without its closing `}`, a comma, the metadata without its opening `{`. Byte slicing
 * equals that string slicing when the bytes cut off are ASCII (always so for canonical JSON,
 * `}` and `{`); anything else goes through the same string operation.
 */
function jsonlUnit({ contents, metas }) {
  for (let r = 0; r < contents.length; r++) {
    const content = contents[r];
    if (!metas) {
      outReserve(content.length + 1);
      outAt += content.copy(out, outAt);
    } else {
      const meta = metas[r];
      const c = content.length;
      const m = meta.length;
      outReserve(c + m + 4);
      if (c > 0 && m > 0 && content[c - 1] < 0x80 && meta[0] < 0x80) {
        outAt += content.copy(out, outAt, 0, c - 1);
        out[outAt++] = COMMA;
        outAt += meta.copy(out, outAt, 1, m);
      } else {
        const line = `${content.toString('utf8').slice(0, -1)},${meta.toString('utf8').slice(1)}`;
        outReserve(Buffer.byteLength(line, 'utf8') + 1);
        outAt += out.write(line, outAt, 'utf8');
      }
    }
    out[outAt++] = 0x0a;
  }
  const bytes = out.subarray(0, outAt);
  out = Buffer.allocUnsafeSlow(out.length);
  outAt = 0;
  reply(bytes, undefined, true);
}

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

/** One row group, written as if it began at file offset 0. */
function parquetUnit({ contents, metas }) {
  const { writer, fileWriter, columns } = parquet;
  const fields = task.fields;
  const metadataFields = task.metadataFields;
  const width = fields.length;
  const count = contents.length;
  const chat = task.recordFormat === 'chat';
  const buffered = columns.map(() => new Array(count));
  const values = new Array(width);
  arenaAt = 0;
  for (let r = 0; r < count; r++) {
    const content = contents[r];
    if (chat) {
      buffered[0][r] = JSON.parse(content.toString('utf8')).messages;
    } else {
      if (!decodeFlat(content, values)) parseFlat(content, values);
      for (let f = 0; f < width; f++) buffered[f][r] = values[f];
    }
    if (metas) {
      const meta = JSON.parse(metas[r]);
      for (let m = 0; m < metadataFields.length; m++) {
        buffered[width + m][r] = meta[metadataFields[m]];
      }
    }
  }
  writer.index = 0;
  writer.offset = 0;
  void fileWriter.write({
    // Free text is almost never repeated: skip the dictionary trial of those columns.
    columnData: columns.map((name, i) =>
      !chat && i < width
        ? { name, data: buffered[i], encoding: 'PLAIN' }
        : { name, data: buffered[i] },
    ),
    rowGroupSize: count,
  });
  const rowGroup = fileWriter.row_groups.pop();
  // Page indexes exist only for column chunks of more than one page.
  const indexes = fileWriter.pendingIndexes.filter((index) => index.offsetIndex);
  fileWriter.pendingIndexes = [];
  reply(new Uint8Array(writer.buffer, 0, writer.index), { group: { rowGroup, indexes } });
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
  reply(new Uint8Array(writer.buffer, 0, writer.index));
}

// --- records read here -----------------------------------------------------------------------

let stored;

/** A read-only connection of this worker's own to the embedded database (`task.stored`). */
async function openStored() {
  const { default: Database } = await import('better-sqlite3');
  const { file, versionId, split } = task.stored;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  // Contents as bytes; metadata as bytes for CSV and JSONL (cut as it is), as text for Parquet
  // (parsed).
  const meta = task.kind === 'parquet' ? 'meta' : 'CAST(meta AS BLOB)';
  const columns = task.metadata ? `CAST(content AS BLOB), ${meta}` : 'CAST(content AS BLOB)';
  const select = db.prepare(
    `SELECT ${columns} FROM dataset_records WHERE version_id = ? AND split = ?
       AND ordinal > ? AND ordinal <= ? ORDER BY ordinal`,
  );
  select.raw(true);
  stored = { select, versionId, split };
}

/** The records of `after < ordinal <= last`. */
function readRange({ after, last }) {
  const rows = stored.select.all(stored.versionId, stored.split, after, last);
  const contents = new Array(rows.length);
  const metas = task.metadata ? new Array(rows.length) : null;
  for (let r = 0; r < rows.length; r++) {
    contents[r] = rows[r][0];
    if (metas) metas[r] = rows[r][1];
  }
  return { contents, metas };
}

/** Records handed over as strings, in the form the encoders take. */
function fromStrings({ contents, metas }) {
  return {
    contents: bytesOf(contents),
    metas: metas && task.kind !== 'parquet' ? bytesOf(metas) : metas,
  };
}

// --- dispatch -------------------------------------------------------------------------------

const start = Promise.all([
  task.kind === 'parquet' ? parquetStart() : undefined,
  task.stored ? openStored() : undefined,
]);

// Messages are handled one after another, after the encoder is ready.
let queue = start;
port.on('message', (message) => {
  queue = queue.then(() => {
    if (message.footer) return parquetFooter(message.footer);
    const unit = message.range ? readRange(message.range) : fromStrings(message);
    if (task.kind === 'jsonl') jsonlUnit(unit);
    else if (task.kind === 'csv') csvUnit(unit);
    else parquetUnit(unit);
  });
  queue.catch((error) => {
    // Surfaces as the worker's `error` event in the main thread.
    setTimeout(() => {
      throw error;
    });
  });
});
