/** Metadata values every store can index and filter: flat scalars only. */
export type MetadataValue = string | number | boolean;
export type Metadata = Record<string, MetadataValue>;

export const METADATA_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
export const DOCUMENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const RELATION_TYPE_PATTERN = /^[a-z][a-z0-9_]{0,31}$/;
export const MAX_METADATA_KEYS = 64;

/** The four UDS3 roles. */
export const STORE_ROLES = ['relational', 'vector', 'graph', 'documents'] as const;
export type StoreRole = (typeof STORE_ROLES)[number];

export interface Relation {
  /** e.g. `cites`, `amends`, `mentions`. */
  type: string;
  target: string;
}

/** Where a document came from (an upload's file name and line, or the JSON batch). */
export interface DocumentSource {
  kind: 'json' | 'jsonl' | 'csv' | 'markdown' | 'text';
  filename?: string;
  line?: number;
}

/** A document as a client sends it, after validation. */
export interface DocumentInput {
  id: string;
  title: string;
  text: string;
  language: string;
  metadata: Metadata;
  relations: Relation[];
  source: DocumentSource;
}

export interface ChunkRecord {
  id: string;
  documentId: string;
  ordinal: number;
  text: string;
  start: number;
  end: number;
}

/** A chunk as search and reads return it, joined with its document. */
export interface ChunkView extends ChunkRecord {
  title: string;
  metadata: Metadata;
}

/** The full body the documents store keeps. */
export interface StoredDocument {
  id: string;
  title: string;
  text: string;
  language: string;
  metadata: Metadata;
  relations: Relation[];
  source: DocumentSource;
  ingested_at: string;
}

/** One row of the relational store's document table. */
export interface DocumentRow {
  id: string;
  title: string;
  language: string;
  metadata: Metadata;
  contentHash: string;
  chunkCount: number;
  state: 'pending' | 'active';
  createdAt: string;
  updatedAt: string;
}

export function chunkIdOf(documentId: string, ordinal: number): string {
  return `${documentId}#${ordinal}`;
}
