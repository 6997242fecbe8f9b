import { afterEach, describe, expect, it } from '@jest/globals';
import { loadConfig } from '@clara/config';
import { buildDataSourceOptions, MIGRATIONS, runMigrationsExclusively } from '@clara/database';
import { DataSource } from 'typeorm';

import { createTestDatabase, type TestDatabase, testEngines } from './support/databases.js';

describe.each(testEngines())('migrations on %s', (engine) => {
  let database: TestDatabase;
  const sources: DataSource[] = [];

  const open = async () => {
    const config = loadConfig({ env: { CLARA_ENVIRONMENT: 'testing', ...database.env } });
    const source = await new DataSource(buildDataSourceOptions(config.database)).initialize();
    sources.push(source);
    return source;
  };

  afterEach(async () => {
    await Promise.all(sources.splice(0).map((s) => s.destroy()));
    await database.drop();
  });

  it('apply from empty, once, even when two processes race', async () => {
    database = await createTestDatabase(engine);
    const [a, b] = await Promise.all([open(), open()]);
    const [appliedA, appliedB] = await Promise.all([
      runMigrationsExclusively(a),
      runMigrationsExclusively(b),
    ]);
    expect(appliedA.length + appliedB.length).toBe(MIGRATIONS.length);
    expect(await runMigrationsExclusively(a)).toEqual([]);
    const rows: unknown[] = await a.query('SELECT COUNT(*) AS n FROM audit_entries');
    expect(rows).toHaveLength(1);
  });

  it('make the audit table append-only in the database itself', async () => {
    database = await createTestDatabase(engine);
    const source = await open();
    await runMigrationsExclusively(source);
    const p = engine === 'postgres' ? (i: number) => `$${i}` : () => '?';
    await source.query(
      `INSERT INTO audit_entries (id, occurred_at, service, subject, roles, action, outcome, status_code, method, path, request_id)
       VALUES (${[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(p).join(', ')})`,
      [
        'a1',
        new Date().toISOString(),
        'training',
        'alice',
        'trainer',
        'jobs.create',
        'success',
        201,
        'POST',
        '/x',
        'r1',
      ],
    );
    await expect(source.query(`UPDATE audit_entries SET subject = 'mallory'`)).rejects.toThrow(
      /append-only/,
    );
    await expect(source.query('DELETE FROM audit_entries')).rejects.toThrow(/append-only/);
  });

  it('revert cleanly to empty', async () => {
    database = await createTestDatabase(engine);
    const source = await open();
    await runMigrationsExclusively(source);
    for (let i = 0; i < MIGRATIONS.length; i++) await source.undoLastMigration();
    expect(await source.createQueryRunner().hasTable('audit_entries')).toBe(false);
  });
});
