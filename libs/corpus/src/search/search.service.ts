import { Inject, Injectable } from '@nestjs/common';
import { ValidationError } from '@clara/common';

import type { ChunkView } from '../domain/corpus.types.js';
import { EMBEDDING_PROVIDER, type EmbeddingProvider } from '../embeddings/embedding-provider.js';
import { CorpusStores } from '../stores/corpus-stores.js';
import { inStore } from '../stores/store-errors.js';
import type { ScoreRole, SearchHit, SearchRequest, SearchResult } from './search.types.js';

/** How many of the best keyword/vector documents seed the graph expansion. */
export const GRAPH_SEEDS = 5;
/** Graph proximity halves with every further hop. */
export const GRAPH_DECAY = 0.5;

interface Candidate {
  view?: ChunkView;
  chunkId: string;
  documentId: string;
  raw: Record<ScoreRole, number | null>;
  norm: Record<ScoreRole, number | null>;
  rank: Record<ScoreRole, number | null>;
  graph: { seed: string; hops: number } | null;
}

const ROLES: ScoreRole[] = ['vector', 'keyword', 'graph'];

/**
 * Hybrid search: keyword candidates from the relational store, vector candidates from
 * the vector store, graph expansion around the best of those; fused by weighted
 * normalised scores or reciprocal-rank fusion. Every candidate is checked against the
 * relational store, so only committed (active) documents that pass the filter appear.
 */
@Injectable()
export class SearchService {
  constructor(
    private readonly stores: CorpusStores,
    @Inject(EMBEDDING_PROVIDER) private readonly embedder: EmbeddingProvider,
  ) {}

  async search(request: SearchRequest): Promise<SearchResult> {
    const started = performance.now();
    const { relational, vector, graph } = this.stores;
    const { mode, filter, weights } = request;
    const roles = activeRoles(request);
    if (roles.every((role) => weights[role] <= 0)) {
      throw new ValidationError([
        {
          field: 'weights',
          message: `at least one of ${roles.join(', ')} must have a positive weight`,
          in: 'body',
        },
      ]);
    }
    const useKeyword = mode !== 'vector';
    const useVector = mode !== 'keyword';
    const candidateCount = Math.max(50, request.topK * 5);

    const [keywordHits, vectorHits] = await Promise.all([
      useKeyword
        ? inStore(relational, () => relational.search(request.query, filter, candidateCount))
        : [],
      useVector
        ? this.embedder
            .embed([request.query])
            .then(([embedding]) =>
              inStore(vector, () => vector.search(embedding, filter, candidateCount)),
            )
        : [],
    ]);

    const candidates = new Map<string, Candidate>();
    const candidateFor = (chunkId: string, documentId: string) => {
      let candidate = candidates.get(chunkId);
      if (!candidate) {
        candidate = {
          chunkId,
          documentId,
          raw: { vector: null, keyword: null, graph: null },
          norm: { vector: null, keyword: null, graph: null },
          rank: { vector: null, keyword: null, graph: null },
          graph: null,
        };
        candidates.set(chunkId, candidate);
      }
      return candidate;
    };
    for (const hit of keywordHits)
      candidateFor(hit.chunkId, hit.documentId).raw.keyword = hit.score;
    for (const hit of vectorHits) candidateFor(hit.chunkId, hit.documentId).raw.vector = hit.score;

    // Only chunks of committed documents that pass the filter survive.
    const views = await inStore(relational, () =>
      relational.chunks([...candidates.keys()], filter),
    );
    for (const view of views) candidates.get(view.id)!.view = view;
    for (const [id, candidate] of candidates) if (!candidate.view) candidates.delete(id);
    // A role's list that was cut at `candidateCount` is normalised against its cut-off
    // score (what the best unseen chunk could have had); a complete list against zero.
    normalise([...candidates.values()], 'keyword', cutoff(keywordHits, candidateCount));
    normalise([...candidates.values()], 'vector', cutoff(vectorHits, candidateCount));

    if (roles.includes('graph')) {
      // Seeds: the best documents by keyword and vector evidence.
      const seedScores = new Map<string, number>();
      for (const c of candidates.values()) {
        const score = fuse(c, request, ['vector', 'keyword']);
        if (score > (seedScores.get(c.documentId) ?? 0)) seedScores.set(c.documentId, score);
      }
      const seeds = [...seedScores.entries()].sort((a, b) => b[1] - a[1]).slice(0, GRAPH_SEEDS);
      const top = seeds[0]?.[1] ?? 0;
      const strength = new Map(seeds.map(([id, score]) => [id, top > 0 ? score / top : 0]));
      const proximity = new Map<string, { score: number; seed: string; hops: number }>();
      const offer = (documentId: string, score: number, seed: string, hops: number) => {
        const best = proximity.get(documentId);
        if (score > 0 && (!best || score > best.score))
          proximity.set(documentId, { score, seed, hops });
      };
      if (mode === 'graph') for (const [id, s] of strength) offer(id, s, id, 0);
      if (request.graphDepth > 0 && seeds.length > 0) {
        const neighbours = await inStore(graph, () =>
          graph.expand([...strength.keys()], request.graphDepth, filter),
        );
        for (const n of neighbours) {
          offer(n.documentId, strength.get(n.seed)! * GRAPH_DECAY ** (n.hops - 1), n.seed, n.hops);
        }
      }
      // Documents found only through the graph are represented by their first chunk.
      const covered = new Set([...candidates.values()].map((c) => c.documentId));
      const missing = [...proximity.keys()].filter((id) => !covered.has(id));
      if (missing.length > 0) {
        const firsts = await inStore(relational, () => relational.firstChunks(missing, filter));
        for (const view of firsts) candidateFor(view.id, view.documentId).view = view;
      }
      for (const c of candidates.values()) {
        const p = proximity.get(c.documentId);
        if (p) {
          c.raw.graph = p.score;
          c.graph = { seed: p.seed, hops: p.hops };
        }
      }
      normalise([...candidates.values()], 'graph', 0);
    }

    const scored = [...candidates.values()]
      .map((c) => ({ candidate: c, score: fuse(c, request, roles) }))
      .filter(({ score }) => score > 0 && score >= request.minScore)
      .sort((a, b) => b.score - a.score || a.candidate.chunkId.localeCompare(b.candidate.chunkId))
      .slice(0, request.topK);

    const adapters = this.stores.adapters();
    const data: SearchHit[] = scored.map(({ candidate: c, score }) => ({
      chunk_id: c.chunkId,
      document_id: c.documentId,
      title: c.view!.title,
      text: c.view!.text,
      ordinal: c.view!.ordinal,
      metadata: c.view!.metadata,
      score: round(score),
      scores: mapRoles((r) => (c.norm[r] === null ? null : round(c.norm[r]))),
      raw_scores: mapRoles((r) => (c.raw[r] === null ? null : round(c.raw[r]))),
      ranks: { ...c.rank },
      sources: [
        ...(c.raw.keyword !== null ? [`relational:${adapters.relational}`] : []),
        ...(c.raw.vector !== null ? [`vector:${adapters.vector}`] : []),
        ...(c.raw.graph !== null ? [`graph:${adapters.graph}`] : []),
      ],
      graph: c.graph,
    }));
    return {
      query: request.query,
      mode,
      fusion: request.fusion,
      weights: request.weights,
      took_ms: Math.round((performance.now() - started) * 100) / 100,
      stores: adapters,
      data,
    };
  }
}

function activeRoles(request: SearchRequest): ScoreRole[] {
  switch (request.mode) {
    case 'hybrid':
      return request.graphDepth > 0 && request.weights.graph > 0
        ? ['vector', 'keyword', 'graph']
        : ['vector', 'keyword'];
    case 'vector':
      return ['vector'];
    case 'keyword':
      return ['keyword'];
    case 'graph':
      return ['graph'];
  }
}

function cutoff(hits: { score: number }[], limit: number): number {
  return hits.length >= limit ? Math.max(0, hits[hits.length - 1].score) : 0;
}

/**
 * Scales a role's raw scores to 0..1 between `floor` and its best candidate, and ranks
 * its candidates. A candidate at or below the floor keeps a tiny positive score, so
 * evidence from a role is never worth less than no evidence.
 */
function normalise(candidates: Candidate[], role: ScoreRole, floor: number): void {
  const found = candidates.filter((c) => c.raw[role] !== null);
  found.sort((a, b) => b.raw[role]! - a.raw[role]! || a.chunkId.localeCompare(b.chunkId));
  const best = found.length > 0 ? found[0].raw[role]! : 0;
  found.forEach((c, i) => {
    const raw = c.raw[role]!;
    c.norm[role] = best > floor ? Math.max(1e-6, (raw - floor) / (best - floor)) : best > 0 ? 1 : 0;
    c.rank[role] = i + 1;
  });
}

function fuse(c: Candidate, request: SearchRequest, roles: ScoreRole[]): number {
  let total = 0;
  let weightSum = 0;
  for (const role of roles) {
    const weight = request.weights[role];
    if (weight <= 0) continue;
    weightSum += weight;
    if (request.fusion === 'rrf') {
      const rank = c.rank[role];
      if (rank !== null) total += weight / (request.rrfK + rank);
    } else {
      total += weight * (c.norm[role] ?? 0);
    }
  }
  return weightSum > 0 ? total / weightSum : 0;
}

function mapRoles<T>(fn: (role: ScoreRole) => T): Record<ScoreRole, T> {
  return Object.fromEntries(ROLES.map((r) => [r, fn(r)])) as Record<ScoreRole, T>;
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
