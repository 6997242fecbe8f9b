import { createHash } from 'node:crypto';

import type { FieldError } from '@clara/common';

import {
  DOCUMENT_ID_PATTERN,
  type DocumentInput,
  type DocumentSource,
  MAX_METADATA_KEYS,
  METADATA_KEY_PATTERN,
  type Metadata,
  RELATION_TYPE_PATTERN,
  type Relation,
} from '../domain/corpus.types.js';
import { STOPWORDS_DE, STOPWORDS_EN, tokenize } from '../embeddings/text-features.js';

export const MAX_TEXT_LENGTH = 5_000_000;
export const MAX_TITLE_LENGTH = 1000;
export const MAX_RELATIONS = 1000;
const LANGUAGE_PATTERN = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/;

/** What to do with a relation whose target is not (yet) in the corpus. */
export const UNKNOWN_TARGET_POLICIES = ['keep', 'drop', 'reject'] as const;
export type UnknownTargetPolicy = (typeof UNKNOWN_TARGET_POLICIES)[number];

export type Parsed = { ok: true; document: DocumentInput } | { ok: false; errors: FieldError[] };

/**
 * Validates one document as a client sent it (JSON batch item, JSONL line, CSV row, or a
 * Markdown/text file already split into fields). `where` prefixes every error field, e.g.
 * `documents.3` or `line 17`.
 */
export function parseDocument(raw: unknown, where: string, source: DocumentSource): Parsed {
  const errors: FieldError[] = [];
  const inWhere = source.kind === 'json' ? 'body' : 'file';
  const bad = (field: string, message: string) =>
    errors.push({ field: field ? `${where}.${field}` : where, message, in: inWhere });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    bad('', 'must be an object with at least `text`');
    return { ok: false, errors };
  }
  const record = raw as Record<string, unknown>;
  const allowed = new Set(['id', 'title', 'text', 'language', 'metadata', 'relations']);
  for (const key of Object.keys(record)) {
    if (!allowed.has(key))
      bad(key, 'unknown field (allowed: id, title, text, language, metadata, relations)');
  }

  const text = typeof record.text === 'string' ? record.text.replace(/\r\n?/g, '\n') : undefined;
  if (text === undefined) bad('text', 'is required and must be a string');
  else if (text.trim() === '') bad('text', 'must not be empty');
  else if (text.length > MAX_TEXT_LENGTH)
    bad('text', `must be at most ${MAX_TEXT_LENGTH} characters`);

  let title = '';
  if (record.title !== undefined && record.title !== null) {
    if (typeof record.title !== 'string') bad('title', 'must be a string');
    else if (record.title.length > MAX_TITLE_LENGTH)
      bad('title', `must be at most ${MAX_TITLE_LENGTH} characters`);
    else title = record.title.trim();
  }

  let id: string | undefined;
  if (record.id !== undefined && record.id !== null) {
    if (typeof record.id !== 'string' || !DOCUMENT_ID_PATTERN.test(record.id)) {
      bad(
        'id',
        'must be 1-128 characters: letters, digits, . _ : - (starting with a letter or digit)',
      );
    } else id = record.id;
  }

  let language: string | undefined;
  if (record.language !== undefined && record.language !== null) {
    if (typeof record.language !== 'string' || !LANGUAGE_PATTERN.test(record.language)) {
      bad('language', 'must be a language code such as de or en');
    } else language = record.language.toLowerCase().slice(0, 2);
  }

  const metadata = parseMetadata(record.metadata, bad);
  const relations = parseRelations(record.relations, bad);

  if (errors.length > 0 || text === undefined) return { ok: false, errors };
  const finalTitle = title || firstLine(text);
  return {
    ok: true,
    document: {
      id: id ?? `doc-${sha256(`${finalTitle}\n${text}`).slice(0, 24)}`,
      title: finalTitle,
      text,
      language: language ?? detectLanguage(`${finalTitle} ${text}`),
      metadata,
      relations,
      source,
    },
  };
}

function parseMetadata(raw: unknown, bad: (field: string, message: string) => void): Metadata {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    bad('metadata', 'must be an object of scalar values');
    return {};
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > MAX_METADATA_KEYS) bad('metadata', `at most ${MAX_METADATA_KEYS} keys`);
  const out: Metadata = {};
  for (const [key, value] of entries) {
    if (!METADATA_KEY_PATTERN.test(key)) {
      bad(
        `metadata.${key}`,
        'keys are letters, digits and _ (at most 64, not starting with a digit)',
      );
    } else if (value === null) {
      continue;
    } else if (typeof value === 'string') {
      if (value.length > 1000) bad(`metadata.${key}`, 'at most 1000 characters');
      else out[key] = value;
    } else if (
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value))
    ) {
      out[key] = value;
    } else {
      bad(
        `metadata.${key}`,
        'must be a string, number or boolean (metadata is flat so every store can filter it)',
      );
    }
  }
  return out;
}

function parseRelations(raw: unknown, bad: (field: string, message: string) => void): Relation[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    bad('relations', 'must be a list of {type, target}');
    return [];
  }
  if (raw.length > MAX_RELATIONS) bad('relations', `at most ${MAX_RELATIONS} relations`);
  const out: Relation[] = [];
  raw.forEach((item, i) => {
    const relation = item as Partial<Record<string, unknown>> | null;
    const type = relation?.type;
    const target = relation?.target;
    if (typeof type !== 'string' || !RELATION_TYPE_PATTERN.test(type)) {
      bad(`relations.${i}.type`, 'must be lower-case letters, digits and _ (e.g. cites, amends)');
    } else if (typeof target !== 'string' || !DOCUMENT_ID_PATTERN.test(target)) {
      bad(`relations.${i}.target`, 'must be a document id');
    } else if (Object.keys(relation!).some((k) => k !== 'type' && k !== 'target')) {
      bad(`relations.${i}`, 'only type and target are allowed');
    } else {
      out.push({ type, target });
    }
  });
  return out;
}

function firstLine(text: string): string {
  const line = text
    .trim()
    .split('\n', 1)[0]
    .replace(/^#+\s*/, '')
    .trim();
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

/** `de` or `en` by stopword counts; anything else is `und` (undetermined → `simple`). */
export function detectLanguage(text: string): string {
  let de = 0;
  let en = 0;
  for (const token of tokenize(text.slice(0, 5000))) {
    if (STOPWORDS_DE.has(token)) de++;
    if (STOPWORDS_EN.has(token)) en++;
  }
  if (de === 0 && en === 0) return 'und';
  return de >= en ? 'de' : 'en';
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Changes when anything that reaches a store changes. */
export function contentHash(document: DocumentInput): string {
  const { id, title, text, language, metadata, relations } = document;
  return sha256(JSON.stringify({ id, title, text, language, metadata, relations }));
}
