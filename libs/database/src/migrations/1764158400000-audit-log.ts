import { type MigrationInterface, type QueryRunner, Table, TableIndex } from 'typeorm';

import { isPostgres, TIMESTAMP } from './column-types.js';

export class AuditLog1764158400000 implements MigrationInterface {
  name = 'AuditLog1764158400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'audit_entries',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'occurred_at', ...TIMESTAMP },
          { name: 'service', type: 'varchar', length: '32' },
          { name: 'subject', type: 'varchar', length: '255', isNullable: true },
          { name: 'roles', type: 'varchar', length: '255' },
          { name: 'action', type: 'varchar', length: '128' },
          { name: 'resource_type', type: 'varchar', length: '64', isNullable: true },
          { name: 'resource_id', type: 'varchar', length: '255', isNullable: true },
          { name: 'outcome', type: 'varchar', length: '16' },
          { name: 'status_code', type: 'integer' },
          { name: 'method', type: 'varchar', length: '8' },
          { name: 'path', type: 'varchar', length: '2048' },
          { name: 'request_id', type: 'varchar', length: '128' },
          { name: 'client_address', type: 'varchar', length: '64', isNullable: true },
        ],
      }),
    );
    await queryRunner.createIndices('audit_entries', [
      new TableIndex({ name: 'ix_audit_entries_time', columnNames: ['occurred_at', 'id'] }),
      new TableIndex({ name: 'ix_audit_entries_subject', columnNames: ['subject', 'occurred_at'] }),
      new TableIndex({ name: 'ix_audit_entries_request', columnNames: ['request_id'] }),
    ]);
    // Append-only in the database itself, not just by having no API for it.
    if (isPostgres(queryRunner)) {
      await queryRunner.query(`
        CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit_entries is append-only'; END $$`);
      await queryRunner.query(`
        CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
        FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()`);
    } else {
      for (const event of ['UPDATE', 'DELETE']) {
        await queryRunner.query(`
          CREATE TRIGGER audit_entries_no_${event.toLowerCase()} BEFORE ${event} ON audit_entries
          BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END`);
      }
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('audit_entries');
    if (isPostgres(queryRunner)) {
      await queryRunner.query('DROP FUNCTION IF EXISTS audit_entries_append_only()');
    }
  }
}
