import type { DataSource, EntityManager } from 'typeorm';

export type Dialect = 'postgres' | 'sqlite';

export function dialectOf(dataSource: DataSource): Dialect {
  return dataSource.options.type === 'postgres' ? 'postgres' : 'sqlite';
}

/** The synchronous better-sqlite3 handle behind an embedded DataSource. */
export interface SqliteHandle {
  prepare(sql: string): {
    run(...params: unknown[]): unknown;
    all(...params: unknown[]): unknown[];
    get(...params: unknown[]): unknown;
  };
  transaction<T>(fn: () => T): () => T;
}

export function sqliteHandle(dataSource: DataSource): SqliteHandle {
  return (dataSource.driver as unknown as { databaseConnection: SqliteHandle }).databaseConnection;
}

/**
 * Runs a statement written with PostgreSQL's `$n` placeholders on either engine (on SQLite
 * they become `?`, parameters reordered to match) and returns its rows.
 */
export async function queryRows<T>(
  dataSource: DataSource,
  statement: string,
  parameters: unknown[],
  manager?: EntityManager,
): Promise<T[]> {
  const postgres = dialectOf(dataSource) === 'postgres';
  const [text, values] = postgres ? [statement, parameters] : toSqlite(statement, parameters);
  const result: unknown = await (manager ?? dataSource.manager).query(text, values);
  // Through TypeORM, pg answers UPDATE … RETURNING with [rows, affectedCount].
  if (postgres && Array.isArray(result) && result.length === 2 && Array.isArray(result[0])) {
    return result[0] as T[];
  }
  return (Array.isArray(result) ? result : []) as T[];
}

export function toSqlite(statement: string, parameters: unknown[]): [string, unknown[]] {
  const values: unknown[] = [];
  const text = statement.replace(/\$(\d+)/g, (_, n: string) => {
    values.push(parameters[Number(n) - 1]);
    return '?';
  });
  return [text, values];
}

/** Reads a JSON column: pg parses `jsonb`, SQLite returns text. */
export function readJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string }; message?: string };
  const code = e.driverError?.code ?? e.code;
  return (
    code === '23505' ||
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    /UNIQUE constraint failed/.test(e.message ?? '')
  );
}
