import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import type { DatabaseConfig } from '@clara/config';
import type { DataSourceOptions } from 'typeorm';

import { MIGRATIONS } from './migrations/index.js';

export type DatabaseEngine = 'sqlite' | 'postgres';

export function databaseEngine(config: DatabaseConfig): DatabaseEngine {
  return config.url ? 'postgres' : 'sqlite';
}

/**
 * The one DataSource definition: the apps and the migration CLI both build theirs here,
 * so they can never disagree about engine, migrations or pool settings.
 */
export function buildDataSourceOptions(
  config: DatabaseConfig,
  entities: DataSourceOptions['entities'] = [],
): DataSourceOptions {
  const common = {
    entities,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    migrationsTransactionMode: 'each' as const,
    synchronize: false,
    migrationsRun: false,
    logging: false as const,
  };
  if (config.url) {
    return {
      ...common,
      type: 'postgres',
      url: config.url,
      extra: { max: config.poolSize, application_name: 'clara' },
    };
  }
  const path = config.sqlitePath;
  if (!path) throw new Error('database.sqlitePath is required for the embedded database');
  mkdirSync(dirname(path), { recursive: true });
  return {
    ...common,
    type: 'better-sqlite3',
    database: path,
    // WAL lets readers run while one writer commits; the busy timeout makes a second
    // process (the other service, a CLI) wait for a lock instead of failing at once.
    prepareDatabase: (db: { pragma(sql: string): unknown }) => {
      db.pragma(`busy_timeout = ${config.sqliteBusyTimeoutMs}`);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
    },
  };
}
