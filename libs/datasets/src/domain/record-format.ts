/**
 * The four record formats trainers read (Clara's trainer and most fine-tuning tools), their
 * validation rules (the same as `apps/trainer/clara_trainer/data.py`) and their canonical
 * JSON form: the format's fields only, in a fixed key order, so equal records are equal
 * bytes and a version's checksum is stable.
 */
export const RECORD_FORMATS = ['chat', 'alpaca', 'completion', 'text'] as const;
export type RecordFormat = (typeof RECORD_FORMATS)[number];

export const CHAT_ROLES = ['system', 'user', 'assistant'] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export type TrainingRecord =
  | { messages: ChatMessage[] }
  | { instruction: string; input: string; output: string }
  | { prompt: string; completion: string }
  | { text: string };

/** The string fields of each flat format, in canonical order (chat has `messages`). */
export const FORMAT_FIELDS: Record<RecordFormat, readonly string[]> = {
  chat: ['messages'],
  alpaca: ['instruction', 'input', 'output'],
  completion: ['prompt', 'completion'],
  text: ['text'],
};

/** Per-record metadata that travels with a record (stripped for tools that reject extra fields). */
export const METADATA_FIELDS = ['source_document_ids', 'source_chunk_ids', 'tags'] as const;
export type MetadataField = (typeof METADATA_FIELDS)[number];
export type RecordMetadata = Record<MetadataField, string[]>;

export const SPLITS = ['train', 'validation'] as const;
export type Split = (typeof SPLITS)[number];

export interface RecordProblem {
  /** Dotted path inside the record, e.g. `messages[1].content`; `''` for the record itself. */
  field: string;
  problem: string;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

class Checker {
  readonly problems: RecordProblem[] = [];

  string(obj: Record<string, unknown>, key: string, path: string, allowEmpty = false): string {
    if (!(key in obj) || obj[key] === undefined) {
      this.problems.push({ field: path, problem: 'missing' });
      return '';
    }
    const value = obj[key];
    if (typeof value !== 'string') {
      this.problems.push({ field: path, problem: `must be a string, got ${describe(value)}` });
      return '';
    }
    if (!allowEmpty && value.trim() === '')
      this.problems.push({ field: path, problem: 'is empty' });
    return value;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface CheckedRecord {
  record: TrainingRecord | null;
  metadata: RecordMetadata;
  split: Split | null;
  problems: RecordProblem[];
}

/**
 * Validates one parsed record of a format. Besides the format's fields a record may carry
 * `source_document_ids`, `source_chunk_ids`, `tags` (arrays of strings) and `split`
 * (`train` | `validation`); any other field is a problem, so a file in the wrong format
 * is refused rather than silently reduced.
 */
export function checkRecord(format: RecordFormat, value: unknown): CheckedRecord {
  const metadata: RecordMetadata = { source_document_ids: [], source_chunk_ids: [], tags: [] };
  if (!isObject(value)) {
    return {
      record: null,
      metadata,
      split: null,
      problems: [{ field: '', problem: `a record must be an object, got ${describe(value)}` }],
    };
  }
  const check = new Checker();
  const allowed = new Set<string>([...FORMAT_FIELDS[format], ...METADATA_FIELDS, 'split']);
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) {
      check.problems.push({
        field: key,
        problem: `unknown field for the ${format} format (expected ${FORMAT_FIELDS[format].join(', ')})`,
      });
    }
  }
  let record: TrainingRecord | null = null;
  switch (format) {
    case 'chat': {
      const raw = value.messages;
      if (raw === undefined) check.problems.push({ field: 'messages', problem: 'missing' });
      else if (!Array.isArray(raw)) {
        check.problems.push({
          field: 'messages',
          problem: `must be an array, got ${describe(raw)}`,
        });
      } else if (raw.length === 0) {
        check.problems.push({ field: 'messages', problem: 'is empty' });
      } else {
        const messages: ChatMessage[] = [];
        raw.forEach((m: unknown, i) => {
          const at = `messages[${i}]`;
          if (!isObject(m)) {
            check.problems.push({ field: at, problem: `must be an object, got ${describe(m)}` });
            return;
          }
          for (const key of Object.keys(m)) {
            if (key !== 'role' && key !== 'content') {
              check.problems.push({ field: `${at}.${key}`, problem: 'unknown field' });
            }
          }
          const role = check.string(m, 'role', `${at}.role`);
          if (role !== '' && !(CHAT_ROLES as readonly string[]).includes(role)) {
            check.problems.push({
              field: `${at}.role`,
              problem: `must be one of ${CHAT_ROLES.join(', ')}, got '${role.slice(0, 40)}'`,
            });
          }
          messages.push({
            role: role as ChatRole,
            content: check.string(m, 'content', `${at}.content`),
          });
        });
        if (messages.length === raw.length && !messages.some((m) => m.role === 'assistant')) {
          check.problems.push({
            field: 'messages',
            problem: 'no assistant message: nothing to train on',
          });
        }
        record = { messages };
      }
      break;
    }
    case 'alpaca': {
      const instruction = check.string(value, 'instruction', 'instruction');
      const input = value.input === undefined ? '' : check.string(value, 'input', 'input', true);
      const output = check.string(value, 'output', 'output');
      record = { instruction, input, output };
      break;
    }
    case 'completion':
      record = {
        prompt: check.string(value, 'prompt', 'prompt'),
        completion: check.string(value, 'completion', 'completion'),
      };
      break;
    case 'text':
      record = { text: check.string(value, 'text', 'text') };
      break;
  }
  for (const field of METADATA_FIELDS) {
    const raw = value[field];
    if (raw === undefined || raw === null) continue;
    if (!Array.isArray(raw) || raw.some((v) => typeof v !== 'string')) {
      check.problems.push({ field, problem: 'must be an array of strings' });
    } else {
      metadata[field] = raw as string[];
    }
  }
  let split: Split | null = null;
  if (value.split !== undefined && value.split !== null && value.split !== '') {
    if (value.split === 'train' || value.split === 'validation') split = value.split;
    else check.problems.push({ field: 'split', problem: "must be 'train' or 'validation'" });
  }
  return {
    record: check.problems.length === 0 ? record : null,
    metadata,
    split,
    problems: check.problems,
  };
}

/** The canonical JSON text of a (valid) record: format fields only, fixed key order. */
export function canonicalJson(format: RecordFormat, record: TrainingRecord): string {
  return JSON.stringify(canonicalRecord(format, record));
}

export function canonicalRecord(format: RecordFormat, record: TrainingRecord): TrainingRecord {
  const r = record as Record<string, unknown>;
  switch (format) {
    case 'chat':
      return {
        messages: (r.messages as ChatMessage[]).map((m) => ({ role: m.role, content: m.content })),
      };
    case 'alpaca':
      return {
        instruction: r.instruction as string,
        input: (r.input as string | undefined) ?? '',
        output: r.output as string,
      };
    case 'completion':
      return { prompt: r.prompt as string, completion: r.completion as string };
    case 'text':
      return { text: r.text as string };
  }
}

/** All of a record's text, in field order, for token counting and duplicate detection. */
export function recordText(format: RecordFormat, record: TrainingRecord): string {
  const r = record as Record<string, unknown>;
  if (format === 'chat') return (r.messages as ChatMessage[]).map((m) => m.content).join('\n');
  return FORMAT_FIELDS[format].map((f) => r[f] as string).join('\n');
}

/** Canonical metadata JSON (fixed key order). */
export function metadataJson(metadata: RecordMetadata): string {
  return JSON.stringify({
    source_document_ids: metadata.source_document_ids,
    source_chunk_ids: metadata.source_chunk_ids,
    tags: metadata.tags,
  });
}

/**
 * A stored record with its metadata appended, without re-serialising: both are canonical
 * JSON objects, so `{…content}` + `,` + `…meta}` is the merged object.
 */
export function withMetadata(content: string, meta: string): string {
  return `${content.slice(0, -1)},${meta.slice(1)}`;
}
