export { CorpusModule } from './corpus.module.js';
export { chunkText, type ChunkingOptions, type TextChunk } from './chunking/chunker.js';
export * from './domain/corpus.types.js';
export {
  type FilterCondition,
  isIsoDate,
  matchesFilter,
  type MetadataFilter,
  parseFilter,
} from './domain/filters.js';
export { DocumentsService } from './documents.service.js';
export { createEmbeddingProvider } from './embeddings/create-embedding-provider.js';
export {
  cosine,
  EMBEDDING_PROVIDER,
  type EmbeddingProvider,
} from './embeddings/embedding-provider.js';
export { HashingEmbeddingProvider } from './embeddings/hashing-embedding.provider.js';
export {
  OpenAiCompatibleEmbeddingProvider,
  type OpenAiCompatibleOptions,
} from './embeddings/openai-compatible-embedding.provider.js';
export { IngestService, type IngestOutcome } from './ingest/ingest.service.js';
export { SearchService } from './search/search.service.js';
export * from './search/search.types.js';
export { CorpusStores } from './stores/corpus-stores.js';
export { createStores, type StoreSet } from './stores/create-stores.js';
export { SqlDocumentStore } from './stores/embedded/sql-document.store.js';
export { SqlGraphStore } from './stores/embedded/sql-graph.store.js';
export { SqlRelationalStore } from './stores/embedded/sql-relational.store.js';
export { SqlVectorStore } from './stores/embedded/sql-vector.store.js';
export { isUnavailable, StoreFailure } from './stores/store-errors.js';
export * from './stores/store.interfaces.js';
export { ChromaVectorStore, type ChromaOptions } from './stores/servers/chroma-vector.store.js';
export {
  CouchDbDocumentStore,
  type CouchDbOptions,
} from './stores/servers/couchdb-document.store.js';
export { Neo4jGraphStore, type Neo4jOptions } from './stores/servers/neo4j-graph.store.js';
export { WeightsDto } from './http/corpus.dto.js';
