import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pg from 'pg';

export type Engine = 'sqlite' | 'postgres';

/**
 * The database engines a suite runs against: SQLite always; PostgreSQL when the test
 * command started one (TEST_POSTGRES_URL). With CLARA_REQUIRE_POSTGRES=1 (set by the
 * test command and CI) a missing PostgreSQL fails the run instead of quietly skipping.
 */
export function testEngines(): Engine[] {
  if (process.env.TEST_POSTGRES_URL) return ['sqlite', 'postgres'];
  if (process.env.CLARA_REQUIRE_POSTGRES === '1') {
    throw new Error(
      'CLARA_REQUIRE_POSTGRES=1 but TEST_POSTGRES_URL is not set: start test/backends/start.sh postgres',
    );
  }
  return ['sqlite'];
}

export interface TestDatabase {
  engine: Engine;
  /** Environment variables that point Clara at this database. */
  env: Record<string, string>;
  dataDir: string;
  drop(): Promise<void>;
}

/** A fresh, empty database per call: a temp SQLite folder or a new PostgreSQL database. */
export async function createTestDatabase(engine: Engine): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'clara-test-'));
  if (engine === 'sqlite') {
    return {
      engine,
      dataDir,
      env: { CLARA_DATA_DIR: dataDir },
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const adminUrl = process.env.TEST_POSTGRES_URL!;
  const name = `clara_test_${randomBytes(6).toString('hex')}`;
  await withClient(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    engine,
    dataDir,
    env: { CLARA_DATA_DIR: dataDir, DATABASE_URL: url.toString(), CLARA_MIGRATE_ON_START: 'true' },
    drop: async () => {
      await withClient(adminUrl, (client) =>
        client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
      );
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
