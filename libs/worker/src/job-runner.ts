import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { Logger } from '@nestjs/common';
import { isoNow } from '@clara/common';
import { inheritableEnvironment, type ClaraConfig } from '@clara/config';
import {
  type DatasetCatalog,
  type JobEntity,
  type JobEventBus,
  type JobEventsRepository,
  type JobsRepository,
  type JobRowUpdate,
  type NewJobEvent,
  type RunFolders,
  type StopReason,
  TRAINER_EXIT_CODES,
} from '@clara/jobs';

import { parseTrainerLine } from './trainer-protocol.js';
import { type TrainerExit, TrainerProcess } from './trainer-process.js';

export type LocalStopReason = StopReason | 'lease_lost';

interface DataFiles {
  train: string | null;
  validation: string | null;
}

const FLUSH_MS = 100;
const MAX_LOG_LINE = 4096;

/**
 * Runs one claimed job to its end: writes `job.json`, spawns the trainer, stores its events
 * in order (batched, with the job row updates they imply), enforces the time limit and
 * stop requests, and records the outcome from the exit code.
 */
export class JobRunner {
  private readonly logger: Logger;
  private process?: TrainerProcess;
  private stopReason?: LocalStopReason;
  private buffer: NewJobEvent[] = [];
  private update: JobRowUpdate = {};
  private flushing: Promise<void> = Promise.resolve();
  private flushTimer?: NodeJS.Timeout;
  private timeLimitTimer?: NodeJS.Timeout;
  private lastError?: { code?: string; message: string };
  readonly done: Promise<void>;

  constructor(
    readonly job: JobEntity,
    readonly workerId: string,
    readonly gpus: number[],
    private readonly config: ClaraConfig,
    private readonly jobs: JobsRepository,
    private readonly events: JobEventsRepository,
    private readonly bus: JobEventBus,
    private readonly folders: RunFolders,
    private readonly datasets?: DatasetCatalog,
  ) {
    this.logger = new Logger(`Job ${job.id}`);
    this.done = this.run().catch(async (error: unknown) => {
      // Whatever broke here (spawn, disk, database), the job must not stay `running`.
      this.logger.error(error, 'job runner failed');
      this.process?.kill();
      await this.finishWithoutProcess(
        'worker_error',
        `The worker failed while running the job: ${(error as Error).message}`,
      ).catch((finishError: unknown) =>
        this.logger.error(finishError as Error, 'could not record the failure'),
      );
    });
  }

  /** Ask the trainer to checkpoint and stop; the reason decides what the job becomes. */
  stop(reason: LocalStopReason): void {
    if (this.stopReason === 'cancel' && reason !== 'cancel') return;
    this.stopReason ??= reason;
    if (reason === 'cancel') this.stopReason = 'cancel';
    this.process?.stop(this.config.worker.killGraceSeconds);
  }

  private async run(): Promise<void> {
    const job = this.job;
    const runDir = this.folders.runDir(job.id);
    const outputDir = this.folders.outputDir(job.id);
    await mkdir(outputDir, { recursive: true });
    let files: DataFiles;
    try {
      files = await this.dataFiles(runDir);
    } catch (error) {
      await this.finishWithoutProcess(
        'dataset_unavailable',
        `The training data could not be prepared: ${(error as Error).message}`,
      );
      return;
    }
    await writeFile(
      this.folders.specPath(job.id),
      JSON.stringify(this.trainerSpec(outputDir, files), null, 2),
    );

    this.emit({
      type: 'status',
      time: isoNow(),
      data: {
        status: 'running',
        worker_id: this.workerId,
        gpus: this.gpus,
        attempt: job.attempts,
        ...(job.resumeCheckpoint ? { resume_from_checkpoint: job.resumeCheckpoint } : {}),
      },
    });
    const [program, ...args] = this.config.trainer.command;
    this.process = new TrainerProcess({
      command: [program, ...args, '--config', this.folders.specPath(job.id)],
      cwd: runDir,
      env: this.trainerEnvironment(),
      logPath: this.folders.logPath(job.id),
      onStdoutLine: (line) => this.onStdout(line),
      onStderrLine: (line) =>
        this.emit({
          type: 'log',
          time: isoNow(),
          data: { stream: 'stderr', line: line.slice(0, MAX_LOG_LINE) },
        }),
    });
    if (this.stopReason) this.process.stop(this.config.worker.killGraceSeconds);
    if (job.timeLimitSeconds) {
      this.timeLimitTimer = setTimeout(() => this.stop('time_limit'), job.timeLimitSeconds * 1000);
    }
    const exit = await this.process.exited;
    clearTimeout(this.timeLimitTimer);
    await this.flush();
    await this.settle(exit);
  }

  /**
   * Absolute paths of the training files: files in the data folder as given, or a dataset
   * version's splits written into the run folder (so the trainer reads exactly that version).
   */
  private async dataFiles(runDir: string): Promise<DataFiles> {
    const { data } = this.job;
    if (data.dataset_id === undefined || data.dataset_version === undefined) {
      const resolve = (relative?: string) =>
        relative ? (this.folders.resolveDataFile(relative) ?? null) : null;
      return { train: resolve(data.train_file), validation: resolve(data.validation_file) };
    }
    if (!this.datasets)
      throw new Error('this worker has no access to datasets (set CLARA_DATASETS_URL)');
    const summary = await this.datasets.describe(data.dataset_id, data.dataset_version);
    if (!summary || summary.status !== 'ready')
      throw new Error(`dataset version ${data.dataset_version} is not ready`);
    await mkdir(join(runDir, 'data'), { recursive: true });
    const train = join(runDir, 'data', 'train.jsonl');
    await this.datasets.writeJsonl(data.dataset_id, data.dataset_version, 'train', train);
    let validation: string | null = null;
    if (summary.splits.validation > 0) {
      validation = join(runDir, 'data', 'validation.jsonl');
      await this.datasets.writeJsonl(
        data.dataset_id,
        data.dataset_version,
        'validation',
        validation,
      );
    }
    this.emit({
      type: 'status',
      time: isoNow(),
      data: {
        status: 'running',
        phase: 'dataset_ready',
        dataset_id: data.dataset_id,
        version: data.dataset_version,
        checksum: summary.checksum,
        splits: summary.splits,
      },
    });
    return { train, validation };
  }

  private async finishWithoutProcess(code: string, message: string): Promise<void> {
    await this.flush();
    const held = await this.jobs.finish(this.job.id, this.workerId, {
      status: 'failed',
      errorCode: code,
      errorMessage: message,
    });
    if (held) {
      await this.events.append(this.job.id, [
        { type: 'status', time: isoNow(), data: { status: 'failed', error_code: code, message } },
      ]);
    }
    this.bus.jobChanged(this.job.id);
  }

  /** The one contract with the trainer (apps/trainer/README.md): paths are absolute. */
  private trainerSpec(outputDir: string, files: DataFiles): Record<string, unknown> {
    const job = this.job;
    return {
      job_id: job.id,
      base_model: job.baseModel,
      method: job.method,
      record_format: job.recordFormat,
      train_file: files.train,
      validation_file: files.validation,
      output_dir: outputDir,
      resume_from_checkpoint: job.resumeCheckpoint,
      dataset: job.data.dataset_id
        ? { dataset_id: job.data.dataset_id, version: job.data.dataset_version }
        : null,
      hyperparameters: job.hyperparameters,
    };
  }

  private trainerEnvironment(): Record<string, string> {
    const env: Record<string, string> = {
      ...inheritableEnvironment(),
      CUDA_VISIBLE_DEVICES: this.gpus.join(','),
      PYTHONUNBUFFERED: '1',
      CLARA_JOB_ID: this.job.id,
    };
    const extra = this.config.trainer.pythonPath;
    if (extra) env.PYTHONPATH = [extra, env.PYTHONPATH].filter(Boolean).join(':');
    return env;
  }

  private onStdout(line: string): void {
    const event = parseTrainerLine(line);
    if (!event) {
      if (line.trim())
        this.emit({
          type: 'log',
          time: isoNow(),
          data: { stream: 'stdout', line: line.slice(0, MAX_LOG_LINE) },
        });
      return;
    }
    const data = event.data;
    switch (event.type) {
      case 'progress':
        this.update.progress = {
          step: Number(data.step),
          total_steps: Number(data.total_steps),
          epoch: Number(data.epoch ?? 0),
        };
        break;
      case 'metric': {
        const numbers = Object.fromEntries(
          Object.entries(data).filter(([, v]) => typeof v === 'number'),
        ) as Record<string, number>;
        this.update.lastMetrics = {
          ...(this.update.lastMetrics ?? this.job.lastMetrics ?? {}),
          ...numbers,
        };
        break;
      }
      case 'checkpoint':
        if (!this.folders.insideRun(this.job.id, String(data.path)))
          return this.refusePath(event.type, data.path);
        this.update.lastCheckpoint = String(data.path);
        break;
      case 'artifact':
        if (!this.folders.insideRun(this.job.id, String(data.path)))
          return this.refusePath(event.type, data.path);
        if (data.kind === 'adapter') this.update.adapterPath = String(data.path);
        break;
      case 'error':
        this.lastError = {
          code: typeof data.code === 'string' ? data.code : undefined,
          message: String(data.message),
        };
        break;
      case 'status':
        break;
    }
    this.emit({ type: event.type, time: event.time ?? isoNow(), data });
  }

  private refusePath(type: string, path: unknown): void {
    this.emit({
      type: 'log',
      time: isoNow(),
      data: { stream: 'worker', line: `ignored ${type} outside the run folder: ${String(path)}` },
    });
  }

  private emit(event: NewJobEvent): void {
    this.buffer.push(event);
    if (this.buffer.length >= 200) void this.flush();
    else this.flushTimer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Stores buffered events in order; one flush at a time. */
  private flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const events = this.buffer;
    const update = this.update;
    this.buffer = [];
    this.update = {};
    if (events.length === 0 && Object.keys(update).length === 0) return this.flushing;
    this.flushing = this.flushing
      .then(() => this.events.append(this.job.id, events, update))
      .then(() => this.bus.jobChanged(this.job.id))
      .catch((error: unknown) =>
        this.logger.error(error as Error, 'could not store trainer events'),
      );
    return this.flushing;
  }

  private async settle(exit: TrainerExit): Promise<void> {
    const job = this.job;
    const reason = this.stopReason ?? (await this.jobs.statusOf(job.id))?.stopReason ?? undefined;
    const finish = async (
      status: 'succeeded' | 'failed' | 'cancelled',
      code: string | null,
      message: string | null,
    ) => {
      const held = await this.jobs.finish(job.id, this.workerId, {
        status,
        errorCode: code,
        errorMessage: message,
        exitCode: exit.code,
      });
      if (!held) return; // recovered elsewhere meanwhile: not ours to record
      await this.events.append(job.id, [
        {
          type: 'status',
          time: isoNow(),
          data: {
            status,
            ...(code ? { error_code: code, message } : {}),
            exit_code: exit.code,
            signal: exit.signal,
          },
        },
      ]);
    };

    if (exit.spawnError) {
      await finish(
        'failed',
        'trainer_not_found',
        `The trainer could not be started (${exit.spawnError}). For the default Python trainer run \`bash test/setup/python-venv.sh\`, or set CLARA_TRAINER_COMMAND.`,
      );
    } else if (reason === 'lease_lost') {
      this.logger.warn('stopped a trainer whose lease this worker lost');
    } else if (reason === 'shutdown') {
      if (await this.jobs.handBack(job.id, this.workerId)) {
        await this.events.append(job.id, [
          {
            type: 'status',
            time: isoNow(),
            data: {
              status: 'queued',
              message: 'Worker shut down; the job will resume from its last checkpoint',
            },
          },
        ]);
        this.bus.jobQueued();
      }
    } else if (reason === 'cancel') {
      await finish('cancelled', 'cancelled', 'Cancelled on request');
    } else if (reason === 'time_limit') {
      await finish(
        'failed',
        'time_limit_exceeded',
        `The job ran longer than its time limit of ${job.timeLimitSeconds} s`,
      );
    } else if (exit.code === 0) {
      await finish('succeeded', null, null);
    } else if (exit.code !== null && TRAINER_EXIT_CODES[exit.code]) {
      const known = TRAINER_EXIT_CODES[exit.code];
      await finish(
        'failed',
        exit.code === 5 ? 'terminated' : known.code,
        this.lastError?.message ?? known.message,
      );
    } else if (exit.signal) {
      await finish('failed', 'trainer_killed', `The trainer was killed by ${exit.signal}`);
    } else {
      await finish(
        'failed',
        'trainer_crashed',
        this.lastError?.message ?? `The trainer exited with code ${exit.code}`,
      );
    }
    this.bus.jobChanged(job.id);
  }
}
