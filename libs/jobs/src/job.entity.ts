import { Column, Entity, PrimaryColumn } from 'typeorm';

import type { JobStatus, RecordFormat, StopReason, TrainingMethod } from './job.types.js';

export interface JobData {
  /** Training file, resolved inside the data folder. */
  train_file?: string;
  validation_file?: string;
  /** A dataset version from the Datasets service (resolved to files by the worker). */
  dataset_id?: string;
  dataset_version?: number;
}

export interface JobProgress {
  step: number;
  total_steps: number;
  epoch: number;
}

/** A training job. The `jobs` table is also the queue: a worker claims rows atomically. */
@Entity({ name: 'jobs' })
export class JobEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  @Column({ type: 'varchar', length: 128 }) name!: string;
  @Column({ type: 'varchar', length: 255 }) owner!: string;
  @Column({ type: 'varchar', length: 16 }) status!: JobStatus;
  @Column({ name: 'base_model', type: 'varchar', length: 1024 }) baseModel!: string;
  @Column({ type: 'varchar', length: 8 }) method!: TrainingMethod;
  @Column({ name: 'record_format', type: 'varchar', length: 16 }) recordFormat!: RecordFormat;
  @Column({ type: 'simple-json' }) hyperparameters!: Record<string, unknown>;
  @Column({ type: 'simple-json' }) data!: JobData;
  @Column({ name: 'gpus_required', type: 'integer' }) gpusRequired!: number;
  @Column({ type: 'integer' }) priority!: number;
  @Column({ name: 'time_limit_seconds', type: 'integer', nullable: true }) timeLimitSeconds!:
    number | null;
  @Column({ type: 'simple-json' }) metadata!: Record<string, string>;
  @Column({ name: 'idempotency_key', type: 'varchar', length: 255, nullable: true })
  idempotencyKey!: string | null;
  @Column({ name: 'request_hash', type: 'varchar', length: 64, nullable: true }) requestHash!:
    string | null;
  @Column({ name: 'retry_of', type: 'varchar', length: 36, nullable: true }) retryOf!:
    string | null;
  @Column({ name: 'created_at', type: 'varchar', length: 24 }) createdAt!: string;
  @Column({ name: 'updated_at', type: 'varchar', length: 24 }) updatedAt!: string;
  @Column({ name: 'queued_at', type: 'varchar', length: 24 }) queuedAt!: string;
  @Column({ name: 'started_at', type: 'varchar', length: 24, nullable: true }) startedAt!:
    string | null;
  @Column({ name: 'finished_at', type: 'varchar', length: 24, nullable: true }) finishedAt!:
    string | null;
  @Column({ name: 'worker_id', type: 'varchar', length: 128, nullable: true }) workerId!:
    string | null;
  /** Comma-separated GPU indices on the worker, e.g. `0,1`. */
  @Column({ name: 'assigned_gpus', type: 'varchar', length: 255, nullable: true }) assignedGpus!:
    string | null;
  @Column({ name: 'lease_expires_at', type: 'varchar', length: 24, nullable: true })
  leaseExpiresAt!: string | null;
  @Column({ type: 'integer', default: 0 }) attempts!: number;
  @Column({ name: 'max_attempts', type: 'integer' }) maxAttempts!: number;
  @Column({ name: 'resume_checkpoint', type: 'varchar', length: 2048, nullable: true })
  resumeCheckpoint!: string | null;
  @Column({ name: 'last_checkpoint', type: 'varchar', length: 2048, nullable: true })
  lastCheckpoint!: string | null;
  @Column({ name: 'stop_reason', type: 'varchar', length: 32, nullable: true })
  stopReason!: StopReason | null;
  @Column({ name: 'error_code', type: 'varchar', length: 64, nullable: true }) errorCode!:
    string | null;
  @Column({ name: 'error_message', type: 'text', nullable: true }) errorMessage!: string | null;
  @Column({ name: 'exit_code', type: 'integer', nullable: true }) exitCode!: number | null;
  @Column({ type: 'simple-json', nullable: true }) progress!: JobProgress | null;
  @Column({ name: 'last_metrics', type: 'simple-json', nullable: true }) lastMetrics!: Record<
    string,
    number
  > | null;
  @Column({ name: 'last_event_seq', type: 'integer', default: 0 }) lastEventSeq!: number;
  @Column({ name: 'adapter_path', type: 'varchar', length: 2048, nullable: true }) adapterPath!:
    string | null;
}

@Entity({ name: 'job_events' })
export class JobEventEntity {
  @PrimaryColumn({ name: 'job_id', type: 'varchar', length: 36 }) jobId!: string;
  @PrimaryColumn({ type: 'integer' }) seq!: number;
  @Column({ type: 'varchar', length: 16 }) type!: string;
  @Column({ name: 'occurred_at', type: 'varchar', length: 24 }) occurredAt!: string;
  @Column({ type: 'simple-json' }) data!: Record<string, unknown>;
}

@Entity({ name: 'workers' })
export class WorkerEntity {
  @PrimaryColumn({ type: 'varchar', length: 128 }) id!: string;
  @Column({ type: 'varchar', length: 255 }) host!: string;
  /** Comma-separated GPU indices; empty for a CPU-only worker. */
  @Column({ type: 'varchar', length: 255 }) gpus!: string;
  @Column({ type: 'integer' }) slots!: number;
  @Column({ type: 'varchar', length: 16 }) status!: 'active' | 'draining' | 'offline';
  @Column({ type: 'varchar', length: 32 }) version!: string;
  @Column({ name: 'started_at', type: 'varchar', length: 24 }) startedAt!: string;
  @Column({ name: 'last_heartbeat_at', type: 'varchar', length: 24 }) lastHeartbeatAt!: string;
}
