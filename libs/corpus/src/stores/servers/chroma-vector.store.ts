import type { Collection, Metadata as ChromaMetadata, Where } from 'chromadb';

import {
  isIsoDate,
  type FilterCondition,
  type MetadataFilter,
  rangeEntries,
} from '../../domain/filters.js';
import type { Metadata } from '../../domain/corpus.types.js';
import { withDeadline } from '../store-errors.js';
import type { ScoredChunk, VectorRecord, VectorStore } from '../store.interfaces.js';

export interface ChromaOptions {
  url: string;
  collection: string;
  timeoutMs: number;
}

const BATCH = 500;
const META = 'm_';
const DATE = 't_';

/**
 * The vector role on a ChromaDB server: one collection (cosine space) whose records are
 * chunks, with their embeddings passed in (Chroma's default embedding function is never
 * used), the document id and the document metadata. Metadata keys are stored as `m_<key>`;
 * ISO-date strings also as `t_<key>` (epoch milliseconds), because Chroma compares only
 * numbers in range filters.
 */
export class ChromaVectorStore implements VectorStore {
  readonly role = 'vector' as const;
  readonly adapter = 'chroma';
  private collection?: Promise<Collection>;
  /** Writes from this process go one at a time (see `write`). */
  private writes: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ChromaOptions) {}

  private call<T>(what: string, fn: (collection: Collection) => Promise<T>): Promise<T> {
    return withDeadline(
      (async () => {
        try {
          return await fn(await this.getCollection());
        } catch (error) {
          // The server may have restarted or lost the collection: look it up again next time.
          this.collection = undefined;
          throw error;
        }
      })(),
      this.options.timeoutMs,
      `chroma ${what}`,
    );
  }

  /**
   * Serialises this process's writes: concurrent delete-by-filter and upsert calls from
   * parallel ingests were seen to lose records on a single-node Chroma 1.5 server.
   */
  private write<T>(what: string, fn: (collection: Collection) => Promise<T>): Promise<T> {
    const run = this.writes.then(
      () => this.call(what, fn),
      () => this.call(what, fn),
    );
    this.writes = run.catch(() => undefined);
    return run;
  }

  private getCollection(): Promise<Collection> {
    this.collection ??= this.connect();
    return this.collection;
  }

  /** The client library is loaded on first use: the embedded default never needs it. */
  private async connect(): Promise<Collection> {
    const { ChromaClient } = await import('chromadb');
    const url = new URL(this.options.url);
    const ssl = url.protocol === 'https:';
    const client = new ChromaClient({
      host: url.hostname,
      port: url.port ? Number(url.port) : ssl ? 443 : 8000,
      ssl,
    });
    return client.getOrCreateCollection({
      name: this.options.collection,
      embeddingFunction: null,
      configuration: { hnsw: { space: 'cosine' } },
    });
  }

  async ping(): Promise<Record<string, unknown>> {
    const count = await this.call('ping', (c) => c.count());
    return { adapter: this.adapter, collection: this.options.collection, records: count };
  }

  async upsert(records: VectorRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += BATCH) {
      const batch = records.slice(i, i + BATCH);
      await this.write('upsert', (c) =>
        c.upsert({
          ids: batch.map((r) => r.chunkId),
          embeddings: batch.map((r) => Array.from(r.embedding)),
          metadatas: batch.map((r) => toChromaMetadata(r.documentId, r.metadata)),
        }),
      );
    }
  }

  async deleteDocument(documentId: string): Promise<void> {
    await this.write('delete', (c) => c.delete({ where: { document_id: documentId } }));
  }

  async search(
    embedding: Float32Array,
    filter: MetadataFilter,
    limit: number,
  ): Promise<ScoredChunk[]> {
    const where = toWhere(filter);
    const result = await this.call('query', (c) =>
      c.query({
        queryEmbeddings: [Array.from(embedding)],
        nResults: limit,
        ...(where ? { where } : {}),
        include: ['distances', 'metadatas'],
      }),
    );
    const ids = result.ids[0] ?? [];
    const distances = result.distances?.[0] ?? [];
    const metadatas = result.metadatas?.[0] ?? [];
    return ids.map((id, i) => {
      const documentId = metadatas[i]?.document_id;
      return {
        chunkId: id,
        documentId: typeof documentId === 'string' ? documentId : id.slice(0, id.lastIndexOf('#')),
        score: 1 - (distances[i] ?? 1),
      };
    });
  }

  async count(): Promise<number> {
    return this.call('count', (c) => c.count());
  }
}

function toChromaMetadata(documentId: string, metadata: Metadata): ChromaMetadata {
  const out: ChromaMetadata = { document_id: documentId };
  for (const [key, value] of Object.entries(metadata)) {
    out[`${META}${key}`] = value;
    if (isIsoDate(value)) out[`${DATE}${key}`] = Date.parse(value);
  }
  return out;
}

/** Translates the filter into Chroma's `where` (every condition inside the server). */
export function toWhere(filter: MetadataFilter): Where | undefined {
  const clauses = filter.flatMap(conditionWhere);
  if (clauses.length === 0) return undefined;
  return clauses.length === 1 ? clauses[0] : { $and: clauses };
}

function conditionWhere(condition: FilterCondition): Where[] {
  const key = `${META}${condition.key}`;
  switch (condition.kind) {
    case 'eq':
      return [{ [key]: { $eq: condition.value } }];
    case 'in': {
      const types = new Set(condition.values.map((v) => typeof v));
      if (types.size === 1) return [{ [key]: { $in: condition.values } }];
      return [{ $or: condition.values.map((v) => ({ [key]: { $eq: v } })) }];
    }
    case 'range': {
      const field = condition.type === 'number' ? key : `${DATE}${condition.key}`;
      return rangeEntries(condition.bounds).map(([op, bound]) => ({
        [field]: { [`$${op}`]: typeof bound === 'string' ? Date.parse(bound) : bound },
      })) as Where[];
    }
  }
}
