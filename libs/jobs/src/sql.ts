import type { DataSource, EntityManager } from 'typeorm';

/**
 * Raw statements for the few queries the query builder cannot express portably (atomic
 * claims with RETURNING, SKIP LOCKED). Statements are written with PostgreSQL's `$n`
 * placeholders; on SQLite they become `?` with the parameters reordered to match.
 */
export class Sql {
  readonly postgres: boolean;

  constructor(private readonly dataSource: DataSource) {
    this.postgres = dataSource.options.type === 'postgres';
  }

  async rows<T>(statement: string, parameters: unknown[], manager?: EntityManager): Promise<T[]> {
    const [text, values] = this.postgres
      ? [statement, parameters]
      : toSqlite(statement, parameters);
    const result: unknown = await (manager ?? this.dataSource.manager).query(text, values);
    // Through TypeORM, pg answers UPDATE … RETURNING with [rows, affectedCount].
    if (this.postgres && Array.isArray(result) && result.length === 2 && Array.isArray(result[0])) {
      return result[0] as T[];
    }
    return result as T[];
  }
}

function toSqlite(statement: string, parameters: unknown[]): [string, unknown[]] {
  const values: unknown[] = [];
  const text = statement.replace(/\$(\d+)/g, (_, n: string) => {
    values.push(parameters[Number(n) - 1]);
    return '?';
  });
  return [text, values];
}
