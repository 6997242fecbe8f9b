import { DuckDBInstance } from '@duckdb/node-api';

/** DuckDB, a reader (and writer) we did not write, in memory. */
export async function duckdb<T>(
  fn: (run: (sql: string) => Promise<Record<string, unknown>[]>) => Promise<T>,
): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    return await fn(async (sql) => {
      const reader = await connection.runAndReadAll(sql);
      return reader.getRowObjectsJson();
    });
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

export function quote(path: string): string {
  return `'${path.replace(/'/g, "''")}'`;
}
