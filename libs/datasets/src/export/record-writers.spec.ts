import { describe, expect, it } from '@jest/globals';
import { parquetMetadata, parquetReadObjects, readOffsetIndex } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

import { canonicalJson, type RecordFormat } from '../domain/record-format.js';
import type { RecordRow } from '../storage/datasets.repository.js';
import {
  csvChunks,
  parquetChunks,
  type RecordPages,
  runningEncodeWorkers,
} from './record-writers.js';

const TAGS = ['bau', 'brandschutz'];

/** Alpaca records with quotes, commas, line breaks, umlauts, emoji and control characters. */
function alpaca(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    record: {
      instruction: `Frage ${i}: "Was gilt", bitte?`,
      input: `Größe ${i % 7}\r\nÜbergang; Tab\tEnde 🚒 \u0001`.repeat(1 + (i % 3)),
      output: `Antwort ${i}, lang genug. `.repeat(30),
    },
    meta: {
      source_document_ids: [`doc-${i % 5}`],
      source_chunk_ids: [`doc-${i % 5}#${i}`],
      tags: i % 2 ? TAGS : [],
    },
  }));
}

function rowsOf(format: RecordFormat, records: ReturnType<typeof alpaca>): RecordRow[] {
  return records.map(({ record, meta }, ordinal) => ({
    ordinal,
    content: canonicalJson(format, record),
    meta: JSON.stringify(meta),
  }));
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
    expect(one.toString('utf8').split('\r\n')[0]).toBe(
      'instruction,input,output,source_document_ids,source_chunk_ids,tags',
    );
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
      expect(read).toEqual(records.map(({ record, meta }) => ({ ...record, ...meta })));
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
});
