import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { DatasetsAppModule } from '../../../apps/datasets/src/datasets-app.module.js';
import { startTestApp, type TestApp } from '../../support/apps.js';
import type { Engine } from '../../support/databases.js';
import { hs256Token } from '../../support/tokens.js';
import {
  allServersEnv,
  dropChromaCollection,
  dropCouchDatabase,
  dropNeo4jNamespace,
  testServers,
} from './corpus-stores.js';

export const PREFIX = '/api/datasets';
export const FIXTURES = join(import.meta.dirname, '../../fixtures/corpus');

export type Configuration = 'embedded' | 'servers';

/**
 * The corpus configurations a suite runs in: embedded always; all servers (PostgreSQL,
 * Chroma, Neo4j, CouchDB) when test/backends/start.sh is running. CLARA_REQUIRE_SERVERS=1
 * turns a missing server into a failure.
 */
export function corpusConfigurations(): Configuration[] {
  const servers = testServers();
  if (servers.chroma && servers.neo4j && servers.couchdb && process.env.TEST_POSTGRES_URL) {
    return ['embedded', 'servers'];
  }
  if (process.env.CLARA_REQUIRE_SERVERS === '1') {
    throw new Error('CLARA_REQUIRE_SERVERS=1 but TEST_POSTGRES_URL is not set');
  }
  return ['embedded'];
}

export interface CorpusApp extends TestApp {
  tokens: { admin: string; trainer: string; analyst: string };
  namespace?: string;
}

export async function startCorpusApp(
  configuration: Configuration,
  env: Record<string, string> = {},
): Promise<CorpusApp> {
  const engine: Engine = configuration === 'servers' ? 'postgres' : 'sqlite';
  const serverEnv = configuration === 'servers' ? allServersEnv(testServers()) : {};
  const t = await startTestApp({
    service: 'datasets',
    engine,
    env: { ...serverEnv, ...env },
    rootModule: (config) => DatasetsAppModule.forRoot(config),
  });
  const [admin, trainer, analyst] = await Promise.all([
    hs256Token({ sub: 'root', roles: ['admin'] }),
    hs256Token({ sub: 'alice', roles: ['trainer'] }),
    hs256Token({ sub: 'bob', roles: ['analyst'] }),
  ]);
  const namespace = serverEnv.CLARA_CORPUS_NAMESPACE;
  return {
    ...t,
    tokens: { admin, trainer, analyst },
    namespace,
    close: async () => {
      await t.close();
      if (namespace) {
        // The servers outlive the test run: leave nothing of this namespace behind.
        const servers = testServers();
        await dropChromaCollection(servers.chroma!, namespace);
        await dropCouchDatabase(servers.couchdb!, namespace);
        await dropNeo4jNamespace(servers.neo4j!, namespace);
      }
    },
  };
}

/** A multipart/form-data body: text fields first, then the file (as the upload route requires). */
export function multipart(
  fields: Record<string, string>,
  file: { name: string; content: string | Buffer; type?: string },
): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----clara${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
      ),
    );
  }
  parts.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: ${file.type ?? 'application/octet-stream'}\r\n\r\n`,
    ),
    Buffer.isBuffer(file.content) ? file.content : Buffer.from(file.content),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return {
    payload: Buffer.concat(parts),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

export function corpusFile(): string {
  return readFileSync(join(FIXTURES, 'corpus.jsonl'), 'utf8');
}

export interface Query {
  id: string;
  query: string;
  language: string;
  relevant: string[];
}

export function corpusQueries(): Query[] {
  return JSON.parse(readFileSync(join(FIXTURES, 'queries.json'), 'utf8')) as Query[];
}
