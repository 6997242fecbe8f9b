import type { ClaraConfig } from '@clara/config';
import type { DataSource } from 'typeorm';

import { SqlDocumentStore } from './embedded/sql-document.store.js';
import { SqlGraphStore } from './embedded/sql-graph.store.js';
import { SqlRelationalStore } from './embedded/sql-relational.store.js';
import { SqlVectorStore } from './embedded/sql-vector.store.js';
import { ChromaVectorStore } from './servers/chroma-vector.store.js';
import { CouchDbDocumentStore } from './servers/couchdb-document.store.js';
import { Neo4jGraphStore } from './servers/neo4j-graph.store.js';
import type {
  DocumentStore,
  GraphStore,
  RelationalStore,
  VectorStore,
} from './store.interfaces.js';

export interface StoreSet {
  relational: RelationalStore;
  vector: VectorStore;
  graph: GraphStore;
  documents: DocumentStore;
}

/**
 * Picks each role's adapter: its server when its URL is configured, the app's own
 * database otherwise. The relational role is always the app's database (PostgreSQL when
 * DATABASE_URL is set, SQLite otherwise).
 */
export function createStores(config: ClaraConfig, dataSource: DataSource): StoreSet {
  const { stores, corpus } = config;
  const timeoutMs = stores.timeoutMs;
  return {
    relational: new SqlRelationalStore(dataSource),
    vector: stores.chromaUrl
      ? new ChromaVectorStore({ url: stores.chromaUrl, collection: corpus.namespace, timeoutMs })
      : new SqlVectorStore(dataSource),
    graph: stores.neo4jUrl
      ? new Neo4jGraphStore({
          url: stores.neo4jUrl,
          user: stores.neo4jUser,
          password: stores.neo4jPassword,
          namespace: corpus.namespace,
          timeoutMs,
        })
      : new SqlGraphStore(dataSource),
    documents: stores.couchdbUrl
      ? new CouchDbDocumentStore({
          url: stores.couchdbUrl,
          user: stores.couchdbUser,
          password: stores.couchdbPassword,
          database: corpus.namespace,
          timeoutMs,
        })
      : new SqlDocumentStore(dataSource),
  };
}
