import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

import { METADATA_FIELDS, type RecordFormat } from '../domain/record-format.js';

export const IMPORT_FILE_TYPES = ['jsonl', 'csv', 'parquet'] as const;
export type ImportFileType = (typeof IMPORT_FILE_TYPES)[number];

/** One parsed record of an upload, or why its line could not be parsed. */
export type ParsedLine =
  | { line: number; value: unknown; error?: undefined }
  | { line: number; value?: undefined; error: { field: string; problem: string } };

export function fileTypeOf(fileName: string): ImportFileType | null {
  const lower = fileName.toLowerCase();
  if (/\.(jsonl|ndjson|json)$/.test(lower)) return 'jsonl';
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.parquet')) return 'parquet';
  return null;
}

/** JSONL: one JSON object per line; blank lines are skipped but counted. */
async function* jsonlLines(path: string): AsyncGenerator<ParsedLine> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    try {
      yield { line, value: JSON.parse(text) as unknown };
    } catch (error) {
      yield { line, error: { field: '', problem: `invalid JSON: ${(error as Error).message}` } };
    }
  }
}

/** Columns whose CSV cell holds JSON (an array) rather than text. */
function jsonColumns(format: RecordFormat): Set<string> {
  return new Set<string>([...(format === 'chat' ? ['messages'] : []), ...METADATA_FIELDS]);
}

/**
 * CSV (RFC 4180) with a header row naming the format's fields. `messages` and the metadata
 * lists are JSON text. The line reported is where the record starts (1 is the header).
 */
async function* csvLines(path: string, format: RecordFormat): AsyncGenerator<ParsedLine> {
  const json = jsonColumns(format);
  // Parsers are loaded when an import needs them, not at every start of the service.
  const { parse: parseCsv } = await import('csv-parse');
  const parser = createReadStream(path).pipe(
    parseCsv({
      columns: true,
      info: true,
      bom: true,
      skip_empty_lines: true,
      record_delimiter: ['\r\n', '\n'],
    }),
  );
  let previousEnd = 1;
  let previousEmpty = 0;
  try {
    for await (const item of parser as AsyncIterable<{
      record: Record<string, string>;
      info: { lines: number; empty_lines: number };
    }>) {
      const line = previousEnd + 1 + (item.info.empty_lines - previousEmpty);
      previousEnd = item.info.lines;
      previousEmpty = item.info.empty_lines;
      const value: Record<string, unknown> = {};
      let error: { field: string; problem: string } | undefined;
      for (const [key, cell] of Object.entries(item.record)) {
        if (json.has(key)) {
          if (cell.trim() === '') {
            value[key] = key === 'messages' ? [] : undefined;
            continue;
          }
          try {
            value[key] = JSON.parse(cell) as unknown;
          } catch {
            error ??= { field: key, problem: 'must be JSON text (an array)' };
          }
        } else {
          value[key] = cell;
        }
      }
      yield error ? { line, error } : { line, value };
    }
  } catch (error) {
    const e = error as { message: string; lines?: number };
    yield {
      line: e.lines ?? previousEnd + 1,
      error: { field: '', problem: `invalid CSV: ${e.message}` },
    };
  }
}

const PARQUET_BATCH = 2000;

/** Parquet: one record per row; the "line" is the 1-based row number. */
async function* parquetRows(path: string): AsyncGenerator<ParsedLine> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } =
    await import('hyparquet');
  const { compressors } = await import('hyparquet-compressors');
  let file;
  let metadata;
  try {
    file = await asyncBufferFromFile(path);
    metadata = await parquetMetadataAsync(file);
  } catch (error) {
    yield {
      line: 0,
      error: { field: '', problem: `not a Parquet file: ${(error as Error).message}` },
    };
    return;
  }
  const total = Number(metadata.num_rows);
  for (let start = 0; start < total; start += PARQUET_BATCH) {
    const rows = await parquetReadObjects({
      file,
      metadata,
      rowStart: start,
      rowEnd: Math.min(total, start + PARQUET_BATCH),
      compressors,
      rowFormat: 'object',
    });
    for (let i = 0; i < rows.length; i++) {
      const value: Record<string, unknown> = {};
      for (const [key, cell] of Object.entries(rows[i])) {
        if (cell !== null && cell !== undefined) value[key] = cell;
      }
      yield { line: start + i + 1, value };
    }
  }
}

export function parseFile(
  path: string,
  type: ImportFileType,
  format: RecordFormat,
): AsyncGenerator<ParsedLine> {
  switch (type) {
    case 'jsonl':
      return jsonlLines(path);
    case 'csv':
      return csvLines(path, format);
    case 'parquet':
      return parquetRows(path);
  }
}
