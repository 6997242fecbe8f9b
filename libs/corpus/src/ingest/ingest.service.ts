import { Inject, Injectable, Logger } from '@nestjs/common';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';
import { DomainError, type FieldError, isoNow, ValidationError } from '@clara/common';

import { chunkText } from '../chunking/chunker.js';
import {
  chunkIdOf,
  type ChunkRecord,
  type DocumentInput,
  type StoredDocument,
} from '../domain/corpus.types.js';
import { EMBEDDING_PROVIDER, type EmbeddingProvider } from '../embeddings/embedding-provider.js';
import { CorpusStores } from '../stores/corpus-stores.js';
import { inStore } from '../stores/store-errors.js';
import type { CorpusStore } from '../stores/store.interfaces.js';
import { contentHash, type UnknownTargetPolicy } from './document-input.js';

export type IngestStatus = 'created' | 'replaced' | 'unchanged';

export interface IngestOutcome {
  id: string;
  status: IngestStatus;
  chunks: number;
}

/**
 * Writes documents to the four stores, atomically per document: the relational store
 * first marks the document pending (invisible to search in every store, since every hit
 * is checked against it), then documents, vector and graph are written, and the
 * relational commit makes it visible. If any store fails, what was written is removed
 * from every store and the error names the store that failed.
 */
@Injectable()
export class IngestService {
  private readonly logger = new Logger('CorpusIngest');
  /** Per-document-id chain, so two ingests of one id never interleave in this process. */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly stores: CorpusStores,
    @Inject(EMBEDDING_PROVIDER) private readonly embedder: EmbeddingProvider,
    @Inject(CLARA_CONFIG) private readonly config: ClaraConfig,
  ) {}

  /**
   * Applies the unknown-target policy to documents that are about to be ingested together.
   * `reject` fails naming each document and target; `drop` removes those relations.
   */
  async applyTargetPolicy(
    documents: DocumentInput[],
    policy: UnknownTargetPolicy,
    where: (index: number) => string,
    alsoKnown: ReadonlySet<string> = new Set(),
  ): Promise<DocumentInput[]> {
    if (policy === 'keep') return documents;
    const inBatch = new Set([...alsoKnown, ...documents.map((d) => d.id)]);
    const unknownTargets = [
      ...new Set(documents.flatMap((d) => d.relations.map((r) => r.target))),
    ].filter((t) => !inBatch.has(t));
    const existing = await this.existing(unknownTargets);
    const known = (target: string) => inBatch.has(target) || existing.has(target);
    if (policy === 'drop') {
      return documents.map((d) => ({
        ...d,
        relations: d.relations.filter((r) => known(r.target)),
      }));
    }
    const errors: FieldError[] = [];
    documents.forEach((d, i) =>
      d.relations.forEach((r, j) => {
        if (!known(r.target)) {
          errors.push({
            field: `${where(i)}.relations.${j}.target`,
            message: `document '${d.id}' ${r.type} '${r.target}', which is not in the corpus (unknown_targets=reject)`,
            in: d.source.kind === 'json' ? 'body' : 'file',
          });
        }
      }),
    );
    if (errors.length > 0)
      throw new ValidationError(errors, 'Some relations point to unknown documents');
    return documents;
  }

  async existing(ids: string[]): Promise<Set<string>> {
    const { relational } = this.stores;
    const out = new Set<string>();
    for (let i = 0; i < ids.length; i += 500) {
      const found = await inStore(relational, () => relational.existing(ids.slice(i, i + 500)));
      found.forEach((id) => out.add(id));
    }
    return out;
  }

  /**
   * Ingests documents in order. A store failure stops the batch: documents before it are
   * in, the failing one is rolled back everywhere, and the error lists both.
   */
  async ingestAll(documents: DocumentInput[]): Promise<IngestOutcome[]> {
    const outcomes: IngestOutcome[] = [];
    for (const document of documents) {
      try {
        outcomes.push(await this.ingest(document));
      } catch (error) {
        throw withBatchContext(error, document.id, outcomes);
      }
    }
    return outcomes;
  }

  /** Ingests (or replaces) one document in every store, or in none. */
  ingest(document: DocumentInput): Promise<IngestOutcome> {
    return this.serialized(document.id, () => this.ingestUnlocked(document));
  }

  private async ingestUnlocked(document: DocumentInput): Promise<IngestOutcome> {
    const { relational, documents, vector, graph } = this.stores;
    const hash = contentHash(document);
    const previous = await inStore(relational, () => relational.get(document.id));
    if (previous?.state === 'active' && previous.contentHash === hash) {
      return { id: document.id, status: 'unchanged', chunks: previous.chunkCount };
    }

    // Everything that can fail without a store (chunking, embedding) happens first.
    const chunks: ChunkRecord[] = chunkText(document.text, {
      size: this.config.corpus.chunkSize,
      overlap: this.config.corpus.chunkOverlap,
    }).map((piece, ordinal) => ({
      id: chunkIdOf(document.id, ordinal),
      documentId: document.id,
      ordinal,
      text: piece.text,
      start: piece.start,
      end: piece.end,
    }));
    const embeddings = await this.embedder.embed(chunks.map((c) => `${document.title}\n${c.text}`));
    const body: StoredDocument = {
      id: document.id,
      title: document.title,
      text: document.text,
      language: document.language,
      metadata: document.metadata,
      relations: document.relations,
      source: document.source,
      ingested_at: isoNow(),
    };

    let stage: CorpusStore = relational;
    try {
      await inStore(relational, () =>
        relational.begin({
          id: document.id,
          title: document.title,
          language: document.language,
          metadata: document.metadata,
          contentHash: hash,
        }),
      );
      stage = documents;
      await inStore(documents, () => documents.put(body));
      stage = vector;
      await inStore(vector, async () => {
        await vector.deleteDocument(document.id);
        await vector.upsert(
          chunks.map((c, i) => ({
            chunkId: c.id,
            documentId: document.id,
            embedding: embeddings[i],
            metadata: document.metadata,
          })),
        );
      });
      stage = graph;
      await inStore(graph, () =>
        graph.upsertDocument(
          { id: document.id, title: document.title, metadata: document.metadata },
          document.relations,
        ),
      );
      stage = relational;
      await inStore(relational, () =>
        relational.commit(document.id, document.title, document.language, chunks),
      );
    } catch (error) {
      this.logger.warn(
        `ingest of '${document.id}' failed in the ${stage.role} store (${stage.adapter}); removing it from every store`,
      );
      await this.removeEverywhere(document.id);
      throw error;
    }
    return { id: document.id, status: previous ? 'replaced' : 'created', chunks: chunks.length };
  }

  /** Deletes a document from every store; true if any store had it. */
  delete(documentId: string): Promise<boolean> {
    return this.serialized(documentId, async () => {
      const { relational, documents, vector, graph } = this.stores;
      const [row, body] = await Promise.all([
        inStore(relational, () => relational.get(documentId)),
        inStore(documents, () => documents.get(documentId)),
      ]);
      if (!row && !body) return false;
      // Relational first: the document disappears from search at once, even if a later
      // store fails (deleting again finishes the job).
      await inStore(relational, () => relational.remove(documentId));
      await inStore(vector, () => vector.deleteDocument(documentId));
      await inStore(graph, () => graph.deleteDocument(documentId));
      await inStore(documents, () => documents.delete(documentId));
      return true;
    });
  }

  /** Compensation: best effort in every store; the relational row goes last. */
  private async removeEverywhere(documentId: string): Promise<void> {
    const { relational, documents, vector, graph } = this.stores;
    const steps: [CorpusStore, () => Promise<void>][] = [
      [vector, () => vector.deleteDocument(documentId)],
      [graph, () => graph.deleteDocument(documentId)],
      [documents, () => documents.delete(documentId)],
      [relational, () => relational.remove(documentId)],
    ];
    for (const [store, step] of steps) {
      try {
        await step();
      } catch (error) {
        // Still invisible: search only returns documents the relational store marks active.
        this.logger.error(
          `could not remove '${documentId}' from the ${store.role} store (${store.adapter}) during rollback: ${(error as Error).message}`,
        );
      }
    }
  }

  private async serialized<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(id, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    }
  }
}

function withBatchContext(error: unknown, documentId: string, done: IngestOutcome[]): unknown {
  if (!(error instanceof DomainError)) return error;
  const extensions = {
    ...error.extensions,
    document_id: documentId,
    ingested: done.map((o) => o.id),
  };
  const message = `${error.message} (while ingesting '${documentId}'; ${done.length} document(s) before it were ingested, it was rolled back)`;
  return new DomainError(error.status, error.code, message, extensions);
}
