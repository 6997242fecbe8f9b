import type { Metadata } from '../domain/corpus.types.js';
import type { MetadataFilter } from '../domain/filters.js';

export const SEARCH_MODES = ['hybrid', 'vector', 'keyword', 'graph'] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];
export const FUSION_METHODS = ['weighted', 'rrf'] as const;
export type FusionMethod = (typeof FUSION_METHODS)[number];
export type ScoreRole = 'vector' | 'keyword' | 'graph';

export interface Weights {
  vector: number;
  keyword: number;
  graph: number;
}

export const DEFAULT_WEIGHTS: Weights = { vector: 0.5, keyword: 0.3, graph: 0.2 };

export interface SearchRequest {
  query: string;
  mode: SearchMode;
  fusion: FusionMethod;
  weights: Weights;
  filter: MetadataFilter;
  topK: number;
  minScore: number;
  graphDepth: number;
  /** RRF's rank constant. */
  rrfK: number;
}

export interface SearchHit {
  chunk_id: string;
  document_id: string;
  title: string;
  text: string;
  ordinal: number;
  metadata: Metadata;
  /** The fused score the hits are ordered by. */
  score: number;
  /** Per-role scores normalised to 0..1 (the best candidate of each role is 1); null where the role did not find it. */
  scores: Record<ScoreRole, number | null>;
  /** Raw per-role scores: bm25 / ts_rank, cosine similarity, graph proximity. */
  raw_scores: Record<ScoreRole, number | null>;
  /** 1-based rank within each role's candidates. */
  ranks: Record<ScoreRole, number | null>;
  /** Which stores contributed, as `role:adapter`; the text is from the relational store. */
  sources: string[];
  /** For graph hits: the seed document it was reached from and how many hops away. */
  graph: { seed: string; hops: number } | null;
}

export interface SearchResult {
  query: string;
  mode: SearchMode;
  fusion: FusionMethod;
  weights: Weights;
  took_ms: number;
  stores: Record<string, string>;
  data: SearchHit[];
}
