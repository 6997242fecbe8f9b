import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager, In, MoreThan, type QueryDeepPartialEntity } from 'typeorm';

import { JobEntity, JobEventEntity } from './job.entity.js';
import type { JobEventType } from './job.types.js';
import { Sql } from './sql.js';

interface SqliteStatement {
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
}

interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  transaction<T>(fn: () => T): () => T;
}

export interface NewJobEvent {
  type: JobEventType;
  time: string;
  data: Record<string, unknown>;
}

/** Side effects an event batch has on the job row, written in the same transaction. */
export interface JobRowUpdate {
  progress?: JobEntity['progress'];
  lastMetrics?: Record<string, number>;
  lastCheckpoint?: string;
  adapterPath?: string;
}

/**
 * The per-job event log. Sequence numbers are allocated in the database (one counter on
 * the job row, bumped in the same transaction as the insert), so the API and the worker
 * can both append without ever producing a gap or a duplicate.
 */
@Injectable()
export class JobEventsRepository {
  private readonly sql: Sql;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    this.sql = new Sql(dataSource);
  }

  async append(
    jobId: string,
    events: NewJobEvent[],
    update: JobRowUpdate = {},
  ): Promise<JobEventEntity[]> {
    if (events.length === 0 && Object.keys(update).length === 0) return [];
    if (!this.sql.postgres) return this.appendOnSqlite(jobId, events, update);
    return this.dataSource.transaction(async (manager) => {
      const stored = await this.appendIn(manager, jobId, events);
      if (Object.keys(update).length > 0) {
        await manager.update(JobEntity, { id: jobId }, update);
      }
      return stored;
    });
  }

  /**
   * SQLite: one connection serves the whole process, so an async TypeORM transaction could
   * interleave with other requests' statements. Run the whole append synchronously on the
   * driver's connection instead: nothing else can run in between, and it commits or rolls
   * back as one.
   */
  private appendOnSqlite(
    jobId: string,
    events: NewJobEvent[],
    update: JobRowUpdate,
  ): JobEventEntity[] {
    const db = (this.dataSource.driver as unknown as { databaseConnection: SqliteConnection })
      .databaseConnection;
    const run = db.transaction((): JobEventEntity[] => {
      let entities: JobEventEntity[] = [];
      if (events.length > 0) {
        const row = db
          .prepare(
            'UPDATE jobs SET last_event_seq = last_event_seq + ? WHERE id = ? RETURNING last_event_seq',
          )
          .get(events.length, jobId) as { last_event_seq: number } | undefined;
        if (!row) return [];
        const first = row.last_event_seq - events.length + 1;
        const insert = db.prepare(
          'INSERT INTO job_events (job_id, seq, type, occurred_at, data) VALUES (?, ?, ?, ?, ?)',
        );
        entities = events.map((event, i) => {
          insert.run(jobId, first + i, event.type, event.time, JSON.stringify(event.data));
          return Object.assign(new JobEventEntity(), {
            jobId,
            seq: first + i,
            type: event.type,
            occurredAt: event.time,
            data: event.data,
          });
        });
      }
      const columns: [string, unknown][] = [
        ['progress', update.progress],
        ['last_metrics', update.lastMetrics],
        ['last_checkpoint', update.lastCheckpoint],
        ['adapter_path', update.adapterPath],
      ].filter(([, value]) => value !== undefined) as [string, unknown][];
      if (columns.length > 0) {
        const values = columns.map(([, value]) =>
          typeof value === 'string' ? value : JSON.stringify(value),
        );
        db.prepare(
          `UPDATE jobs SET ${columns.map(([name]) => `${name} = ?`).join(', ')} WHERE id = ?`,
        ).run(...values, jobId);
      }
      return entities;
    });
    return run();
  }

  private async appendIn(
    manager: EntityManager,
    jobId: string,
    events: NewJobEvent[],
  ): Promise<JobEventEntity[]> {
    if (events.length === 0) return [];
    const [row] = await this.sql.rows<{ last_event_seq: number }>(
      'UPDATE jobs SET last_event_seq = last_event_seq + $1 WHERE id = $2 RETURNING last_event_seq',
      [events.length, jobId],
      manager,
    );
    if (!row) return [];
    const first = Number(row.last_event_seq) - events.length + 1;
    const entities = events.map((event, i) =>
      Object.assign(new JobEventEntity(), {
        jobId,
        seq: first + i,
        type: event.type,
        occurredAt: event.time,
        data: event.data,
      }),
    );
    // Chunked so a burst of log lines stays under SQLite's bound-parameter limit.
    for (let i = 0; i < entities.length; i += 100)
      await manager.insert(
        JobEventEntity,
        entities.slice(i, i + 100) as QueryDeepPartialEntity<JobEventEntity>[],
      );
    return entities;
  }

  list(jobId: string, after: number, limit: number, types?: string[]): Promise<JobEventEntity[]> {
    return this.dataSource.getRepository(JobEventEntity).find({
      where: { jobId, seq: MoreThan(after), ...(types?.length ? { type: In(types) } : {}) },
      order: { seq: 'ASC' },
      take: limit,
    });
  }

  ofType(jobId: string, type: JobEventType): Promise<JobEventEntity[]> {
    return this.dataSource
      .getRepository(JobEventEntity)
      .find({ where: { jobId, type }, order: { seq: 'ASC' } });
  }
}
