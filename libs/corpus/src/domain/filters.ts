import { type FieldError, ValidationError } from '@clara/common';

import { METADATA_KEY_PATTERN, type Metadata, type MetadataValue } from './corpus.types.js';

/**
 * Metadata filters, the same in every store: equality, set membership and ranges. Range
 * bounds are numbers or ISO-8601 dates (`2024-01-31`, `2024-01-31T12:00:00Z`); a date
 * range compares ISO strings, which order like the instants they name.
 */
export type FilterCondition =
  | { key: string; kind: 'eq'; value: MetadataValue }
  | { key: string; kind: 'in'; values: MetadataValue[] }
  | { key: string; kind: 'range'; type: 'number' | 'date'; bounds: RangeBounds };

export interface RangeBounds {
  gt?: number | string;
  gte?: number | string;
  lt?: number | string;
  lte?: number | string;
}

export type MetadataFilter = FilterCondition[];

const RANGE_OPS = ['gt', 'gte', 'lt', 'lte'] as const;
export type RangeOp = (typeof RANGE_OPS)[number];
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/;
const MAX_IN_VALUES = 200;

function isScalar(value: unknown): value is MetadataValue {
  return (
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

export function isIsoDate(value: unknown): value is string {
  return typeof value === 'string' && ISO_DATE.test(value) && !Number.isNaN(Date.parse(value));
}

/**
 * Parses the wire form `{ key: value | { eq } | { in: [...] } | { gte, lt, … } }`, naming
 * every bad entry under `field` (e.g. `filters.year`).
 */
export function parseFilter(raw: unknown, field = 'filters'): MetadataFilter {
  if (raw === undefined || raw === null) return [];
  const errors: FieldError[] = [];
  const bad = (key: string, message: string) =>
    errors.push({ field: key ? `${field}.${key}` : field, message, in: 'body' });
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    bad('', 'must be an object of metadata conditions');
    throw new ValidationError(errors);
  }
  const out: MetadataFilter = [];
  for (const [key, spec] of Object.entries(raw as Record<string, unknown>)) {
    if (!METADATA_KEY_PATTERN.test(key)) {
      bad(key, 'metadata keys are letters, digits and _ (at most 64)');
      continue;
    }
    if (isScalar(spec)) {
      out.push({ key, kind: 'eq', value: spec });
      continue;
    }
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
      bad(key, 'must be a value, {"eq": v}, {"in": [...]} or a range {"gte": …, "lt": …}');
      continue;
    }
    const ops = Object.keys(spec);
    const record = spec as Record<string, unknown>;
    if (ops.length === 1 && ops[0] === 'eq') {
      if (isScalar(record.eq)) out.push({ key, kind: 'eq', value: record.eq });
      else bad(key, 'eq takes a string, number or boolean');
      continue;
    }
    if (ops.length === 1 && ops[0] === 'in') {
      const values = record.in;
      if (
        Array.isArray(values) &&
        values.length > 0 &&
        values.length <= MAX_IN_VALUES &&
        values.every(isScalar)
      ) {
        out.push({ key, kind: 'in', values });
      } else {
        bad(key, `in takes 1 to ${MAX_IN_VALUES} strings, numbers or booleans`);
      }
      continue;
    }
    if (ops.length === 0 || !ops.every((op) => (RANGE_OPS as readonly string[]).includes(op))) {
      bad(key, `unknown operator; use eq, in, or gt/gte/lt/lte`);
      continue;
    }
    const bounds = record as RangeBounds;
    const values = ops.map((op) => record[op]);
    if (values.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      out.push({ key, kind: 'range', type: 'number', bounds: { ...bounds } });
    } else if (values.every(isIsoDate)) {
      out.push({ key, kind: 'range', type: 'date', bounds: { ...bounds } });
    } else {
      bad(key, 'range bounds must all be numbers or all ISO-8601 dates');
    }
  }
  if (errors.length > 0) throw new ValidationError(errors, 'The filters are invalid');
  return out;
}

export function rangeEntries(bounds: RangeBounds): [RangeOp, number | string][] {
  return RANGE_OPS.filter((op) => bounds[op] !== undefined).map((op) => [op, bounds[op]!]);
}

export const RANGE_SQL: Record<RangeOp, string> = { gt: '>', gte: '>=', lt: '<', lte: '<=' };

function compare(op: RangeOp, left: number | string, right: number | string): boolean {
  switch (op) {
    case 'gt':
      return left > right;
    case 'gte':
      return left >= right;
    case 'lt':
      return left < right;
    case 'lte':
      return left <= right;
  }
}

/** The reference semantics every store's filter must agree with (the contract tests use it). */
export function matchesFilter(metadata: Metadata, filter: MetadataFilter): boolean {
  return filter.every((condition) => {
    const value = metadata[condition.key];
    if (value === undefined) return false;
    switch (condition.kind) {
      case 'eq':
        return value === condition.value;
      case 'in':
        return condition.values.includes(value);
      case 'range':
        if (typeof value === 'boolean') return false;
        if (condition.type === 'number' ? typeof value !== 'number' : !isIsoDate(value)) {
          return false;
        }
        return rangeEntries(condition.bounds).every(([op, bound]) => compare(op, value, bound));
    }
  });
}
