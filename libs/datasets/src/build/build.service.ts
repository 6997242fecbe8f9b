import { createHash } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { type FieldError, isoNow, newId, ValidationError } from '@clara/common';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';
import { CorpusStores, DEFAULT_WEIGHTS, parseFilter, SearchService } from '@clara/corpus';

import { assembleVersion, type PendingRecord } from '../domain/assemble.js';
import { NearDuplicateIndex } from '../domain/minhash.js';
import { canonicalJson, checkRecord, recordText } from '../domain/record-format.js';
import { splitDocuments } from '../domain/split.js';
import { approxTokens } from '../domain/tokens.js';
import type { BuildVersionDto } from '../http/datasets.dto.js';
import type { DatasetEntity, DatasetVersionEntity } from '../storage/dataset.entities.js';
import { ExportPreparer } from '../export/export-preparer.js';
import { DatasetsRepository } from '../storage/datasets.repository.js';
import {
  type BuildUnit,
  mappingRenderer,
  mappingUsesText,
  type RecordContext,
  type RecordRenderer,
  templateRenderer,
} from './build-spec.js';

interface SourceChunk {
  id: string;
  documentId: string;
  ordinal: number;
  text: string;
}

interface SourceDocument {
  id: string;
  title: string;
  language: string;
  metadata: Record<string, unknown>;
}

interface Plan {
  renderer: RecordRenderer;
  unit: BuildUnit;
}

/** A build that has not stored its version within this long was left by a stopped process. */
const STALE_BUILD_MS = 10 * 60 * 1000;
const PROGRESS_EVERY = 250;

/**
 * Builds a version from a spec in the background: collect chunks (a corpus search or whole
 * documents), render records (template or column mapping), filter (length, language,
 * exact and near duplicates), split per source document with a seed, and store the
 * version whole. Chunks are processed in (document id, ordinal) order whatever order the
 * search returned them in, so the same spec over the same corpus gives the same checksum.
 */
@Injectable()
export class BuildService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('DatasetBuild');
  private readonly running = new Set<Promise<void>>();
  private stopping = false;

  constructor(
    private readonly repository: DatasetsRepository,
    private readonly search: SearchService,
    private readonly stores: CorpusStores,
    private readonly preparer: ExportPreparer,
    @Inject(CLARA_CONFIG) private readonly config: ClaraConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    const failed = await this.repository.failStaleBuilds(
      new Date(Date.now() - STALE_BUILD_MS).toISOString(),
    );
    if (failed > 0) this.logger.warn(`marked ${failed} interrupted build(s) as failed`);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.running]);
  }

  /** Validates the spec, creates the version (`building`) and starts the build. */
  async start(
    dataset: DatasetEntity,
    spec: BuildVersionDto,
    principal: string,
  ): Promise<DatasetVersionEntity> {
    const plan = this.plan(dataset, spec);
    if (spec.source.type === 'documents') {
      const ids = [...new Set(spec.source.document_ids ?? [])];
      const existing = await this.stores.relational.existing(ids);
      const missing = ids.filter((id) => !existing.has(id));
      if (missing.length > 0) {
        throw new ValidationError([
          {
            field: 'source.document_ids',
            message: `unknown document(s): ${missing.slice(0, 20).join(', ')}`,
            in: 'body',
          },
        ]);
      }
    }
    const now = isoNow();
    const version: Omit<DatasetVersionEntity, 'version'> = {
      id: newId(),
      datasetId: dataset.id,
      status: 'building',
      origin: 'build',
      recordFormat: dataset.recordFormat,
      spec: { origin: 'build', ...(JSON.parse(JSON.stringify(spec)) as Record<string, unknown>) },
      statistics: null,
      checksum: null,
      trainCount: 0,
      validationCount: 0,
      progress: { phase: 'queued', processed: 0, total: 0 },
      error: null,
      createdBy: principal,
      createdAt: now,
      updatedAt: now,
      finishedAt: null,
    };
    const number = await this.repository.insertBuildingVersion(version);
    const entity: DatasetVersionEntity = { ...version, version: number };
    const run = this.run(dataset, entity, spec, plan)
      .catch(async (error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        this.logger.warn(`build of ${dataset.name} v${number} failed: ${message}`);
        await this.repository.failVersion(entity.id, message).catch(() => undefined);
      })
      .finally(() => this.running.delete(run));
    this.running.add(run);
    return entity;
  }

  /** Resolves on completion of every build running now (tests and shutdown). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  private plan(dataset: DatasetEntity, spec: BuildVersionDto): Plan {
    const format = dataset.recordFormat;
    const errors: FieldError[] = [];
    if (spec.source.type === 'search' && !spec.source.query) {
      errors.push({
        field: 'source.query',
        message: 'is required for a search source',
        in: 'body',
      });
    }
    if (spec.source.type === 'documents' && !spec.source.document_ids) {
      errors.push({
        field: 'source.document_ids',
        message: 'is required for a documents source',
        in: 'body',
      });
    }
    const topK = spec.source.top_k ?? 100;
    if (topK > this.config.datasets.buildMaxChunks) {
      errors.push({
        field: 'source.top_k',
        message: `at most ${this.config.datasets.buildMaxChunks}`,
        in: 'body',
      });
    }
    if (spec.template && spec.mapping) {
      errors.push({
        field: 'mapping',
        message: 'give a template or a mapping, not both',
        in: 'body',
      });
    }
    const f = spec.filters;
    if (f?.min_tokens !== undefined && f.max_tokens !== undefined && f.min_tokens > f.max_tokens) {
      errors.push({
        field: 'filters.min_tokens',
        message: 'must not exceed max_tokens',
        in: 'body',
      });
    }
    if (errors.length > 0) throw new ValidationError(errors);
    if (spec.source.filters) parseFilter(spec.source.filters, 'source.filters');
    if (spec.mapping) {
      return {
        renderer: mappingRenderer(format, spec.mapping),
        unit: spec.unit ?? (mappingUsesText(spec.mapping) ? 'chunk' : 'document'),
      };
    }
    const template = spec.template ?? (format === 'text' ? { text: '{{ text }}' } : undefined);
    if (!template) {
      throw new ValidationError([
        {
          field: 'template',
          message: `a template or a mapping is required for the ${format} format`,
          in: 'body',
        },
      ]);
    }
    return { renderer: templateRenderer(format, template), unit: spec.unit ?? 'chunk' };
  }

  private async run(
    dataset: DatasetEntity,
    version: DatasetVersionEntity,
    spec: BuildVersionDto,
    plan: Plan,
  ): Promise<void> {
    const format = dataset.recordFormat;
    await this.repository.updateProgress(version.id, {
      phase: 'collecting',
      processed: 0,
      total: 0,
    });
    const { chunks, documents } = await this.collect(spec);

    // Units in (document id, ordinal) order: independent of search ranking.
    chunks.sort((a, b) =>
      a.documentId < b.documentId ? -1 : a.documentId > b.documentId ? 1 : a.ordinal - b.ordinal,
    );
    const units: SourceChunk[][] = [];
    for (const chunk of chunks) {
      const last = units[units.length - 1];
      if (plan.unit === 'document' && last && last[0].documentId === chunk.documentId) {
        last.push(chunk);
      } else {
        units.push([chunk]);
      }
    }

    const filters = spec.filters ?? {};
    const languages = filters.languages ? new Set(filters.languages) : null;
    const exact = filters.exact_duplicates ?? true;
    const near =
      (filters.near_duplicates ?? true)
        ? new NearDuplicateIndex(filters.near_duplicate_threshold ?? 0.8)
        : null;
    const seen = new Set<string>();
    const counts = {
      language: 0,
      too_short: 0,
      too_long: 0,
      missing_fields: 0,
      invalid: 0,
      exact: 0,
      near: 0,
    };
    const invalidExamples: { chunk_id: string; field: string; problem: string }[] = [];
    const kept: { documentId: string; record: PendingRecord }[] = [];

    for (let i = 0; i < units.length; i++) {
      if (this.stopping) throw new Error('the service stopped during the build');
      if (i % PROGRESS_EVERY === 0) {
        await this.repository.updateProgress(version.id, {
          phase: 'rendering',
          processed: i,
          total: units.length,
        });
        await yieldToEventLoop();
      }
      const unit = units[i];
      const document = documents.get(unit[0].documentId)!;
      if (languages && !languages.has(document.language)) {
        counts.language++;
        continue;
      }
      const context: RecordContext = {
        chunk: {
          id: unit[0].id,
          text: unit.map((c) => c.text).join('\n\n'),
          ordinal: unit[0].ordinal,
        },
        document,
      };
      const rendered = plan.renderer(context);
      if (!rendered) {
        counts.missing_fields++;
        continue;
      }
      const checked = checkRecord(format, rendered);
      if (!checked.record) {
        counts.invalid++;
        if (invalidExamples.length < 10) {
          invalidExamples.push({ chunk_id: unit[0].id, ...checked.problems[0] });
        }
        continue;
      }
      const text = recordText(format, checked.record);
      const tokens = approxTokens(text);
      if (filters.min_tokens !== undefined && tokens < filters.min_tokens) {
        counts.too_short++;
        continue;
      }
      if (filters.max_tokens !== undefined && tokens > filters.max_tokens) {
        counts.too_long++;
        continue;
      }
      const content = canonicalJson(format, checked.record);
      if (exact) {
        const digest = createHash('sha256').update(content).digest('base64');
        if (seen.has(digest)) {
          counts.exact++;
          continue;
        }
        seen.add(digest);
      }
      if (near && near.offer(text) >= 0) {
        counts.near++;
        continue;
      }
      kept.push({
        documentId: document.id,
        record: {
          split: 'train',
          content,
          metadata: {
            source_document_ids: [document.id],
            source_chunk_ids: unit.map((c) => c.id),
            tags: [],
          },
          tokens,
        },
      });
    }

    await this.repository.updateProgress(version.id, {
      phase: 'storing',
      processed: units.length,
      total: units.length,
    });
    const splits = splitDocuments(
      kept.map((k) => k.documentId),
      spec.split?.validation_fraction ?? 0.1,
      spec.split?.seed ?? 42,
    );
    for (const k of kept) k.record.split = splits.get(k.documentId)!;
    const content = assembleVersion(
      kept.map((k) => k.record),
      spec.max_seq_length ?? 2048,
      {
        source_chunks_found: chunks.length,
        units: units.length,
        duplicates_removed: { exact: counts.exact, near: counts.near },
        filtered: {
          language: counts.language,
          too_short: counts.too_short,
          too_long: counts.too_long,
          missing_fields: counts.missing_fields,
          invalid: counts.invalid,
        },
        invalid_examples: invalidExamples,
      },
    );
    if (content.records.length === 0) {
      throw new Error('the build produced no records (see the filters and the source)');
    }
    await this.repository.storeContent(version, content, true);
    this.preparer.schedule(version.id);
  }

  private async collect(
    spec: BuildVersionDto,
  ): Promise<{ chunks: SourceChunk[]; documents: Map<string, SourceDocument> }> {
    const { relational } = this.stores;
    const chunks: SourceChunk[] = [];
    const documents = new Map<string, SourceDocument>();
    const source = spec.source;
    const loadDocument = async (id: string): Promise<SourceDocument | null> => {
      const known = documents.get(id);
      if (known) return known;
      const row = await relational.get(id);
      if (!row || row.state !== 'active') return null;
      const doc: SourceDocument = {
        id: row.id,
        title: row.title,
        language: row.language,
        metadata: { ...row.metadata },
      };
      documents.set(id, doc);
      return doc;
    };
    if (source.type === 'search') {
      const result = await this.search.search({
        query: source.query!,
        mode: source.mode ?? 'hybrid',
        fusion: source.fusion ?? 'weighted',
        weights: {
          vector: source.weights?.vector ?? DEFAULT_WEIGHTS.vector,
          keyword: source.weights?.keyword ?? DEFAULT_WEIGHTS.keyword,
          graph: source.weights?.graph ?? DEFAULT_WEIGHTS.graph,
        },
        filter: parseFilter(source.filters),
        topK: source.top_k ?? 100,
        minScore: source.min_score ?? 0,
        graphDepth: source.graph_depth ?? 1,
        rrfK: 60,
      });
      for (const hit of result.data) {
        if (!(await loadDocument(hit.document_id))) continue;
        chunks.push({
          id: hit.chunk_id,
          documentId: hit.document_id,
          ordinal: hit.ordinal,
          text: hit.text,
        });
      }
    } else {
      const missing: string[] = [];
      for (const id of [...new Set(source.document_ids ?? [])]) {
        if (!(await loadDocument(id))) {
          missing.push(id);
          continue;
        }
        for (const c of await relational.chunksOf(id)) {
          chunks.push({ id: c.id, documentId: id, ordinal: c.ordinal, text: c.text });
        }
      }
      if (missing.length > 0) {
        throw new Error(`unknown document(s): ${missing.slice(0, 20).join(', ')}`);
      }
    }
    return { chunks, documents };
  }
}
