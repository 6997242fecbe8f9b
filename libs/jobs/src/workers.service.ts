import { Inject, Injectable } from '@nestjs/common';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';

import { JobNotRunnableError } from './job-errors.js';
import type { WorkerDto } from './jobs.dto.js';
import { JobsRepository } from './jobs.repository.js';

/** What the API knows about workers: who is alive, what they hold, what could ever run. */
@Injectable()
export class WorkersService {
  constructor(
    private readonly jobs: JobsRepository,
    @Inject(CLARA_CONFIG) private readonly config: ClaraConfig,
  ) {}

  /** A worker that missed this many seconds of heartbeats counts as gone. */
  private get staleAfterSeconds(): number {
    return Math.max(this.config.jobs.leaseSeconds, (3 * this.config.worker.heartbeatMs) / 1000);
  }

  async list(): Promise<WorkerDto[]> {
    const workers = await this.jobs.listWorkers();
    const running = await this.jobs.runningOn(workers.map((w) => w.id));
    const staleBefore = new Date(Date.now() - this.staleAfterSeconds * 1000).toISOString();
    return workers.map((worker) => {
      const mine = running.filter((job) => job.workerId === worker.id);
      return {
        id: worker.id,
        host: worker.host,
        gpus: parseGpus(worker.gpus),
        slots: worker.slots,
        busy_slots: mine.length,
        busy_gpus: mine.flatMap((job) => parseGpus(job.assignedGpus ?? '')),
        status:
          worker.status !== 'offline' && worker.lastHeartbeatAt < staleBefore
            ? 'lost'
            : worker.status,
        last_heartbeat_at: worker.lastHeartbeatAt,
        started_at: worker.startedAt,
      };
    });
  }

  /** Refuses, before queueing, a job that no live worker could ever run. */
  async assertSomeWorkerFits(gpus: number): Promise<void> {
    const live = await this.jobs.liveWorkers(this.staleAfterSeconds);
    if (live.length === 0) {
      throw new JobNotRunnableError(
        'no_worker_available',
        'No worker is registered and alive; start one (or the embedded worker) and try again',
      );
    }
    const most = Math.max(...live.map((w) => parseGpus(w.gpus).length));
    if (gpus > most) {
      throw new JobNotRunnableError(
        'not_enough_gpus',
        `No worker has ${gpus} GPU(s); the largest has ${most}.${most === 0 ? ' Set gpus to 0 to train on CPU.' : ''}`,
        [{ field: 'gpus', message: `at most ${most} on the registered workers`, in: 'body' }],
      );
    }
  }

  /**
   * The status route's queue figures, computed at most once a second: monitoring polls it
   * often, and a second-old view of workers and counts is what such a page shows anyway.
   */
  status(): Record<string, unknown> | Promise<Record<string, unknown>> {
    const now = Date.now();
    if (!this.statusCache || this.statusCache.at + 1000 <= now) {
      const cache: StatusCache = { at: now, value: this.computeStatus() };
      this.statusCache = cache;
      cache.value.then(
        (figures) => (cache.figures = figures),
        () => {
          if (this.statusCache === cache) this.statusCache = undefined;
        },
      );
    }
    // Once computed, answered without a promise: this route is polled often.
    return this.statusCache.figures ?? this.statusCache.value;
  }

  private statusCache?: StatusCache;

  private async computeStatus(): Promise<Record<string, unknown>> {
    const [workers, counts] = await Promise.all([this.list(), this.jobs.countByStatus()]);
    const live = workers.filter((w) => w.status === 'active' || w.status === 'draining');
    return {
      active_jobs: (counts.running ?? 0) + (counts.cancelling ?? 0),
      queued_jobs: counts.queued ?? 0,
      max_concurrent_jobs: live.reduce((sum, w) => sum + w.slots, 0),
      worker_status: workers.map((w) => ({
        id: w.id,
        host: w.host,
        status: w.status,
        gpus: w.gpus,
        busy_slots: w.busy_slots,
        slots: w.slots,
        last_heartbeat_at: w.last_heartbeat_at,
      })),
    };
  }
}

export function parseGpus(value: string): number[] {
  return value
    .split(',')
    .filter((s) => s.trim() !== '')
    .map(Number);
}

interface StatusCache {
  at: number;
  value: Promise<Record<string, unknown>>;
  figures?: Record<string, unknown>;
}
