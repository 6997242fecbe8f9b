import type {
  ChunkRecord,
  ChunkView,
  DocumentRow,
  Metadata,
  Relation,
  StoreRole,
  StoredDocument,
} from '../domain/corpus.types.js';
import type { MetadataFilter } from '../domain/filters.js';

/** What every store adapter tells health checks and search provenance. */
export interface CorpusStore {
  readonly role: StoreRole;
  /** e.g. `sqlite-fts5`, `postgres-fts`, `chroma`, `neo4j`, `couchdb`. */
  readonly adapter: string;
  /** Throws when the store cannot be reached; returns details for `/health/ready`. */
  ping(): Promise<Record<string, unknown>>;
  /** Releases connections (server adapters). */
  close?(): Promise<void>;
}

export interface ScoredChunk {
  chunkId: string;
  documentId: string;
  /** Role-specific raw score, higher is better (bm25, ts_rank, cosine). */
  score: number;
}

/**
 * Relational / keyword role: document metadata, chunk text and the keyword index. It is
 * also where a document becomes visible: only `active` documents are ever returned.
 */
export interface RelationalStore extends CorpusStore {
  /** Hides any previous version and records the new one as pending (not searchable). */
  begin(
    document: Omit<DocumentRow, 'state' | 'createdAt' | 'updatedAt' | 'chunkCount'>,
  ): Promise<void>;
  /** Replaces the chunks and makes the document visible, in one transaction. */
  commit(documentId: string, title: string, language: string, chunks: ChunkRecord[]): Promise<void>;
  remove(documentId: string): Promise<void>;
  get(documentId: string): Promise<DocumentRow | null>;
  /** Active documents ordered by id, after `afterId`. */
  list(filter: MetadataFilter, afterId: string | undefined, limit: number): Promise<DocumentRow[]>;
  chunksOf(documentId: string): Promise<ChunkRecord[]>;
  /** The given chunks that belong to active documents matching the filter. */
  chunks(chunkIds: string[], filter: MetadataFilter): Promise<ChunkView[]>;
  /** The first chunk of each given active document matching the filter. */
  firstChunks(documentIds: string[], filter: MetadataFilter): Promise<ChunkView[]>;
  /** Ids among `documentIds` that are active. */
  existing(documentIds: string[]): Promise<Set<string>>;
  search(query: string, filter: MetadataFilter, limit: number): Promise<ScoredChunk[]>;
  count(): Promise<{ documents: number; chunks: number }>;
}

export interface VectorRecord {
  chunkId: string;
  documentId: string;
  embedding: Float32Array;
  metadata: Metadata;
}

/** Vector role: one embedding per chunk, exact or approximate cosine top-k. */
export interface VectorStore extends CorpusStore {
  upsert(records: VectorRecord[]): Promise<void>;
  deleteDocument(documentId: string): Promise<void>;
  /** Cosine similarity, best first. */
  search(embedding: Float32Array, filter: MetadataFilter, limit: number): Promise<ScoredChunk[]>;
  count(): Promise<number>;
}

export interface GraphNode {
  id: string;
  title: string;
  metadata: Metadata;
}

export interface Neighbour {
  documentId: string;
  /** The seed it was reached from, and in how many hops (≥ 1). */
  seed: string;
  hops: number;
}

export interface DocumentRelations {
  outgoing: Relation[];
  incoming: { type: string; source: string }[];
}

/** Graph role: documents as nodes, relations (cites, amends, …) as edges. */
export interface GraphStore extends CorpusStore {
  /** Upserts the node and replaces its outgoing relations; unknown targets become placeholders. */
  upsertDocument(node: GraphNode, relations: Relation[]): Promise<void>;
  /** Removes the node's outgoing relations; the node stays a placeholder while others cite it. */
  deleteDocument(documentId: string): Promise<void>;
  relationsOf(documentId: string): Promise<DocumentRelations>;
  /**
   * Documents within `depth` hops of any seed (either edge direction), nearest hop per
   * (seed, document), never the seed itself or a placeholder; the filter applies to them.
   */
  expand(seeds: string[], depth: number, filter: MetadataFilter): Promise<Neighbour[]>;
  count(): Promise<{ nodes: number; edges: number }>;
}

/** Documents role: the full original body. */
export interface DocumentStore extends CorpusStore {
  put(document: StoredDocument): Promise<void>;
  get(documentId: string): Promise<StoredDocument | null>;
  delete(documentId: string): Promise<void>;
  /** Ordered by id, after `afterId`, matching the filter. */
  find(
    filter: MetadataFilter,
    afterId: string | undefined,
    limit: number,
  ): Promise<StoredDocument[]>;
}

export const RELATIONAL_STORE = Symbol('RELATIONAL_STORE');
export const VECTOR_STORE = Symbol('VECTOR_STORE');
export const GRAPH_STORE = Symbol('GRAPH_STORE');
export const DOCUMENT_STORE = Symbol('DOCUMENT_STORE');
