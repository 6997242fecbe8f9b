import { type MigrationInterface, type QueryRunner, Table, TableIndex } from 'typeorm';

import { TIMESTAMP } from './column-types.js';

/**
 * `Idempotency-Key` records for create routes (`@Idempotent()` in `@clara/platform`): one
 * row per (caller, service, route, key), claimed by its INSERT (the unique index lets one
 * request win), then holding the response it gave until it expires. The body is stored as
 * text on both engines, not `jsonb`, so a replay sends the very bytes of the first answer.
 */
export class Idempotency1764500000000 implements MigrationInterface {
  name = 'Idempotency1764500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'idempotency_keys',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'subject', type: 'varchar', length: '255' },
          { name: 'service', type: 'varchar', length: '32' },
          // Method and route template, e.g. `POST /api/datasets/datasets/:id/versions`.
          { name: 'route', type: 'varchar', length: '255' },
          { name: 'idempotency_key', type: 'varchar', length: '255' },
          // sha256 (hex) of the request: path parameters, query and canonical JSON body.
          { name: 'fingerprint', type: 'varchar', length: '64' },
          { name: 'state', type: 'varchar', length: '16' },
          { name: 'status_code', type: 'integer', isNullable: true },
          { name: 'response_body', type: 'text', isNullable: true },
          { name: 'request_id', type: 'varchar', length: '128', isNullable: true },
          { name: 'created_at', ...TIMESTAMP },
          { name: 'completed_at', ...TIMESTAMP, isNullable: true },
          { name: 'expires_at', ...TIMESTAMP },
        ],
      }),
    );
    await queryRunner.createIndex(
      'idempotency_keys',
      new TableIndex({
        name: 'ux_idempotency_keys_scope',
        columnNames: ['subject', 'service', 'route', 'idempotency_key'],
        isUnique: true,
      }),
    );
    await queryRunner.createIndex(
      'idempotency_keys',
      new TableIndex({ name: 'ix_idempotency_keys_expires', columnNames: ['expires_at'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('idempotency_keys');
  }
}
