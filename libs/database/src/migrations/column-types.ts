import type { QueryRunner } from 'typeorm';

/**
 * Column types that mean the same on both engines, for migrations written once.
 * Timestamps are fixed-width ISO-8601 UTC text (see `@clara/common` time.ts).
 */
export const TIMESTAMP = { type: 'varchar', length: '24' } as const;

export function isPostgres(queryRunner: QueryRunner): boolean {
  return queryRunner.connection.options.type === 'postgres';
}

/** JSON documents: `jsonb` on PostgreSQL, text on SQLite (TypeORM's `simple-json` reads both). */
export function jsonType(queryRunner: QueryRunner): string {
  return isPostgres(queryRunner) ? 'jsonb' : 'text';
}
