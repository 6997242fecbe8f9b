import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { parquetMetadata, parquetReadObjects, readOffsetIndex } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

import { canonicalJson, type RecordFormat, withMetadata } from '../domain/record-format.js';
import type { RecordRow } from '../storage/datasets.repository.js';
import { storedRecords } from './record-pages.js';
import {
  csvChunks,
  jsonlChunks,
  parquetChunks,
  type RecordPages,
  runningEncodeWorkers,
} from './record-writers.js';

const TAGS = ['bau', 'brandschutz'];

/**
 * Alpaca records with quotes, commas, line breaks, umlauts, emoji, backslashes, control
 * characters and a lone surrogate; some without any character that needs escaping.
 */
function alpaca(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    record: {
      instruction: i % 4 === 0 ? `Frage ${i} ohne Zeichen` : `Frage ${i}: "Was gilt", bitte?`,
      input: `Größe ${i % 7}\r\nÜbergang; C:\\pfad/x Tab\tEnde 🚒 \u0001\b\f`.repeat(1 + (i % 3)),
      output: i % 10 === 3 ? `kaputt \ud800 ${i}` : `Antwort ${i}, lang genug. `.repeat(30),
    },
    meta: {
      source_document_ids: [`doc-${i % 5}`],
      source_chunk_ids: [`doc-${i % 5}#${i}`],
      tags: i % 2 ? TAGS : [],
    },
  }));
}

/** Stored rows; every 7th record not in canonical form (spaces, other key order). */
function rowsOf(format: RecordFormat, records: ReturnType<typeof alpaca>): RecordRow[] {
  return records.map(({ record, meta }, ordinal) => ({
    ordinal,
    content:
      ordinal % 7 === 5
        ? JSON.stringify(
            { output: record.output, instruction: record.instruction, input: record.input },
            null,
            1,
          )
        : canonicalJson(format, record),
    meta: JSON.stringify(meta),
  }));
}

/** How UTF-8 carries a string (a lone surrogate becomes U+FFFD). */
const utf8 = (text: string) => Buffer.from(text, 'utf8').toString('utf8');

/** RFC 4180 the plain way: quoted when holding a quote, comma or line break. */
function csvReference(records: ReturnType<typeof alpaca>): Buffer {
  const field = (text: string) => (/[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);
  const lines = records.map(({ record, meta }) =>
    [
      record.instruction,
      record.input,
      record.output,
      JSON.stringify(meta.source_document_ids),
      JSON.stringify(meta.source_chunk_ids),
      JSON.stringify(meta.tags),
    ]
      .map(field)
      .join(','),
  );
  const header = 'instruction,input,output,source_document_ids,source_chunk_ids,tags';
  return Buffer.from([header, ...lines].join('\r\n') + '\r\n', 'utf8');
}

/** JSONL the plain way: each stored record, metadata spliced in, one a line. */
function jsonlReference(rows: RecordRow[], metadata: boolean): Buffer {
  const lines = rows.map((row) => (metadata ? withMetadata(row.content, row.meta) : row.content));
  return Buffer.from(lines.map((line) => line + '\n').join(''), 'utf8');
}

async function* pagesOf(rows: RecordRow[], pageRows: number): RecordPages {
  for (let i = 0; i < rows.length; i += pageRows) yield rows.slice(i, i + pageRows);
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

/** The bytes as an ArrayBuffer of their own, as hyparquet reads them. */
function arrayBufferOf(bytes: Buffer): ArrayBuffer {
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return copy;
}

const parquet = (rows: RecordRow[], workers: number, rowGroupRows: number) =>
  collect(
    parquetChunks('alpaca', pagesOf(rows, 500), true, {
      rowGroupRows,
      zstdLevel: 3,
      keyValues: { 'clara.split': 'train' },
      workers,
    }),
  );

describe('export writers with several encoder workers', () => {
  const records = alpaca(5_000);
  const rows = rowsOf('alpaca', records);

  it('writes the same CSV bytes with two workers as with one', async () => {
    const one = await collect(csvChunks('alpaca', pagesOf(rows, 500), true, { workers: 1 }));
    const two = await collect(csvChunks('alpaca', pagesOf(rows, 500), true, { workers: 2 }));
    expect(two.equals(one)).toBe(true);
    expect(one.equals(csvReference(records))).toBe(true);
  });

  it.each([700, 3_000])(
    'writes the same Parquet bytes with two workers as with one (row groups of %i)',
    async (rowGroupRows) => {
      const one = await parquet(rows, 1, rowGroupRows);
      const two = await parquet(rows, 2, rowGroupRows);
      expect(two.equals(one)).toBe(true);

      // Every value reads back, and the offsets in the footer point at the right bytes.
      const file = arrayBufferOf(two);
      const metadata = parquetMetadata(file);
      expect(metadata.row_groups.length).toBe(Math.ceil(records.length / rowGroupRows));
      expect(metadata.key_value_metadata).toEqual([{ key: 'clara.split', value: 'train' }]);
      const read = await parquetReadObjects({ file, compressors });
      expect(read).toEqual(
        records.map(({ record, meta }) => ({
          instruction: utf8(record.instruction),
          input: utf8(record.input),
          output: utf8(record.output),
          ...meta,
        })),
      );
      const indexed = metadata.row_groups.flatMap((group) =>
        group.columns.filter((column) => column.offset_index_offset !== undefined),
      );
      // Big row groups split the long columns into several pages, which have page indexes.
      expect(indexed.length > 0).toBe(rowGroupRows === 3_000);
      for (const column of indexed) {
        const start = Number(column.offset_index_offset);
        const index = readOffsetIndex({
          view: new DataView(file, start, column.offset_index_length),
          offset: 0,
        });
        expect(index.page_locations[0].offset).toBe(column.meta_data?.data_page_offset);
      }
    },
  );

  it('writes a valid empty Parquet file', async () => {
    const empty = await parquet([], 2, 1_000);
    const file = arrayBufferOf(empty);
    expect(parquetMetadata(file).num_rows).toBe(0n);
    expect(await parquetReadObjects({ file, compressors })).toEqual([]);
  });

  it.each(['csv', 'parquet'] as const)(
    'stops all %s encoder workers when the consumer stops reading',
    async (format) => {
      const before = runningEncodeWorkers();
      const chunks =
        format === 'csv'
          ? csvChunks('alpaca', pagesOf(rows, 500), true, { workers: 2 })
          : parquetChunks('alpaca', pagesOf(rows, 500), true, {
              rowGroupRows: 500,
              zstdLevel: 3,
              workers: 2,
            });
      await chunks.next(); // header / magic number: the workers run
      await chunks.next(); // the first encoded unit
      expect(runningEncodeWorkers()).toBe(before + 2);
      await chunks.return(undefined);
      expect(runningEncodeWorkers()).toBe(before);
    },
  );

  describe('reading an embedded SQLite file in the workers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'clara-export-spec-'));
    const file = join(dir, 'records.sqlite');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    /** Rows no import writes (not canonical JSON), for the string fallback of the splice. */
    const odd: RecordRow[] = [
      { ordinal: 0, content: '{"text":"a"}', meta: '{"tags":["ü"]}' },
      { ordinal: 1, content: '{"text":"ä"}ö', meta: 'é{"tags":[]}' },
      { ordinal: 2, content: '', meta: '' },
      { ordinal: 3, content: '{}', meta: '{}' },
      { ordinal: 4, content: '🚒', meta: '🚒' },
    ];
    db.exec(`CREATE TABLE dataset_records (version_id varchar(36) NOT NULL, split varchar(16) NOT NULL,
      ordinal integer NOT NULL, content text NOT NULL, meta text NOT NULL, tokens integer NOT NULL,
      PRIMARY KEY (version_id, split, ordinal))`);
    const insert = db.prepare('INSERT INTO dataset_records VALUES (?, ?, ?, ?, ?, 0)');
    db.transaction(() => {
      // Gaps in the ordinals, and another version and split around this one.
      for (const row of rows) insert.run('v1', 'train', row.ordinal * 3, row.content, row.meta);
      for (const row of rows.slice(0, 50)) insert.run('v1', 'validation', row.ordinal, '{}', '{}');
      for (const row of rows.slice(0, 50)) insert.run('v2', 'train', row.ordinal, '{}', '{}');
      for (const row of odd) insert.run('v4', 'train', row.ordinal, row.content, row.meta);
    })();
    const stored = () => storedRecords(db, file, 'v1', 'train');
    afterAll(() => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('writes the same CSV bytes as from records handed over', async () => {
      const fromFile = await collect(csvChunks('alpaca', stored(), true, { workers: 2 }));
      expect(fromFile.equals(csvReference(records))).toBe(true);
    });

    it('writes the same Parquet bytes as from records handed over', async () => {
      const options = { rowGroupRows: 700, zstdLevel: 3, keyValues: { 'clara.split': 'train' } };
      const fromFile = await collect(parquetChunks('alpaca', stored(), true, options));
      expect(fromFile.equals(await parquet(rows, 2, 700))).toBe(true);
    });

    it('writes an empty split', async () => {
      const empty = storedRecords(db, file, 'v3', 'train');
      const csv = await collect(csvChunks('alpaca', empty, true, { workers: 2 }));
      expect(csv.toString('utf8')).toBe(
        'instruction,input,output,source_document_ids,source_chunk_ids,tags\r\n',
      );
    });

    describe.each([true, false])('JSONL (metadata %s)', (metadata) => {
      const mainThread = (records: RecordRow[]) =>
        collect(jsonlChunks(pagesOf(records, 500), metadata));

      it('writes the same bytes in one or two workers as the main thread', async () => {
        const expected = await mainThread(rows);
        expect(expected.equals(jsonlReference(rows, metadata))).toBe(true);
        for (const workers of [1, 2]) {
          const fromFile = await collect(jsonlChunks(stored(), metadata, { workers }));
          expect(fromFile.length).toBe(expected.length);
          expect(fromFile.equals(expected)).toBe(true);
        }
      });

      it('splices records not in canonical form as the main thread does', async () => {
        const fromFile = await collect(
          jsonlChunks(storedRecords(db, file, 'v4', 'train'), metadata, { workers: 2 }),
        );
        const expected = await mainThread(odd);
        expect(fromFile.toString('utf8')).toBe(expected.toString('utf8'));
        expect(fromFile.equals(expected)).toBe(true);
      });

      it('writes nothing for an empty split', async () => {
        const empty = storedRecords(db, file, 'v3', 'train');
        const fromFile = await collect(jsonlChunks(empty, metadata, { workers: 2 }));
        expect(fromFile.length).toBe(0);
        expect((await mainThread([])).length).toBe(0);
      });
    });

    it('stops both JSONL workers when the consumer stops reading', async () => {
      const before = runningEncodeWorkers();
      const chunks = jsonlChunks(stored(), true, { workers: 2 });
      await chunks.next(); // the first encoded unit
      expect(runningEncodeWorkers()).toBe(before + 2);
      await chunks.return(undefined);
      expect(runningEncodeWorkers()).toBe(before);
    });
  });
});
