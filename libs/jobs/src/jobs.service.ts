import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';

import { Inject, Injectable, Optional } from '@nestjs/common';
import { assertOwnerOrAdmin, type Principal } from '@clara/auth';
import {
  ConflictError,
  DEFAULT_PAGE_LIMIT,
  isoNow,
  newId,
  NotFoundError,
  type Page,
  toPage,
  ValidationError,
  type FieldError,
} from '@clara/common';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';

import { type DatasetCatalog, DATASET_CATALOG } from './dataset-catalog.js';
import { JobEntity, type JobData } from './job.entity.js';
import { JobNotRunnableError, JobStateError } from './job-errors.js';
import { JobEventBus } from './job-event-bus.js';
import { JobEventsRepository } from './job-events.repository.js';
import { isTerminal, type RecordFormat } from './job.types.js';
import type { CreateJobDto, JobDto, ListJobsQueryDto } from './jobs.dto.js';
import { JobsRepository } from './jobs.repository.js';
import { resolveHyperparameters } from './hyperparameters.dto.js';
import { RunFolders } from './run-folders.js';
import { WorkersService } from './workers.service.js';

const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(\/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$/;
const METADATA_KEY = /^[A-Za-z0-9_.-]{1,64}$/;

export interface CreateJobResult {
  job: JobDto;
  /** True when an Idempotency-Key matched an earlier request and nothing new was made. */
  replayed: boolean;
}

/** The job lifecycle as clients drive it: create, read, cancel, retry, delete. */
@Injectable()
export class JobsService {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly events: JobEventsRepository,
    private readonly bus: JobEventBus,
    private readonly folders: RunFolders,
    private readonly workers: WorkersService,
    @Inject(CLARA_CONFIG) private readonly config: ClaraConfig,
    @Optional() @Inject(DATASET_CATALOG) private readonly datasets?: DatasetCatalog,
  ) {}

  async create(
    principal: Principal,
    dto: CreateJobDto,
    idempotencyKey?: string,
  ): Promise<CreateJobResult> {
    const requestHash = createHash('sha256').update(JSON.stringify(dto)).digest('hex');
    if (idempotencyKey !== undefined) {
      const earlier = await this.replay(principal.subject, idempotencyKey, requestHash);
      if (earlier) return { job: await this.toDto(earlier), replayed: true };
    }
    const job = await this.buildJob(principal.subject, dto);
    job.idempotencyKey = idempotencyKey ?? null;
    job.requestHash = idempotencyKey !== undefined ? requestHash : null;
    try {
      await this.jobs.insert(job);
    } catch (error) {
      // Two concurrent requests with one key: the unique index lets exactly one insert win.
      if (idempotencyKey !== undefined) {
        const winner = await this.replay(principal.subject, idempotencyKey, requestHash);
        if (winner) return { job: await this.toDto(winner), replayed: true };
      }
      throw error;
    }
    await this.events.append(job.id, [
      { type: 'status', time: job.createdAt, data: { status: 'queued', message: 'Job queued' } },
    ]);
    this.bus.jobQueued();
    return { job: await this.toDto(job), replayed: false };
  }

  private async replay(owner: string, key: string, requestHash: string): Promise<JobEntity | null> {
    const earlier = await this.jobs.findByIdempotencyKey(owner, key);
    if (earlier && earlier.requestHash !== requestHash) {
      throw new ConflictError(
        'idempotency_key_reused',
        'This Idempotency-Key was already used with a different request body',
      );
    }
    return earlier;
  }

  /** Validates everything a worker would trip over later, so an impossible job is never queued. */
  private async buildJob(owner: string, dto: CreateJobDto, retryOf?: string): Promise<JobEntity> {
    const method = dto.method ?? 'lora';
    const problems: FieldError[] = [];
    const baseModel = this.checkBaseModel(dto.base_model, problems);
    const { data, recordFormat } = await this.checkData(dto, problems);
    if (method === 'lora') {
      for (const key of ['quantization_bits', 'quantization_type'] as const) {
        if (dto.hyperparameters?.[key] !== undefined) {
          problems.push({
            field: `hyperparameters.${key}`,
            message: `${key} applies to method "qlora" only`,
            in: 'body',
          });
        }
      }
    }
    const metadata = dto.metadata ?? {};
    const entries = Object.entries(metadata);
    if (entries.length > 16)
      problems.push({ field: 'metadata', message: 'metadata holds at most 16 pairs', in: 'body' });
    for (const [key, value] of entries) {
      if (!METADATA_KEY.test(key) || typeof value !== 'string' || value.length > 512) {
        problems.push({
          field: `metadata.${key}`,
          message: 'metadata keys are [A-Za-z0-9_.-]{1,64} with string values up to 512 characters',
          in: 'body',
        });
      }
    }
    if (problems.length > 0) throw new ValidationError(problems);

    const gpus = dto.gpus ?? 1;
    if (method === 'qlora' && gpus === 0) {
      throw new JobNotRunnableError(
        'qlora_needs_gpu',
        'QLoRA needs a CUDA GPU; set gpus to 1 or more, or use method "lora"',
        [{ field: 'gpus', message: 'must be at least 1 for qlora', in: 'body' }],
      );
    }
    await this.workers.assertSomeWorkerFits(gpus);

    const now = isoNow();
    return Object.assign(new JobEntity(), {
      id: newId(),
      name: dto.name ?? `${method}-${baseModel.split('/').pop()}`.slice(0, 128),
      owner,
      status: 'queued',
      baseModel,
      method,
      recordFormat: recordFormat ?? dto.record_format ?? 'chat',
      hyperparameters: resolveHyperparameters(dto.hyperparameters, method),
      data,
      gpusRequired: gpus,
      priority: dto.priority ?? 0,
      timeLimitSeconds: dto.time_limit_seconds ?? null,
      metadata,
      idempotencyKey: null,
      requestHash: null,
      retryOf: retryOf ?? null,
      createdAt: now,
      updatedAt: now,
      queuedAt: now,
      startedAt: null,
      finishedAt: null,
      workerId: null,
      assignedGpus: null,
      leaseExpiresAt: null,
      attempts: 0,
      maxAttempts: this.config.jobs.maxAttempts,
      resumeCheckpoint: null,
      lastCheckpoint: null,
      stopReason: null,
      errorCode: null,
      errorMessage: null,
      exitCode: null,
      progress: null,
      lastMetrics: null,
      lastEventSeq: 0,
      adapterPath: null,
    } satisfies JobEntity);
  }

  private checkBaseModel(baseModel: string, problems: FieldError[]): string {
    if (baseModel.startsWith('/')) {
      const real = this.folders.resolveModelPath(baseModel);
      if (!real) {
        problems.push({
          field: 'base_model',
          message: `local model folder not found inside an allowed model folder (${this.folders.modelRoots().join(', ')})`,
          in: 'body',
        });
      }
      return real ?? baseModel;
    }
    if (!HUB_ID.test(baseModel) || baseModel.includes('..')) {
      problems.push({
        field: 'base_model',
        message: 'base_model must be a hub id like "org/model" or an absolute local path',
        in: 'body',
      });
    }
    return baseModel;
  }

  /** Either a dataset version (must exist and be ready) or files inside the data folder. */
  private async checkData(
    dto: CreateJobDto,
    problems: FieldError[],
  ): Promise<{ data: JobData; recordFormat?: RecordFormat }> {
    const { dataset_id: datasetId, dataset_version: version, train_file: trainFile } = dto.data;
    const field = (name: string, message: string) =>
      problems.push({ field: `data.${name}`, message, in: 'body' });
    if (datasetId !== undefined || version !== undefined) {
      if (trainFile !== undefined || dto.data.validation_file !== undefined) {
        field('dataset_id', 'give either a dataset version or files, not both');
      }
      if (datasetId === undefined || version === undefined) {
        field(
          datasetId === undefined ? 'dataset_id' : 'dataset_version',
          'dataset_id and dataset_version go together',
        );
        return { data: {} };
      }
      if (!this.datasets) {
        field(
          'dataset_id',
          'this training service has no access to datasets (set CLARA_DATASETS_URL)',
        );
        return { data: {} };
      }
      const summary = await this.datasets.describe(datasetId, version);
      if (!summary) {
        throw new JobNotRunnableError(
          'dataset_version_not_found',
          `Dataset ${datasetId} has no version ${version}`,
          [{ field: 'data.dataset_version', message: 'no such dataset version', in: 'body' }],
        );
      }
      if (summary.status !== 'ready') {
        throw new JobNotRunnableError(
          'dataset_version_not_ready',
          `Dataset ${datasetId} version ${version} is ${summary.status}, not ready`,
          [
            {
              field: 'data.dataset_version',
              message: `the version is ${summary.status}`,
              in: 'body',
            },
          ],
        );
      }
      if (summary.splits.train === 0)
        field('dataset_version', 'the version has no training records');
      if (dto.record_format !== undefined && dto.record_format !== summary.record_format) {
        problems.push({
          field: 'record_format',
          message: `the dataset version holds ${summary.record_format} records`,
          in: 'body',
        });
      }
      return {
        data: { dataset_id: datasetId, dataset_version: version },
        recordFormat: summary.record_format as RecordFormat,
      };
    }
    if (trainFile === undefined) {
      field('train_file', 'give data.train_file or data.dataset_id with data.dataset_version');
      return { data: {} };
    }
    const data: JobData = {};
    for (const key of ['train_file', 'validation_file'] as const) {
      const given = dto.data[key];
      if (given === undefined) continue;
      if (!this.folders.resolveDataFile(given))
        field(key, `no such file in the data folder: ${given}`);
      data[key] = given;
    }
    return { data };
  }

  async get(id: string): Promise<JobDto> {
    return this.toDto(await this.require(id));
  }

  async list(query: ListJobsQueryDto): Promise<Page<JobDto>> {
    const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
    const rows = await this.jobs.list(query, limit);
    const page = toPage(
      rows,
      limit,
      (row) => row,
      (row) => ({ t: row.createdAt, id: row.id }),
    );
    // One query for the whole page's queue positions, not one per queued job.
    const positions = await this.jobs.queuePositions(
      page.data.filter((row) => row.status === 'queued').map((row) => row.id),
    );
    return {
      ...page,
      data: await Promise.all(
        page.data.map((row) => this.toDto(row, positions.get(row.id) ?? null)),
      ),
    };
  }

  /** Queued: cancelled at once. Running: `cancelling` until its worker has stopped the process. */
  async cancel(principal: Principal, id: string): Promise<JobDto> {
    let job = await this.require(id);
    assertOwnerOrAdmin(principal, job.owner, 'job');
    const by = { message: `Cancel requested by ${principal.subject}` };
    if (job.status === 'queued') {
      if (await this.jobs.cancelQueued(id)) {
        await this.events.append(id, [
          { type: 'status', time: isoNow(), data: { status: 'cancelled', ...by } },
        ]);
        this.bus.jobChanged(id);
        return this.get(id);
      }
      job = await this.require(id); // a worker claimed it meanwhile
    }
    if (job.status === 'running' && (await this.jobs.requestCancel(id))) {
      await this.events.append(id, [
        { type: 'status', time: isoNow(), data: { status: 'cancelling', ...by } },
      ]);
      this.bus.stopRequested(id);
    } else if (isTerminal(job.status)) {
      throw new JobStateError(id, job.status, 'cancelled');
    }
    this.bus.jobChanged(id);
    return this.get(id);
  }

  /** A failed or cancelled job again, as a new job with the same spec. */
  async retry(principal: Principal, id: string): Promise<JobDto> {
    const original = await this.require(id);
    assertOwnerOrAdmin(principal, original.owner, 'job');
    if (original.status !== 'failed' && original.status !== 'cancelled')
      throw new JobStateError(id, original.status, 'retried');
    const dto: CreateJobDto = {
      name: original.name,
      base_model: original.baseModel,
      method: original.method,
      record_format: original.recordFormat,
      hyperparameters: original.hyperparameters,
      data: original.data,
      gpus: original.gpusRequired,
      priority: original.priority,
      time_limit_seconds: original.timeLimitSeconds ?? undefined,
      metadata: original.metadata,
    };
    const job = await this.buildJob(original.owner, dto, original.id);
    await this.jobs.insert(job);
    await this.events.append(job.id, [
      {
        type: 'status',
        time: job.createdAt,
        data: { status: 'queued', message: `Retry of ${original.id}` },
      },
    ]);
    this.bus.jobQueued();
    return this.toDto(job);
  }

  /** Admins remove a finished job, its events and its run folder. */
  async delete(id: string): Promise<void> {
    const job = await this.require(id);
    if (!isTerminal(job.status))
      throw new JobStateError(id, job.status, 'deleted before it has finished (cancel it first)');
    await this.jobs.delete(id);
    await rm(this.folders.runDir(id), { recursive: true, force: true });
  }

  async require(id: string): Promise<JobEntity> {
    const job = await this.jobs.findById(id);
    if (!job) throw new NotFoundError('job', id);
    return job;
  }

  async toDto(job: JobEntity, queuePosition?: number | null): Promise<JobDto> {
    return {
      id: job.id,
      object: 'training.job',
      name: job.name,
      owner: job.owner,
      status: job.status,
      base_model: job.baseModel,
      method: job.method,
      record_format: job.recordFormat,
      hyperparameters: job.hyperparameters,
      data: job.data,
      gpus: job.gpusRequired,
      priority: job.priority,
      time_limit_seconds: job.timeLimitSeconds,
      metadata: job.metadata,
      queue_position:
        queuePosition !== undefined
          ? queuePosition
          : job.status === 'queued'
            ? await this.jobs.queuePosition(job)
            : null,
      worker_id: job.workerId,
      assigned_gpus: job.assignedGpus ? job.assignedGpus.split(',').map(Number) : [],
      attempts: job.attempts,
      max_attempts: job.maxAttempts,
      retry_of: job.retryOf,
      created_at: job.createdAt,
      started_at: job.startedAt,
      finished_at: job.finishedAt,
      progress: job.progress,
      last_metrics: job.lastMetrics,
      resume_checkpoint: job.resumeCheckpoint,
      error: job.errorCode
        ? { code: job.errorCode, message: job.errorMessage ?? '', exit_code: job.exitCode }
        : null,
      adapter_url: job.adapterPath ? `/api/training/jobs/${job.id}/artifacts/adapter` : null,
    };
  }
}
