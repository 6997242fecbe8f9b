import { createWriteStream } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';
import { DomainError, type FieldError, newId, NotFoundError, ValidationError } from '@clara/common';

import type { DocumentInput, DocumentSource } from '../domain/corpus.types.js';
import { StoreFailure } from '../stores/store-errors.js';
import { parseDocument, type UnknownTargetPolicy } from './document-input.js';
import { type FileRecord, readRecords, type UploadFormat } from './file-formats.js';
import { type IngestTask, IngestTaskRepository, type TaskError } from './ingest-task.repository.js';
import { type IngestOutcome, IngestService } from './ingest.service.js';

const MAX_REPORTED_ERRORS = 50;
const PROGRESS_EVERY_MS = 500;
const GROUP = 50;

export interface UploadDefaults {
  id?: string;
  language?: string;
  metadata?: Record<string, unknown>;
}

interface TaskOptions {
  format: UploadFormat;
  filename: string;
  kind: DocumentSource['kind'];
  unknownTargets: UnknownTargetPolicy;
  defaults: UploadDefaults;
}

export type IngestAnswer =
  { mode: 'sync'; documents: IngestOutcome[] } | { mode: 'background'; task: IngestTask };

/**
 * The two ways in (a JSON batch, an uploaded file) and background tasks. Input is fully
 * validated before anything is written; a batch larger than the configured threshold is
 * staged as a file under the data folder and ingested by a task that reports progress
 * and resumes after a restart (ingest is idempotent per document, so re-running is safe).
 */
@Injectable()
export class IngestRequestsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('CorpusIngestTasks');
  private readonly running = new Map<string, Promise<void>>();
  private stopping = false;

  constructor(
    private readonly ingest: IngestService,
    private readonly tasks: IngestTaskRepository,
    @Inject(CLARA_CONFIG) private readonly config: ClaraConfig,
  ) {}

  private get stagingDir(): string {
    return join(this.config.dataDir, 'corpus', 'staging');
  }

  /** A JSON batch: validated as a whole, then ingested now or as a task. */
  async submitBatch(
    raw: unknown[],
    unknownTargets: UnknownTargetPolicy,
    background: boolean | undefined,
    principal: string,
  ): Promise<IngestAnswer> {
    const errors: FieldError[] = [];
    const documents: DocumentInput[] = [];
    raw.forEach((item, i) => {
      const parsed = parseDocument(item, `documents.${i}`, { kind: 'json' });
      if (parsed.ok) documents.push(parsed.document);
      else errors.push(...parsed.errors);
    });
    if (errors.length > 0) {
      throw new ValidationError(
        errors.slice(0, MAX_REPORTED_ERRORS),
        'Some documents are invalid; nothing was ingested',
      );
    }
    const checked = await this.ingest.applyTargetPolicy(
      documents,
      unknownTargets,
      (i) => `documents.${i}`,
    );
    if (!(background ?? checked.length > this.config.corpus.backgroundThreshold)) {
      return { mode: 'sync', documents: await this.ingest.ingestAll(checked) };
    }
    await mkdir(this.stagingDir, { recursive: true });
    const path = join(this.stagingDir, `${newId()}.jsonl`);
    await writeFile(
      path,
      checked
        .map(({ id, title, text, language, metadata, relations }) =>
          JSON.stringify({ id, title, text, language, metadata, relations }),
        )
        .join('\n'),
    );
    const task = await this.startTask(path, checked.length, 'batch', principal, {
      format: 'jsonl',
      filename: 'batch.jsonl',
      kind: 'json',
      unknownTargets,
      defaults: {},
    });
    return { mode: 'background', task };
  }

  /** Streams an upload to the staging folder, so memory does not grow with its size. */
  async stage(stream: Readable, format: UploadFormat): Promise<string> {
    await mkdir(this.stagingDir, { recursive: true });
    const path = join(this.stagingDir, `${newId()}.${format}`);
    try {
      await pipeline(stream, createWriteStream(path, { flags: 'wx' }));
    } catch (error) {
      await rm(path, { force: true });
      throw error;
    }
    return path;
  }

  /** A staged upload: validated line by line, then ingested now or as a task. */
  async submitFile(
    path: string,
    options: Omit<TaskOptions, 'kind'>,
    background: boolean | undefined,
    principal: string,
  ): Promise<IngestAnswer> {
    const taskOptions: TaskOptions = { ...options, kind: options.format };
    let handedOver = false;
    try {
      const { count, ids, errors } = await this.scan(path, taskOptions);
      if (errors.length > 0) {
        throw new ValidationError(
          errors,
          `${options.filename} has invalid records; nothing was ingested`,
        );
      }
      if (count === 0) {
        throw new ValidationError(
          [{ field: 'file', message: 'the file holds no documents', in: 'file' }],
          `${options.filename} holds no documents`,
        );
      }
      if (options.unknownTargets === 'reject') {
        // Every relation's target must be in the file or already in the corpus.
        for await (const group of this.documentGroups(path, taskOptions)) {
          await this.ingest.applyTargetPolicy(
            group.documents,
            'reject',
            (i) => `line ${group.lines[i]}`,
            ids,
          );
        }
      }
      if (!(background ?? count > this.config.corpus.backgroundThreshold)) {
        const outcomes: IngestOutcome[] = [];
        for await (const group of this.documentGroups(path, taskOptions)) {
          const checked = await this.ingest.applyTargetPolicy(
            group.documents,
            options.unknownTargets,
            (i) => `line ${group.lines[i]}`,
            ids,
          );
          try {
            outcomes.push(...(await this.ingest.ingestAll(checked)));
          } catch (error) {
            if (error instanceof DomainError) {
              const before = outcomes.map((o) => o.id);
              const ingested = [
                ...before,
                ...((error.extensions.ingested as string[] | undefined) ?? []),
              ];
              throw new DomainError(error.status, error.code, error.message, {
                ...error.extensions,
                ingested,
              });
            }
            throw error;
          }
        }
        await rm(path, { force: true });
        return { mode: 'sync', documents: outcomes };
      }
      handedOver = true;
      const task = await this.startTask(
        path,
        count,
        `upload:${options.filename}`,
        principal,
        taskOptions,
      );
      return { mode: 'background', task };
    } catch (error) {
      if (!handedOver) await rm(path, { force: true });
      throw error;
    }
  }

  async task(id: string): Promise<IngestTask> {
    const task = await this.tasks.get(id);
    if (!task) throw new NotFoundError('ingest_task', id);
    return task;
  }

  /** First pass: counts documents, collects ids and every invalid record (with its line). */
  private async scan(
    path: string,
    options: TaskOptions,
  ): Promise<{ count: number; ids: Set<string>; errors: FieldError[] }> {
    let count = 0;
    const ids = new Set<string>();
    const errors: FieldError[] = [];
    for await (const record of readRecords(
      path,
      options.format,
      options.filename,
      options.defaults,
    )) {
      const parsed = this.parseRecord(record, options);
      if (parsed.ok) {
        count++;
        ids.add(parsed.document.id);
      } else if (errors.length < MAX_REPORTED_ERRORS) {
        errors.push(...parsed.errors.slice(0, MAX_REPORTED_ERRORS - errors.length));
      }
    }
    return { count, ids, errors };
  }

  private parseRecord(record: FileRecord, options: TaskOptions) {
    const where = `line ${record.line}`;
    if (record.error !== undefined) {
      return { ok: false as const, errors: [{ field: where, message: record.error, in: 'file' }] };
    }
    return parseDocument(record.raw, where, {
      kind: options.kind,
      filename: options.kind === 'json' ? undefined : options.filename,
      line: options.kind === 'json' ? undefined : record.line,
    });
  }

  private async *documentGroups(
    path: string,
    options: TaskOptions,
    skip = 0,
  ): AsyncGenerator<{ documents: DocumentInput[]; lines: number[] }> {
    let documents: DocumentInput[] = [];
    let lines: number[] = [];
    let seen = 0;
    for await (const record of readRecords(
      path,
      options.format,
      options.filename,
      options.defaults,
    )) {
      const parsed = this.parseRecord(record, options);
      if (!parsed.ok) continue;
      if (seen++ < skip) continue;
      documents.push(parsed.document);
      lines.push(record.line);
      if (documents.length >= GROUP) {
        yield { documents, lines };
        documents = [];
        lines = [];
      }
    }
    if (documents.length > 0) yield { documents, lines };
  }

  private async startTask(
    path: string,
    total: number,
    source: string,
    principal: string,
    options: TaskOptions,
  ): Promise<IngestTask> {
    const id = newId();
    await this.tasks.create({
      id,
      state: 'queued',
      source: source.slice(0, 255),
      filePath: path,
      options: { ...options },
      total,
      processed: 0,
      succeeded: 0,
      failed: 0,
      chunks: 0,
      errors: [],
      createdBy: principal,
    });
    this.launch(id);
    return (await this.tasks.get(id))!;
  }

  private launch(id: string): void {
    const run = this.run(id)
      .catch((error: unknown) =>
        this.logger.error(`ingest task ${id} crashed: ${(error as Error).message}`),
      )
      .finally(() => this.running.delete(id));
    this.running.set(id, run);
  }

  private async run(id: string): Promise<void> {
    if (!(await this.tasks.claim(id, ['queued', 'running']))) return;
    const task = (await this.tasks.get(id))!;
    const options = task.options as unknown as TaskOptions;
    const path = task.filePath!;
    const counters = {
      processed: 0,
      succeeded: 0,
      failed: 0,
      chunks: 0,
      errors: [...task.errors] as TaskError[],
    };
    let lastReport = Date.now();
    try {
      await stat(path);
      const { ids } = await this.scan(path, options);
      for await (const group of this.documentGroups(path, options)) {
        const checked = await this.ingest.applyTargetPolicy(
          group.documents,
          options.unknownTargets === 'reject' ? 'keep' : options.unknownTargets,
          () => '',
          ids,
        );
        for (const [i, document] of checked.entries()) {
          if (this.stopping) return; // stays `running`; resumed at the next start
          try {
            const outcome = await this.withRetries(() => this.ingest.ingest(document));
            counters.succeeded++;
            counters.chunks += outcome.chunks;
          } catch (error) {
            if (error instanceof StoreFailure) throw error;
            counters.failed++;
            if (counters.errors.length < MAX_REPORTED_ERRORS) {
              counters.errors.push({
                line: group.lines[i],
                document_id: document.id,
                message: (error as Error).message,
              });
            }
          }
          counters.processed++;
          if (Date.now() - lastReport > PROGRESS_EVERY_MS) {
            lastReport = Date.now();
            await this.tasks.progress(id, counters);
          }
        }
      }
      await this.tasks.progress(id, counters);
      await this.tasks.finish(id, 'succeeded', counters.errors);
      await rm(path, { force: true });
    } catch (error) {
      this.logger.error(`ingest task ${id} failed: ${(error as Error).message}`);
      counters.errors.push({ message: (error as Error).message });
      await this.tasks.progress(id, counters);
      await this.tasks.finish(id, 'failed', counters.errors.slice(-MAX_REPORTED_ERRORS));
      await rm(path, { force: true });
    }
  }

  /** A store that is briefly down gets a few chances before the task gives up. */
  private async withRetries<T>(fn: () => Promise<T>, attempts = 4): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        if (
          !(error instanceof StoreFailure && error.unavailable) ||
          attempt >= attempts ||
          this.stopping
        ) {
          throw error;
        }
        await sleep(500 * 2 ** (attempt - 1));
      }
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const task of await this.tasks.unfinished()) {
      this.logger.log(
        `resuming ingest task ${task.id} (${task.processed}/${task.total} done before)`,
      );
      this.launch(task.id);
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.running.values()]);
  }
}
