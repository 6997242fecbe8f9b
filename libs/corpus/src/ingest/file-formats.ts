import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { createInterface } from 'node:readline';

import { parse as parseYaml } from 'yaml';

import type { DocumentSource } from '../domain/corpus.types.js';

export const UPLOAD_FORMATS = ['jsonl', 'csv', 'markdown', 'text'] as const;
export type UploadFormat = (typeof UPLOAD_FORMATS)[number];

/** One record read from a file: a raw document to validate, or why the record is unreadable. */
export type FileRecord =
  | { line: number; raw: unknown; error?: undefined }
  | { line: number; raw?: undefined; error: string };

const EXTENSIONS: Record<string, UploadFormat> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.csv': 'csv',
  '.md': 'markdown',
  '.markdown': 'markdown',
  '.txt': 'text',
  '.text': 'text',
};

export function formatOf(filename: string, mimetype?: string): UploadFormat | undefined {
  const byExtension = EXTENSIONS[extname(filename).toLowerCase()];
  if (byExtension) return byExtension;
  if (mimetype === 'application/x-ndjson' || mimetype === 'application/jsonl') return 'jsonl';
  if (mimetype === 'text/csv') return 'csv';
  if (mimetype === 'text/markdown') return 'markdown';
  if (mimetype === 'text/plain') return 'text';
  return undefined;
}

export function sourceKind(format: UploadFormat): DocumentSource['kind'] {
  return format;
}

/** Largest Markdown or text file taken as one document. */
export const MAX_SINGLE_DOCUMENT_BYTES = 20 * 1024 * 1024;

/**
 * Reads a stored upload record by record without loading it whole (JSONL and CSV):
 * JSONL is one JSON object per line; CSV (RFC 4180, header row) maps the columns id,
 * title, text, language, relations (`type:target;…` or JSON) and metadata (a JSON object)
 * to fields, and every other column to a metadata value. Markdown and text are one
 * document per file (Markdown may start with YAML front matter).
 */
export async function* readRecords(
  path: string,
  format: UploadFormat,
  filename: string,
  defaults: { id?: string; language?: string; metadata?: Record<string, unknown> } = {},
): AsyncGenerator<FileRecord> {
  switch (format) {
    case 'jsonl':
      yield* readJsonl(path);
      return;
    case 'csv':
      yield* readCsv(path);
      return;
    case 'markdown':
    case 'text': {
      const content = (await readFile(path, 'utf8')).replace(/^\uFEFF/, '');
      yield format === 'markdown'
        ? markdownRecord(content, filename, defaults)
        : textRecord(content, filename, defaults);
      return;
    }
  }
}

async function* readJsonl(path: string): AsyncGenerator<FileRecord> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    const trimmed = (line === 1 ? text.replace(/^\uFEFF/, '') : text).trim();
    if (trimmed === '') continue;
    try {
      yield { line, raw: JSON.parse(trimmed) as unknown };
    } catch (error) {
      yield { line, error: `not valid JSON: ${(error as Error).message}` };
    }
  }
}

const CSV_FIELDS = new Set(['id', 'title', 'text', 'language']);

async function* readCsv(path: string): AsyncGenerator<FileRecord> {
  let header: string[] | undefined;
  for await (const { line, fields, error } of csvRows(path)) {
    if (error) {
      yield { line, error };
      return;
    }
    if (!header) {
      header = fields.map((f, i) => (i === 0 ? f.replace(/^\uFEFF/, '') : f).trim());
      if (!header.includes('text')) {
        yield { line, error: 'the header row has no `text` column' };
        return;
      }
      continue;
    }
    if (fields.length === 1 && fields[0] === '') continue;
    if (fields.length !== header.length) {
      yield { line, error: `has ${fields.length} fields; the header has ${header.length}` };
      continue;
    }
    const raw: Record<string, unknown> = {};
    const metadata: Record<string, unknown> = {};
    let problem: string | undefined;
    header.forEach((column, i) => {
      const value = fields[i];
      if (CSV_FIELDS.has(column)) {
        if (value !== '') raw[column] = value;
      } else if (column === 'relations') {
        if (value !== '') raw.relations = parseRelationsCell(value);
      } else if (column === 'metadata') {
        if (value === '') return;
        try {
          Object.assign(metadata, JSON.parse(value) as Record<string, unknown>);
        } catch {
          problem = 'the metadata column is not a JSON object';
        }
      } else if (value !== '') {
        metadata[column] = inferScalar(value);
      }
    });
    if (problem) yield { line, error: problem };
    else yield { line, raw: { ...raw, metadata } };
  }
}

/** `cites:doc-1;amends:doc-2`, or a JSON list of {type, target}. */
function parseRelationsCell(value: string): unknown {
  const trimmed = value.trim();
  if (trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed) as unknown;
    } catch {
      return trimmed;
    }
  }
  return trimmed
    .split(/[;|]/)
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const at = part.indexOf(':');
      return at < 0
        ? { type: '', target: part }
        : { type: part.slice(0, at).trim(), target: part.slice(at + 1).trim() };
    });
}

function inferScalar(value: string): string | number | boolean {
  if (/^-?\d+(\.\d+)?$/.test(value) && value.length < 16) return Number(value);
  if (value === 'true' || value === 'false') return value === 'true';
  return value;
}

interface CsvRow {
  /** Line where the record starts (1-based). */
  line: number;
  fields: string[];
  error?: string;
}

/** RFC 4180 records from a stream: quoted fields, doubled quotes, newlines inside quotes. */
async function* csvRows(path: string): AsyncGenerator<CsvRow> {
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let afterQuote = false;
  let line = 1;
  let recordLine = 1;
  let pendingCr = false;
  for await (const chunk of createReadStream(path, {
    encoding: 'utf8',
    highWaterMark: 256 * 1024,
  })) {
    const text = chunk as string;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (pendingCr) {
        pendingCr = false;
        if (c === '\n') continue;
      }
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i++;
          } else if (i + 1 === text.length) {
            // A quote at the end of a chunk: decide with the next chunk.
            quoted = false;
            afterQuote = true;
          } else {
            quoted = false;
            afterQuote = true;
          }
        } else {
          if (c === '\n') line++;
          field += c;
        }
        continue;
      }
      if (afterQuote && c === '"') {
        // The doubled quote was split across chunks.
        field += '"';
        quoted = true;
        afterQuote = false;
        continue;
      }
      if (c === ',') {
        fields.push(field);
        field = '';
        afterQuote = false;
      } else if (c === '\n' || c === '\r') {
        fields.push(field);
        yield { line: recordLine, fields };
        fields = [];
        field = '';
        afterQuote = false;
        line++;
        recordLine = line;
        pendingCr = c === '\r';
      } else if (c === '"' && field === '' && !afterQuote) {
        quoted = true;
      } else if (afterQuote) {
        yield { line, fields: [], error: `unexpected character after a closing quote` };
        return;
      } else {
        field += c;
      }
    }
  }
  if (quoted) {
    yield { line: recordLine, fields: [], error: 'a quoted field is not closed' };
    return;
  }
  if (field !== '' || fields.length > 0) {
    fields.push(field);
    yield { line: recordLine, fields };
  }
}

function slugOf(filename: string): string {
  const stem = basename(filename, extname(filename));
  return (
    stem
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .replace(/[^A-Za-z0-9._:-]+/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 128) || 'document'
  );
}

function markdownRecord(
  content: string,
  filename: string,
  defaults: { id?: string; language?: string; metadata?: Record<string, unknown> },
): FileRecord {
  let body = content;
  let front: Record<string, unknown> = {};
  const match = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(content);
  if (match) {
    try {
      const parsed = parseYaml(match[1]) as unknown;
      if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) {
        return { line: 1, error: 'the front matter must be a YAML mapping' };
      }
      front = (parsed ?? {}) as Record<string, unknown>;
    } catch (error) {
      return { line: 1, error: `the front matter is not valid YAML: ${(error as Error).message}` };
    }
    body = content.slice(match[0].length);
  }
  const heading = /^#\s+(.+)$/m.exec(body)?.[1]?.trim();
  const { id, title, language, metadata, relations, ...rest } = front;
  return {
    line: 1,
    raw: {
      id: id ?? defaults.id ?? slugOf(filename),
      title: title ?? heading ?? basename(filename),
      text: body,
      language: language ?? defaults.language,
      metadata: { ...defaults.metadata, ...(metadata as object), ...scalarsOf(rest) },
      relations,
    },
  };
}

function scalarsOf(values: Record<string, unknown>): Record<string, unknown> {
  // Extra front-matter keys are metadata; dates YAML parsed into Date objects become ISO text.
  return Object.fromEntries(
    Object.entries(values).map(([k, v]) => [
      k,
      v instanceof Date ? v.toISOString().slice(0, 10) : v,
    ]),
  );
}

function textRecord(
  content: string,
  filename: string,
  defaults: { id?: string; language?: string; metadata?: Record<string, unknown> },
): FileRecord {
  return {
    line: 1,
    raw: {
      id: defaults.id ?? slugOf(filename),
      title: basename(filename),
      text: content,
      language: defaults.language,
      metadata: defaults.metadata,
    },
  };
}
