import type { DataSource, EntityManager } from 'typeorm';

import {
  type FilterCondition,
  type MetadataFilter,
  RANGE_SQL,
  rangeEntries,
} from '../../domain/filters.js';
import type { Metadata, MetadataValue } from '../../domain/corpus.types.js';

export type SqlDialect = 'sqlite' | 'postgres';

export function dialectOf(dataSource: DataSource): SqlDialect {
  return dataSource.options.type === 'postgres' ? 'postgres' : 'sqlite';
}

/**
 * Collects parameters for one raw statement and writes the placeholder each engine wants
 * (`?` for SQLite, `$n` for PostgreSQL). Values only ever travel as parameters.
 */
export class SqlParams {
  readonly values: unknown[] = [];
  constructor(readonly dialect: SqlDialect) {}

  add(value: unknown): string {
    this.values.push(this.dialect === 'sqlite' && typeof value === 'boolean' ? +value : value);
    return this.dialect === 'sqlite' ? '?' : `$${this.values.length}`;
  }

  /** A JSON document parameter: `jsonb` on PostgreSQL, text on SQLite. */
  json(value: unknown): string {
    const placeholder = this.add(JSON.stringify(value));
    return this.dialect === 'postgres' ? `${placeholder}::jsonb` : placeholder;
  }

  /** `(p1, p2, …)` for an IN list; callers never pass an empty list. */
  list(values: readonly unknown[]): string {
    return `(${values.map((v) => this.add(v)).join(', ')})`;
  }
}

const DATE_GLOB = '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*';

/**
 * Compiles metadata conditions against a JSON column (`column` is a trusted SQL
 * expression, e.g. `d.metadata`); every key and value is a parameter.
 */
export function filterSql(filter: MetadataFilter, column: string, params: SqlParams): string {
  if (filter.length === 0) return '1=1';
  return filter.map((c) => `(${conditionSql(c, column, params)})`).join(' AND ');
}

function conditionSql(condition: FilterCondition, column: string, p: SqlParams): string {
  switch (condition.kind) {
    case 'eq':
      return equalsSql(condition.key, condition.value, column, p);
    case 'in':
      return condition.values.map((v) => equalsSql(condition.key, v, column, p)).join(' OR ');
    case 'range': {
      const entries = rangeEntries(condition.bounds);
      if (p.dialect === 'sqlite') {
        // Positional `?` parameters: each use of the key path is its own parameter.
        const path = () => p.add(`$.${condition.key}`);
        const value = () => `json_extract(${column}, ${path()})`;
        const guard =
          condition.type === 'number'
            ? `json_type(${column}, ${path()}) IN ('integer', 'real')`
            : `json_type(${column}, ${path()}) = 'text' AND ${value()} GLOB '${DATE_GLOB}'`;
        return [guard, ...entries.map(([op, b]) => `${value()} ${RANGE_SQL[op]} ${p.add(b)}`)].join(
          ' AND ',
        );
      }
      const key = p.add(condition.key);
      const value =
        condition.type === 'number'
          ? `(CASE WHEN jsonb_typeof(${column} -> ${key}) = 'number' THEN (${column} ->> ${key})::numeric END)`
          : `(CASE WHEN jsonb_typeof(${column} -> ${key}) = 'string' AND (${column} ->> ${key}) ~ '^\\d{4}-\\d{2}-\\d{2}' THEN (${column} ->> ${key}) END) COLLATE "C"`;
      const cast = condition.type === 'number' ? '::numeric' : '::text';
      return entries.map(([op, b]) => `${value} ${RANGE_SQL[op]} ${p.add(b)}${cast}`).join(' AND ');
    }
  }
}

function equalsSql(key: string, value: MetadataValue, column: string, p: SqlParams): string {
  if (p.dialect === 'postgres') return `${column} -> ${p.add(key)} = ${p.json(value)}`;
  const path = p.add(`$.${key}`);
  if (typeof value === 'boolean') return `json_type(${column}, ${path}) = '${value}'`;
  const type = typeof value === 'number' ? `IN ('integer', 'real')` : `= 'text'`;
  return `json_type(${column}, ${path}) ${type} AND json_extract(${column}, ${p.add(`$.${key}`)}) = ${p.add(value)}`;
}

/** Reads a JSON column: PostgreSQL's driver parses `jsonb`, SQLite returns text. */
export function readJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export function readMetadata(value: unknown): Metadata {
  return readJson<Metadata>(value) ?? {};
}

const serialQueues = new WeakMap<DataSource, Promise<unknown>>();

/**
 * The app's database as the corpus adapters use it. On SQLite there is one connection per
 * process, so a transaction left open across an `await` would swallow statements that
 * other requests issue meanwhile (and two transactions would nest): every corpus
 * statement and transaction therefore runs one at a time per DataSource. PostgreSQL has a
 * pool and real isolation, so calls go straight through.
 */
export class SqlDb {
  readonly dialect: SqlDialect;

  constructor(readonly dataSource: DataSource) {
    this.dialect = dialectOf(dataSource);
  }

  query<T = unknown>(sql: string, params?: unknown[]): Promise<T> {
    return this.serial(() => this.dataSource.query<T>(sql, params));
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.serial(() => this.dataSource.transaction(work));
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.dialect === 'postgres') return fn();
    const previous = serialQueues.get(this.dataSource) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    serialQueues.set(
      this.dataSource,
      run.catch(() => undefined),
    );
    return run;
  }
}
