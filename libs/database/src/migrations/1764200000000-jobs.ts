import { type MigrationInterface, type QueryRunner, Table, TableIndex } from 'typeorm';

import { jsonType, TIMESTAMP } from './column-types.js';

/** Training jobs (the job table is the queue), their ordered events, and workers. */
export class Jobs1764200000000 implements MigrationInterface {
  name = 'Jobs1764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const json = jsonType(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'jobs',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'name', type: 'varchar', length: '128' },
          { name: 'owner', type: 'varchar', length: '255' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'base_model', type: 'varchar', length: '1024' },
          { name: 'method', type: 'varchar', length: '8' },
          { name: 'record_format', type: 'varchar', length: '16' },
          { name: 'hyperparameters', type: json },
          { name: 'data', type: json },
          { name: 'gpus_required', type: 'integer' },
          { name: 'priority', type: 'integer' },
          { name: 'time_limit_seconds', type: 'integer', isNullable: true },
          { name: 'metadata', type: json },
          { name: 'idempotency_key', type: 'varchar', length: '255', isNullable: true },
          { name: 'request_hash', type: 'varchar', length: '64', isNullable: true },
          { name: 'retry_of', type: 'varchar', length: '36', isNullable: true },
          { name: 'created_at', ...TIMESTAMP },
          { name: 'updated_at', ...TIMESTAMP },
          { name: 'queued_at', ...TIMESTAMP },
          { name: 'started_at', ...TIMESTAMP, isNullable: true },
          { name: 'finished_at', ...TIMESTAMP, isNullable: true },
          { name: 'worker_id', type: 'varchar', length: '128', isNullable: true },
          { name: 'assigned_gpus', type: 'varchar', length: '255', isNullable: true },
          { name: 'lease_expires_at', ...TIMESTAMP, isNullable: true },
          { name: 'attempts', type: 'integer', default: 0 },
          { name: 'max_attempts', type: 'integer' },
          { name: 'resume_checkpoint', type: 'varchar', length: '2048', isNullable: true },
          { name: 'last_checkpoint', type: 'varchar', length: '2048', isNullable: true },
          { name: 'stop_reason', type: 'varchar', length: '32', isNullable: true },
          { name: 'error_code', type: 'varchar', length: '64', isNullable: true },
          { name: 'error_message', type: 'text', isNullable: true },
          { name: 'exit_code', type: 'integer', isNullable: true },
          { name: 'progress', type: json, isNullable: true },
          { name: 'last_metrics', type: json, isNullable: true },
          { name: 'last_event_seq', type: 'integer', default: 0 },
          { name: 'adapter_path', type: 'varchar', length: '2048', isNullable: true },
        ],
      }),
    );
    await queryRunner.createIndices('jobs', [
      // The claim query: queued jobs by priority, then age.
      new TableIndex({ name: 'ix_jobs_queue', columnNames: ['status', 'priority', 'queued_at'] }),
      new TableIndex({ name: 'ix_jobs_created', columnNames: ['created_at', 'id'] }),
      new TableIndex({ name: 'ix_jobs_owner', columnNames: ['owner', 'created_at'] }),
      new TableIndex({ name: 'ix_jobs_worker', columnNames: ['worker_id', 'status'] }),
      new TableIndex({
        name: 'ux_jobs_idempotency',
        columnNames: ['owner', 'idempotency_key'],
        isUnique: true,
      }),
    ]);

    await queryRunner.createTable(
      new Table({
        name: 'job_events',
        columns: [
          { name: 'job_id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'seq', type: 'integer', isPrimary: true },
          { name: 'type', type: 'varchar', length: '16' },
          { name: 'occurred_at', ...TIMESTAMP },
          { name: 'data', type: json },
        ],
        foreignKeys: [
          {
            columnNames: ['job_id'],
            referencedTableName: 'jobs',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
        ],
      }),
    );
    await queryRunner.createIndex(
      'job_events',
      new TableIndex({ name: 'ix_job_events_type', columnNames: ['job_id', 'type', 'seq'] }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'workers',
        columns: [
          { name: 'id', type: 'varchar', length: '128', isPrimary: true },
          { name: 'host', type: 'varchar', length: '255' },
          { name: 'gpus', type: 'varchar', length: '255' },
          { name: 'slots', type: 'integer' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'version', type: 'varchar', length: '32' },
          { name: 'started_at', ...TIMESTAMP },
          { name: 'last_heartbeat_at', ...TIMESTAMP },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('workers');
    await queryRunner.dropTable('job_events');
    await queryRunner.dropTable('jobs');
  }
}
