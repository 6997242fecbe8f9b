import { Injectable } from '@nestjs/common';
import { isoNow } from '@clara/common';
import { DataSource } from 'typeorm';

import { readJson, SqlDb, SqlParams } from '../stores/embedded/sql.js';

export const TASK_STATES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type TaskState = (typeof TASK_STATES)[number];

export interface TaskError {
  line?: number;
  document_id?: string;
  message: string;
}

export interface IngestTask {
  id: string;
  state: TaskState;
  source: string;
  filePath: string | null;
  options: Record<string, unknown>;
  total: number;
  processed: number;
  succeeded: number;
  failed: number;
  chunks: number;
  errors: TaskError[];
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

interface TaskRow {
  id: string;
  state: TaskState;
  source: string;
  file_path: string | null;
  options: unknown;
  total: number | string;
  processed: number | string;
  succeeded: number | string;
  failed: number | string;
  chunks: number | string;
  errors: unknown;
  created_by: string;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

/** Every query on `corpus_ingest_tasks`. */
@Injectable()
export class IngestTaskRepository {
  private readonly db: SqlDb;

  constructor(dataSource: DataSource) {
    this.db = new SqlDb(dataSource);
  }

  private params(): SqlParams {
    return new SqlParams(this.db.dialect);
  }

  async create(task: Omit<IngestTask, 'createdAt' | 'updatedAt' | 'finishedAt'>): Promise<void> {
    const p = this.params();
    const now = isoNow();
    await this.db.query(
      `INSERT INTO corpus_ingest_tasks (id, state, source, file_path, options, total, processed, succeeded, failed, chunks, errors, created_by, created_at, updated_at)
       VALUES (${p.add(task.id)}, ${p.add(task.state)}, ${p.add(task.source)}, ${p.add(task.filePath)}, ${p.json(task.options)},
               ${p.add(task.total)}, ${p.add(task.processed)}, ${p.add(task.succeeded)}, ${p.add(task.failed)}, ${p.add(task.chunks)},
               ${p.json(task.errors)}, ${p.add(task.createdBy)}, ${p.add(now)}, ${p.add(now)})`,
      p.values,
    );
  }

  async get(id: string): Promise<IngestTask | null> {
    const p = this.params();
    const rows = await this.db.query<TaskRow[]>(
      `SELECT * FROM corpus_ingest_tasks WHERE id = ${p.add(id)}`,
      p.values,
    );
    return rows.length > 0 ? toTask(rows[0]) : null;
  }

  /** Claims a queued (or interrupted) task; false if another runner has it. */
  async claim(id: string, from: TaskState[]): Promise<boolean> {
    const p = this.params();
    const result = await this.db.query<unknown>(
      `UPDATE corpus_ingest_tasks SET state = 'running', updated_at = ${p.add(isoNow())}
       WHERE id = ${p.add(id)} AND state IN ${p.list(from)} RETURNING id`,
      p.values,
    );
    return rowsOf(result).length > 0;
  }

  async progress(
    id: string,
    values: Pick<IngestTask, 'processed' | 'succeeded' | 'failed' | 'chunks' | 'errors'>,
  ): Promise<void> {
    const p = this.params();
    await this.db.query(
      `UPDATE corpus_ingest_tasks SET processed = ${p.add(values.processed)}, succeeded = ${p.add(values.succeeded)},
         failed = ${p.add(values.failed)}, chunks = ${p.add(values.chunks)}, errors = ${p.json(values.errors)},
         updated_at = ${p.add(isoNow())}
       WHERE id = ${p.add(id)}`,
      p.values,
    );
  }

  async finish(id: string, state: 'succeeded' | 'failed', errors: TaskError[]): Promise<void> {
    const p = this.params();
    const now = isoNow();
    await this.db.query(
      `UPDATE corpus_ingest_tasks SET state = ${p.add(state)}, errors = ${p.json(errors)}, updated_at = ${p.add(now)},
         finished_at = ${p.add(now)} WHERE id = ${p.add(id)}`,
      p.values,
    );
  }

  /** Tasks a previous process left unfinished. */
  async unfinished(): Promise<IngestTask[]> {
    const rows = await this.db.query<TaskRow[]>(
      `SELECT * FROM corpus_ingest_tasks WHERE state IN ('queued', 'running') ORDER BY created_at`,
    );
    return rows.map(toTask);
  }
}

/** `RETURNING` rows: an array on SQLite, `[rows, count]` for UPDATE on PostgreSQL. */
function rowsOf(result: unknown): unknown[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0])) {
    return result[0] as unknown[];
  }
  return Array.isArray(result) ? result : [];
}

function toTask(row: TaskRow): IngestTask {
  return {
    id: row.id,
    state: row.state,
    source: row.source,
    filePath: row.file_path,
    options: readJson<Record<string, unknown>>(row.options) ?? {},
    total: Number(row.total),
    processed: Number(row.processed),
    succeeded: Number(row.succeeded),
    failed: Number(row.failed),
    chunks: Number(row.chunks),
    errors: readJson<TaskError[]>(row.errors) ?? [],
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  };
}
