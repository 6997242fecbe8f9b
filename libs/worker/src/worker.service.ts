import { hostname } from 'node:os';

import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationBootstrap,
  type BeforeApplicationShutdown,
} from '@nestjs/common';
import { isoNow } from '@clara/common';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';
import {
  type DatasetCatalog,
  DATASET_CATALOG,
  JobEventBus,
  JobEventsRepository,
  JobsRepository,
  LeaseRecovery,
  RunFolders,
  WorkerEntity,
} from '@clara/jobs';

import { detectGpus } from './gpu-detection.js';
import { JobRunner } from './job-runner.js';

const VERSION = '0.1.0';

/**
 * The worker: registers and heartbeats, claims jobs that fit its free GPUs and slots,
 * runs each through a {@link JobRunner}, renews their leases, stops the ones cancelled
 * or lost, and on shutdown hands its jobs back to the queue. Everything it knows about
 * the queue is in the database; its memory only holds the processes it runs.
 */
@Injectable()
export class WorkerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Worker');
  readonly id: string;
  private gpus: number[] = [];
  private readonly runners = new Map<string, JobRunner>();
  private lastRenewal = Date.now();
  private draining = false;
  private heartbeatTimer?: NodeJS.Timeout;
  private pollTimer?: NodeJS.Timeout;
  private claiming: Promise<void> | null = null;
  private claimAgain = false;
  private unsubscribe: (() => void)[] = [];

  constructor(
    @Inject(CLARA_CONFIG) private readonly config: ClaraConfig,
    private readonly jobs: JobsRepository,
    private readonly events: JobEventsRepository,
    private readonly bus: JobEventBus,
    private readonly folders: RunFolders,
    private readonly recovery: LeaseRecovery,
    @Optional() @Inject(DATASET_CATALOG) private readonly datasets?: DatasetCatalog,
  ) {
    this.id = config.worker.id ?? `${hostname()}-${process.pid}`;
  }

  async onApplicationBootstrap(): Promise<void> {
    this.gpus = await detectGpus(this.config.worker.gpus);
    const now = isoNow();
    await this.jobs.upsertWorker(
      Object.assign(new WorkerEntity(), {
        id: this.id,
        host: hostname(),
        gpus: this.gpus.join(','),
        slots: this.config.worker.slots,
        status: 'active',
        version: VERSION,
        startedAt: now,
        lastHeartbeatAt: now,
      }),
    );
    // Jobs this worker id held before a restart are not running here: recover them now
    // instead of waiting for their leases to expire.
    if ((await this.jobs.expireLeasesOf(this.id)) > 0) await this.recovery.recover();
    this.logger.log(
      `worker ${this.id} registered: ${this.gpus.length ? `GPUs ${this.gpus.join(',')}` : 'no GPUs (CPU jobs only)'}, ${this.config.worker.slots} slot(s)`,
    );
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.config.worker.heartbeatMs);
    this.pollTimer = setInterval(() => this.wake(), this.config.worker.pollMs);
    this.unsubscribe.push(
      this.bus.onJobQueued(() => this.wake()),
      this.bus.onStopRequested((jobId) => this.runners.get(jobId)?.stop('cancel')),
    );
    this.wake();
  }

  /** SIGTERM: stop claiming, ask every trainer to checkpoint, hand the jobs back. */
  async beforeApplicationShutdown(): Promise<void> {
    this.draining = true;
    clearInterval(this.pollTimer);
    this.unsubscribe.forEach((off) => off());
    await this.jobs.heartbeatWorker(this.id, 'draining').catch(() => undefined);
    for (const runner of this.runners.values()) runner.stop('shutdown');
    await Promise.all([...this.runners.values()].map((r) => r.done));
    await this.claiming;
    clearInterval(this.heartbeatTimer);
    await this.jobs.heartbeatWorker(this.id, 'offline').catch(() => undefined);
    this.logger.log(`worker ${this.id} stopped`);
  }

  private freeGpus(): number[] {
    const busy = new Set([...this.runners.values()].flatMap((r) => r.gpus));
    return this.gpus.filter((gpu) => !busy.has(gpu));
  }

  private wake(): void {
    if (this.draining) return;
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    this.claiming = this.claimWhileFree()
      .catch((error: unknown) => this.logger.error(error as Error, 'claiming failed'))
      .finally(() => {
        this.claiming = null;
        if (this.claimAgain) {
          this.claimAgain = false;
          this.wake();
        }
      });
  }

  private async claimWhileFree(): Promise<void> {
    while (!this.draining && this.runners.size < this.config.worker.slots) {
      const free = this.freeGpus();
      const job = await this.jobs.claim(this.id, free.length, this.config.jobs.leaseSeconds);
      if (!job) return;
      const gpus = free.slice(0, job.gpusRequired);
      await this.jobs.assignGpus(job.id, this.id, gpus);
      job.assignedGpus = gpus.join(',');
      this.logger.log(
        `claimed job ${job.id} (attempt ${job.attempts}${gpus.length ? `, GPUs ${gpus.join(',')}` : ', CPU'})`,
      );
      const runner = new JobRunner(
        job,
        this.id,
        gpus,
        this.config,
        this.jobs,
        this.events,
        this.bus,
        this.folders,
        this.datasets,
      );
      this.runners.set(job.id, runner);
      void runner.done.finally(() => {
        this.runners.delete(job.id);
        this.wake();
      });
    }
  }

  /**
   * Renews this worker's leases and learns, from the same statement, which jobs it still
   * holds: a job cancelled meanwhile is stopped, a job taken away (lease expired) is
   * killed at once so it never runs twice. If renewing keeps failing (database gone), the
   * worker stops its trainers itself before their leases can expire.
   */
  private async heartbeat(): Promise<void> {
    try {
      await this.jobs.heartbeatWorker(this.id, this.draining ? 'draining' : 'active');
      // Judge only the runners that existed when renewing: one claimed meanwhile has a
      // fresh lease from its claim and is simply not in this answer.
      const renewing = new Map(this.runners);
      const held = await this.jobs.renewLeases(
        this.id,
        [...renewing.keys()],
        this.config.jobs.leaseSeconds,
      );
      this.lastRenewal = Date.now();
      const heldIds = new Map(held.map((row) => [row.id, row.status]));
      for (const [id, runner] of renewing) {
        const status = heldIds.get(id);
        if (status === undefined) runner.stop('lease_lost');
        else if (status === 'cancelling') runner.stop('cancel');
      }
      await this.recovery.recover();
    } catch (error) {
      this.logger.warn(`heartbeat failed: ${(error as Error).message}`);
      if (Date.now() - this.lastRenewal > this.config.jobs.leaseSeconds * 800) {
        for (const runner of this.runners.values()) runner.stop('lease_lost');
      }
    }
  }
}
