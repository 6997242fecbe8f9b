import { Template } from '@huggingface/jinja';
import { type FieldError, ValidationError } from '@clara/common';

import {
  CHAT_ROLES,
  type ChatRole,
  FORMAT_FIELDS,
  type RecordFormat,
} from '../domain/record-format.js';

/** What a record is made from: one chunk, or all selected chunks of a document. */
export type BuildUnit = 'chunk' | 'document';

export interface RecordContext {
  chunk: { id: string; text: string; ordinal: number };
  document: { id: string; title: string; language: string; metadata: Record<string, unknown> };
}

/** Renders a record's fields (chat: its messages) from a context; null when a value is missing. */
export type RecordRenderer = (context: RecordContext) => Record<string, unknown> | null;

const SOURCE = /^(text|title|document_id|metadata\.[A-Za-z_][A-Za-z0-9_]{0,63})$/;

function compile(source: string, field: string, errors: FieldError[]): Template | null {
  try {
    return new Template(source);
  } catch (error) {
    errors.push({
      field,
      message: `not a valid Jinja template: ${(error as Error).message}`,
      in: 'body',
    });
    return null;
  }
}

function render(template: Template, context: RecordContext): string {
  return template
    .render({
      ...context,
      text: context.chunk.text,
      title: context.document.title,
      metadata: context.document.metadata,
    })
    .trim();
}

/**
 * A template is the record's shape with a Jinja template for every text: chat
 * `{"messages": [{"role": "user", "content": "…"}, …]}`, the flat formats `{"<field>": "…"}`.
 * Templates see `chunk` (id, text, ordinal), `document` (id, title, language, metadata)
 * and the shortcuts `text`, `title`, `metadata`.
 */
export function templateRenderer(
  format: RecordFormat,
  template: Record<string, unknown>,
): RecordRenderer {
  const errors: FieldError[] = [];
  if (format === 'chat') {
    const messages = template.messages;
    if (!Array.isArray(messages) || messages.length === 0) {
      throw new ValidationError([
        {
          field: 'template.messages',
          message: 'must be a non-empty array of {role, content}',
          in: 'body',
        },
      ]);
    }
    const compiled = messages.map((m: unknown, i) => {
      const at = `template.messages[${i}]`;
      const message = (typeof m === 'object' && m !== null ? m : {}) as Record<string, unknown>;
      if (!(CHAT_ROLES as readonly unknown[]).includes(message.role)) {
        errors.push({
          field: `${at}.role`,
          message: `must be one of ${CHAT_ROLES.join(', ')}`,
          in: 'body',
        });
      }
      if (typeof message.content !== 'string') {
        errors.push({ field: `${at}.content`, message: 'must be a template string', in: 'body' });
        return null;
      }
      return {
        role: message.role as ChatRole,
        content: compile(message.content, `${at}.content`, errors),
      };
    });
    if (errors.length > 0) throw new ValidationError(errors);
    return (context) => ({
      messages: compiled.map((m) => ({ role: m!.role, content: render(m!.content!, context) })),
    });
  }
  const fields = FORMAT_FIELDS[format];
  for (const key of Object.keys(template)) {
    if (!fields.includes(key)) {
      errors.push({
        field: `template.${key}`,
        message: `not a field of the ${format} format`,
        in: 'body',
      });
    }
  }
  const compiled = new Map<string, Template>();
  for (const field of fields) {
    const source = template[field];
    if (source === undefined && format === 'alpaca' && field === 'input') continue;
    if (typeof source !== 'string') {
      errors.push({ field: `template.${field}`, message: 'must be a template string', in: 'body' });
      continue;
    }
    const t = compile(source, `template.${field}`, errors);
    if (t) compiled.set(field, t);
  }
  if (errors.length > 0) throw new ValidationError(errors);
  return (context) =>
    Object.fromEntries([...compiled].map(([field, t]) => [field, render(t, context)]));
}

function pick(source: string, context: RecordContext): string | null {
  if (source === 'text') return context.chunk.text;
  if (source === 'title') return context.document.title;
  if (source === 'document_id') return context.document.id;
  const value = context.document.metadata[source.slice('metadata.'.length)];
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * A column mapping names, per record field, where its value comes from: `text` (the chunk
 * or document text), `title`, `document_id` or `metadata.<key>`. Chat mappings name the
 * `system` (optional), `user` and `assistant` messages. A document that lacks a mapped
 * metadata value gives no record (counted as skipped).
 */
export function mappingRenderer(
  format: RecordFormat,
  mapping: Record<string, unknown>,
): RecordRenderer {
  const errors: FieldError[] = [];
  const allowed = format === 'chat' ? ['system', 'user', 'assistant'] : [...FORMAT_FIELDS[format]];
  const required = format === 'chat' ? ['user', 'assistant'] : allowed.filter((f) => f !== 'input');
  for (const [key, value] of Object.entries(mapping)) {
    if (!allowed.includes(key)) {
      errors.push({
        field: `mapping.${key}`,
        message: `must be one of ${allowed.join(', ')}`,
        in: 'body',
      });
    } else if (typeof value !== 'string' || !SOURCE.test(value)) {
      errors.push({
        field: `mapping.${key}`,
        message: 'must be text, title, document_id or metadata.<key>',
        in: 'body',
      });
    }
  }
  for (const key of required) {
    if (mapping[key] === undefined)
      errors.push({ field: `mapping.${key}`, message: 'is required', in: 'body' });
  }
  if (errors.length > 0) throw new ValidationError(errors);
  const entries = allowed
    .filter((key) => typeof mapping[key] === 'string')
    .map((key) => [key, mapping[key] as string] as const);
  return (context) => {
    const values: Record<string, string> = {};
    for (const [key, source] of entries) {
      const value = pick(source, context);
      if (value === null) return null;
      values[key] = value;
    }
    if (format !== 'chat') return values;
    return {
      messages: (['system', 'user', 'assistant'] as const)
        .filter((role) => values[role] !== undefined)
        .map((role) => ({ role, content: values[role] })),
    };
  };
}

/** Whether a mapping reads chunk text (then each chunk is a record by default). */
export function mappingUsesText(mapping: Record<string, unknown>): boolean {
  return Object.values(mapping).includes('text');
}
