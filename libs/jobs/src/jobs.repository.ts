import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { decodeCursor, isoNow } from '@clara/common';
import { Brackets, DataSource, In, type QueryDeepPartialEntity, type Repository } from 'typeorm';

import { JobEntity, WorkerEntity } from './job.entity.js';
import type { ListJobsQueryDto } from './jobs.dto.js';
import { ACTIVE_STATUSES, type JobStatus, type StopReason } from './job.types.js';
import { Sql } from './sql.js';

export interface JobOutcome {
  status: Extract<JobStatus, 'succeeded' | 'failed' | 'cancelled'>;
  errorCode?: string | null;
  errorMessage?: string | null;
  exitCode?: number | null;
}

export interface RecoveredJob {
  id: string;
  status: JobStatus;
}

function secondsFromNow(seconds: number): string {
  return new Date(Date.now() + seconds * 1000).toISOString();
}

/** Every query on jobs and workers, including the queue's atomic claim and lease handling. */
@Injectable()
export class JobsRepository {
  private readonly sql: Sql;

  constructor(
    @InjectRepository(JobEntity) private readonly jobs: Repository<JobEntity>,
    @InjectRepository(WorkerEntity) private readonly workers: Repository<WorkerEntity>,
    @InjectDataSource() dataSource: DataSource,
  ) {
    this.sql = new Sql(dataSource);
  }

  async insert(job: JobEntity): Promise<void> {
    await this.jobs.insert(job as QueryDeepPartialEntity<JobEntity>);
  }

  findById(id: string): Promise<JobEntity | null> {
    return this.jobs.findOneBy({ id });
  }

  findByIdempotencyKey(owner: string, key: string): Promise<JobEntity | null> {
    return this.jobs.findOneBy({ owner, idempotencyKey: key });
  }

  /** Newest first by (created_at, id); `limit + 1` rows so the caller knows if more exist. */
  list(query: ListJobsQueryDto, limit: number): Promise<JobEntity[]> {
    const qb = this.jobs.createQueryBuilder('j');
    if (query.status?.length) qb.andWhere('j.status IN (:...statuses)', { statuses: query.status });
    if (query.owner) qb.andWhere('j.owner = :owner', { owner: query.owner });
    if (query.created_after)
      qb.andWhere('j.created_at >= :after', { after: new Date(query.created_after).toISOString() });
    if (query.created_before)
      qb.andWhere('j.created_at < :before', {
        before: new Date(query.created_before).toISOString(),
      });
    const cursor = decodeCursor<{ t: string; id: string }>(query.cursor, ['t', 'id']);
    if (cursor) {
      qb.andWhere(
        new Brackets((w) =>
          w
            .where('j.created_at < :ct', { ct: cursor.t })
            .orWhere('(j.created_at = :ct AND j.id < :cid)', { ct: cursor.t, cid: cursor.id }),
        ),
      );
    }
    return qb
      .orderBy('j.created_at', 'DESC')
      .addOrderBy('j.id', 'DESC')
      .limit(limit + 1)
      .getMany();
  }

  /** 1 = the next queued job a worker would consider (priority, then age). */
  async queuePosition(job: JobEntity): Promise<number> {
    const ahead = await this.jobs
      .createQueryBuilder('j')
      .where('j.status = :queued', { queued: 'queued' })
      .andWhere(
        new Brackets((w) =>
          w
            .where('j.priority > :p', { p: job.priority })
            .orWhere('(j.priority = :p AND j.queued_at < :q)', { p: job.priority, q: job.queuedAt })
            .orWhere('(j.priority = :p AND j.queued_at = :q AND j.id < :id)', {
              p: job.priority,
              q: job.queuedAt,
              id: job.id,
            }),
        ),
      )
      .getCount();
    return ahead + 1;
  }

  /** Queue positions of several queued jobs at once (1 = next), by id. */
  async queuePositions(ids: string[]): Promise<Map<string, number>> {
    if (ids.length === 0) return new Map();
    const list = ids.map((_, i) => `$${i + 1}`).join(', ');
    const rows = await this.sql.rows<{ id: string; position: number | string }>(
      `SELECT id, position FROM (
         SELECT id, ROW_NUMBER() OVER (ORDER BY priority DESC, queued_at ASC, id ASC) AS position
         FROM jobs WHERE status = 'queued') ranked
       WHERE id IN (${list})`,
      ids,
    );
    return new Map(rows.map((row) => [row.id, Number(row.position)]));
  }

  async countByStatus(): Promise<Record<string, number>> {
    const rows = await this.jobs
      .createQueryBuilder('j')
      .select('j.status', 'status')
      .addSelect('COUNT(*)', 'count')
      .where('j.status IN (:...s)', { s: ['queued', 'running', 'cancelling'] })
      .groupBy('j.status')
      .getRawMany<{ status: string; count: string | number }>();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.count)]));
  }

  /** Cancels a queued job at once; false if it was no longer queued. */
  async cancelQueued(id: string): Promise<boolean> {
    const now = isoNow();
    const result = await this.jobs.update(
      { id, status: 'queued' },
      {
        status: 'cancelled',
        finishedAt: now,
        updatedAt: now,
        errorCode: 'cancelled',
        errorMessage: 'Cancelled before it started',
      },
    );
    return (result.affected ?? 0) > 0;
  }

  /** Marks a running job `cancelling`; its worker stops the process. False if not running. */
  async requestCancel(id: string): Promise<boolean> {
    const result = await this.jobs.update(
      { id, status: 'running' },
      { status: 'cancelling', stopReason: 'cancel', updatedAt: isoNow() },
    );
    return (result.affected ?? 0) > 0;
  }

  async delete(id: string): Promise<void> {
    await this.jobs.delete({ id });
  }

  /**
   * Atomically claims the highest-priority, oldest queued job that needs at most
   * `freeGpus` GPUs: one UPDATE … RETURNING (PostgreSQL skips rows other workers hold
   * locked, so claimers never wait on each other). Returns null when nothing fits.
   */
  async claim(workerId: string, freeGpus: number, leaseSeconds: number): Promise<JobEntity | null> {
    const now = isoNow();
    const lock = this.sql.postgres ? 'FOR UPDATE SKIP LOCKED' : '';
    const rows = await this.sql.rows<{ id: string }>(
      `UPDATE jobs SET status = 'running', worker_id = $1, attempts = attempts + 1, started_at = $2,
         updated_at = $2, lease_expires_at = $3, stop_reason = NULL, assigned_gpus = NULL
       WHERE id = (SELECT id FROM jobs WHERE status = 'queued' AND gpus_required <= $4
                   ORDER BY priority DESC, queued_at ASC, id ASC LIMIT 1 ${lock})
         AND status = 'queued'
       RETURNING id`,
      [workerId, now, secondsFromNow(leaseSeconds), freeGpus],
    );
    return rows.length ? this.findById(rows[0].id) : null;
  }

  async assignGpus(id: string, workerId: string, gpus: number[]): Promise<void> {
    await this.jobs.update({ id, workerId }, { assignedGpus: gpus.join(',') });
  }

  /**
   * Renews the leases of the jobs this worker is really running (`jobIds`: its live
   * processes) and returns which of them it still holds, with their state. A job the
   * database assigns to it but that it does not run is not renewed, so lease recovery
   * picks it up.
   */
  async renewLeases(
    workerId: string,
    jobIds: string[],
    leaseSeconds: number,
  ): Promise<{ id: string; status: JobStatus }[]> {
    if (jobIds.length === 0) return [];
    const ids = jobIds.map((_, i) => `$${i + 3}`).join(', ');
    return this.sql.rows<{ id: string; status: JobStatus }>(
      `UPDATE jobs SET lease_expires_at = $1
       WHERE worker_id = $2 AND status IN ('running', 'cancelling') AND id IN (${ids})
       RETURNING id, status`,
      [secondsFromNow(leaseSeconds), workerId, ...jobIds],
    );
  }

  /** Marks a worker's leases as expired (it restarted: whatever it ran is gone). */
  async expireLeasesOf(workerId: string): Promise<number> {
    const expired = new Date(Date.now() - 1000).toISOString();
    const result = await this.jobs.update(
      { workerId, status: In([...ACTIVE_STATUSES]) },
      { leaseExpiresAt: expired },
    );
    return result.affected ?? 0;
  }

  findActiveForWorker(workerId: string): Promise<JobEntity[]> {
    return this.jobs.findBy({ workerId, status: In([...ACTIVE_STATUSES]) });
  }

  async statusOf(id: string): Promise<{ status: JobStatus; stopReason: StopReason | null } | null> {
    const job = await this.jobs.findOne({
      where: { id },
      select: { status: true, stopReason: true },
    });
    return job ? { status: job.status, stopReason: job.stopReason } : null;
  }

  async setStopReason(id: string, workerId: string, reason: StopReason): Promise<void> {
    await this.jobs.update({ id, workerId }, { stopReason: reason });
  }

  /** Ends a job this worker still holds; false if the job was taken from it meanwhile. */
  async finish(id: string, workerId: string, outcome: JobOutcome): Promise<boolean> {
    const now = isoNow();
    const result = await this.jobs.update(
      { id, workerId, status: In([...ACTIVE_STATUSES]) },
      {
        status: outcome.status,
        finishedAt: now,
        updatedAt: now,
        leaseExpiresAt: null,
        errorCode: outcome.errorCode ?? null,
        errorMessage: outcome.errorMessage ?? null,
        exitCode: outcome.exitCode ?? null,
      },
    );
    return (result.affected ?? 0) > 0;
  }

  /**
   * Hands a job back to the queue (worker shutdown): it resumes from its last checkpoint,
   * and a hand-back does not count as a failed attempt.
   */
  async handBack(id: string, workerId: string): Promise<boolean> {
    const rows = await this.sql.rows<{ id: string }>(
      `UPDATE jobs SET status = 'queued', worker_id = NULL, assigned_gpus = NULL, lease_expires_at = NULL,
         resume_checkpoint = last_checkpoint, attempts = attempts - 1, stop_reason = NULL, updated_at = $1
       WHERE id = $2 AND worker_id = $3 AND status = 'running' RETURNING id`,
      [isoNow(), id, workerId],
    );
    return rows.length > 0;
  }

  /**
   * Jobs whose worker stopped renewing the lease: cancelling ones end cancelled, running
   * ones go back to the queue to resume from their last checkpoint, or fail once they have
   * used up their attempts. Safe to run from any process at any time.
   */
  async recoverExpiredLeases(): Promise<RecoveredJob[]> {
    const now = isoNow();
    const cancelled = await this.sql.rows<{ id: string }>(
      `UPDATE jobs SET status = 'cancelled', finished_at = $1, updated_at = $1, lease_expires_at = NULL,
         error_code = 'cancelled', error_message = 'Cancelled; the worker stopped responding while stopping it'
       WHERE status = 'cancelling' AND lease_expires_at < $1 RETURNING id`,
      [now],
    );
    const failed = await this.sql.rows<{ id: string }>(
      `UPDATE jobs SET status = 'failed', finished_at = $1, updated_at = $1, lease_expires_at = NULL,
         error_code = 'worker_lost', error_message = 'The worker running this job stopped responding, and the job has used all its attempts'
       WHERE status = 'running' AND lease_expires_at < $1 AND attempts >= max_attempts RETURNING id`,
      [now],
    );
    const requeued = await this.sql.rows<{ id: string }>(
      `UPDATE jobs SET status = 'queued', worker_id = NULL, assigned_gpus = NULL, lease_expires_at = NULL,
         resume_checkpoint = last_checkpoint, updated_at = $1
       WHERE status = 'running' AND lease_expires_at < $1 AND attempts < max_attempts RETURNING id`,
      [now],
    );
    return [
      ...cancelled.map((r) => ({ id: r.id, status: 'cancelled' as const })),
      ...failed.map((r) => ({ id: r.id, status: 'failed' as const })),
      ...requeued.map((r) => ({ id: r.id, status: 'queued' as const })),
    ];
  }

  // Workers -----------------------------------------------------------------------------

  async upsertWorker(worker: WorkerEntity): Promise<void> {
    await this.workers.upsert(worker, ['id']);
  }

  async heartbeatWorker(id: string, status: WorkerEntity['status']): Promise<void> {
    await this.workers.update({ id }, { lastHeartbeatAt: isoNow(), status });
  }

  listWorkers(): Promise<WorkerEntity[]> {
    return this.workers.find({ order: { id: 'ASC' } });
  }

  /** Workers that heartbeated recently and are not shutting down. */
  async liveWorkers(staleAfterSeconds: number): Promise<WorkerEntity[]> {
    const since = new Date(Date.now() - staleAfterSeconds * 1000).toISOString();
    const workers = await this.workers.find();
    return workers.filter((w) => w.status === 'active' && w.lastHeartbeatAt >= since);
  }

  runningOn(workerIds: string[]): Promise<JobEntity[]> {
    if (workerIds.length === 0) return Promise.resolve([]);
    return this.jobs.find({
      where: { workerId: In(workerIds), status: In([...ACTIVE_STATUSES]) },
      select: { id: true, workerId: true, assignedGpus: true, status: true },
    });
  }
}
