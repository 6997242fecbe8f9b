import { randomBytes } from 'node:crypto';

import {
  ChromaVectorStore,
  CouchDbDocumentStore,
  type DocumentStore,
  type GraphStore,
  Neo4jGraphStore,
  type RelationalStore,
  SqlDocumentStore,
  SqlGraphStore,
  SqlRelationalStore,
  SqlVectorStore,
  type VectorStore,
} from '@clara/corpus';
import { loadConfig } from '@clara/config';
import { buildDataSourceOptions, runMigrationsExclusively } from '@clara/database';
import { ChromaClient } from 'chromadb';
import nano from 'nano';
import neo4j from 'neo4j-driver';
import { DataSource } from 'typeorm';

import { createTestDatabase, type Engine, testEngines } from '../../support/databases.js';

export type ServerName = 'chroma' | 'neo4j' | 'couchdb';

/** The server-backed suites' settings, from test/backends/start.sh's environment. */
export interface ServerUrls {
  chroma?: string;
  neo4j?: { url: string; user: string; password: string };
  couchdb?: string;
}

/**
 * Which store servers the tests can use (TEST_CHROMA_URL, TEST_NEO4J_URL + credentials,
 * TEST_COUCHDB_URL). With CLARA_REQUIRE_SERVERS=1 (the test command and CI) a missing one
 * fails the run instead of skipping its suites.
 */
export function testServers(): ServerUrls {
  const env = process.env;
  const required = env.CLARA_REQUIRE_SERVERS === '1';
  const missing = ['TEST_CHROMA_URL', 'TEST_NEO4J_URL', 'TEST_COUCHDB_URL'].filter((v) => !env[v]);
  if (required && missing.length > 0) {
    throw new Error(
      `CLARA_REQUIRE_SERVERS=1 but ${missing.join(', ')} not set: run test/backends/start.sh and source test/backends/.state/env`,
    );
  }
  return {
    chroma: env.TEST_CHROMA_URL,
    neo4j: env.TEST_NEO4J_URL
      ? {
          url: env.TEST_NEO4J_URL,
          user: env.TEST_NEO4J_USER ?? 'neo4j',
          password: env.TEST_NEO4J_PASSWORD ?? '',
        }
      : undefined,
    couchdb: env.TEST_COUCHDB_URL,
  };
}

/** Environment for an app whose every UDS3 role is on its server, in a fresh namespace. */
export function allServersEnv(
  servers: ServerUrls,
  namespace = uniqueNamespace(),
): Record<string, string> {
  if (!servers.chroma || !servers.neo4j || !servers.couchdb)
    throw new Error('all three servers are needed');
  return {
    CHROMA_URL: servers.chroma,
    NEO4J_URL: servers.neo4j.url,
    NEO4J_USER: servers.neo4j.user,
    NEO4J_PASSWORD: servers.neo4j.password,
    COUCHDB_URL: servers.couchdb,
    CLARA_CORPUS_NAMESPACE: namespace,
  };
}

export function uniqueNamespace(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}

export function hasAllServers(servers: ServerUrls): boolean {
  return Boolean(servers.chroma && servers.neo4j && servers.couchdb);
}

export interface Opened<S> {
  store: S;
  close(): Promise<void>;
}

export interface StoreFixture<S> {
  name: string;
  open(): Promise<Opened<S>>;
}

/** A fresh, migrated database of the given engine (the embedded adapters' home). */
export async function openDataSource(
  engine: Engine,
): Promise<{ dataSource: DataSource; close(): Promise<void> }> {
  const database = await createTestDatabase(engine);
  const config = loadConfig({ env: { CLARA_ENVIRONMENT: 'testing', ...database.env } });
  const dataSource = await new DataSource(buildDataSourceOptions(config.database)).initialize();
  await runMigrationsExclusively(dataSource);
  return {
    dataSource,
    close: async () => {
      await dataSource.destroy();
      await database.drop();
    },
  };
}

function embedded<S>(name: string, engine: Engine, make: (ds: DataSource) => S): StoreFixture<S> {
  return {
    name: `${name} on ${engine}`,
    open: async () => {
      const opened = await openDataSource(engine);
      return { store: make(opened.dataSource), close: () => opened.close() };
    },
  };
}

export function relationalFixtures(): StoreFixture<RelationalStore>[] {
  return testEngines().map((engine) =>
    embedded(
      engine === 'sqlite' ? 'sqlite-fts5' : 'postgres-fts',
      engine,
      (ds) => new SqlRelationalStore(ds),
    ),
  );
}

export function vectorFixtures(): StoreFixture<VectorStore>[] {
  const fixtures: StoreFixture<VectorStore>[] = testEngines().map((engine) =>
    embedded('exact cosine', engine, (ds) => new SqlVectorStore(ds)),
  );
  const { chroma } = testServers();
  if (chroma) {
    fixtures.push({
      name: 'chroma',
      open: async () => {
        const collection = uniqueNamespace();
        const store = new ChromaVectorStore({ url: chroma, collection, timeoutMs: 15000 });
        return {
          store,
          close: () => dropChromaCollection(chroma, collection),
        };
      },
    });
  }
  return fixtures;
}

export function graphFixtures(): StoreFixture<GraphStore>[] {
  const fixtures: StoreFixture<GraphStore>[] = testEngines().map((engine) =>
    embedded('recursive CTE', engine, (ds) => new SqlGraphStore(ds)),
  );
  const { neo4j: server } = testServers();
  if (server) {
    fixtures.push({
      name: 'neo4j',
      open: async () => {
        const namespace = uniqueNamespace();
        const store = new Neo4jGraphStore({ ...server, namespace, timeoutMs: 15000 });
        return {
          store,
          close: async () => {
            await store.close();
            await dropNeo4jNamespace(server, namespace);
          },
        };
      },
    });
  }
  return fixtures;
}

export async function dropNeo4jNamespace(
  server: NonNullable<ServerUrls['neo4j']>,
  namespace: string,
): Promise<void> {
  const driver = neo4j.driver(server.url, neo4j.auth.basic(server.user, server.password));
  try {
    await driver.executeQuery('MATCH (n:ClaraDocument {ns: $ns}) DETACH DELETE n', {
      ns: namespace,
    });
  } finally {
    await driver.close();
  }
}

export function documentFixtures(): StoreFixture<DocumentStore>[] {
  const fixtures: StoreFixture<DocumentStore>[] = testEngines().map((engine) =>
    embedded('document table', engine, (ds) => new SqlDocumentStore(ds)),
  );
  const { couchdb } = testServers();
  if (couchdb) {
    fixtures.push({
      name: 'couchdb',
      open: async () => {
        const database = uniqueNamespace();
        const store = new CouchDbDocumentStore({ url: couchdb, database, timeoutMs: 15000 });
        return { store, close: () => dropCouchDatabase(couchdb, database) };
      },
    });
  }
  return fixtures;
}

export async function dropCouchDatabase(url: string, database: string): Promise<void> {
  await nano(url)
    .db.destroy(database)
    .catch(() => undefined);
}

export async function dropChromaCollection(url: string, name: string): Promise<void> {
  const parsed = new URL(url);
  await new ChromaClient({ host: parsed.hostname, port: Number(parsed.port) })
    .deleteCollection({ name })
    .catch(() => undefined);
}
