import { type MigrationInterface, type QueryRunner, Table, TableIndex } from 'typeorm';

import { jsonType, TIMESTAMP } from './column-types.js';

/**
 * Datasets: named sets of training records in immutable, numbered versions. Each record
 * is stored once in its canonical JSON form (exports stream those bytes), with its lineage
 * (source documents and chunks); `dataset_version_documents` answers "which versions used
 * this document" without scanning records.
 */
export class Datasets1764400000000 implements MigrationInterface {
  name = 'Datasets1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const json = jsonType(queryRunner);
    const id = { type: 'varchar', length: '36' } as const;

    await queryRunner.createTable(
      new Table({
        name: 'datasets',
        columns: [
          { name: 'id', ...id, isPrimary: true },
          { name: 'name', type: 'varchar', length: '128', isUnique: true },
          { name: 'description', type: 'text' },
          { name: 'record_format', type: 'varchar', length: '16' },
          { name: 'latest_version', type: 'integer', default: 0 },
          { name: 'created_by', type: 'varchar', length: '255' },
          { name: 'created_at', ...TIMESTAMP },
          { name: 'updated_at', ...TIMESTAMP },
        ],
      }),
    );
    await queryRunner.createIndex(
      'datasets',
      new TableIndex({ name: 'ix_datasets_created', columnNames: ['created_at', 'id'] }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'dataset_versions',
        columns: [
          { name: 'id', ...id, isPrimary: true },
          { name: 'dataset_id', ...id },
          { name: 'version', type: 'integer' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'origin', type: 'varchar', length: '16' },
          { name: 'record_format', type: 'varchar', length: '16' },
          { name: 'spec', type: json },
          { name: 'statistics', type: json, isNullable: true },
          { name: 'checksum', type: 'varchar', length: '64', isNullable: true },
          { name: 'train_count', type: 'integer', default: 0 },
          { name: 'validation_count', type: 'integer', default: 0 },
          { name: 'progress', type: json, isNullable: true },
          { name: 'error', type: 'text', isNullable: true },
          { name: 'created_by', type: 'varchar', length: '255' },
          { name: 'created_at', ...TIMESTAMP },
          { name: 'updated_at', ...TIMESTAMP },
          { name: 'finished_at', ...TIMESTAMP, isNullable: true },
        ],
        foreignKeys: [
          {
            columnNames: ['dataset_id'],
            referencedTableName: 'datasets',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
        ],
      }),
    );
    await queryRunner.createIndex(
      'dataset_versions',
      new TableIndex({
        name: 'ux_dataset_versions_number',
        columnNames: ['dataset_id', 'version'],
        isUnique: true,
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'dataset_records',
        columns: [
          { name: 'version_id', ...id, isPrimary: true },
          { name: 'split', type: 'varchar', length: '16', isPrimary: true },
          { name: 'ordinal', type: 'integer', isPrimary: true },
          // The record in canonical JSON (format fields only, fixed key order).
          { name: 'content', type: 'text' },
          // Lineage and tags as a JSON object: source_document_ids, source_chunk_ids, tags.
          { name: 'meta', type: 'text' },
          { name: 'tokens', type: 'integer' },
        ],
        foreignKeys: [
          {
            columnNames: ['version_id'],
            referencedTableName: 'dataset_versions',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'dataset_version_documents',
        columns: [
          { name: 'version_id', ...id, isPrimary: true },
          { name: 'document_id', type: 'varchar', length: '128', isPrimary: true },
          { name: 'records', type: 'integer' },
        ],
        foreignKeys: [
          {
            columnNames: ['version_id'],
            referencedTableName: 'dataset_versions',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
        ],
      }),
    );
    await queryRunner.createIndex(
      'dataset_version_documents',
      new TableIndex({
        name: 'ix_dataset_version_documents_document',
        columnNames: ['document_id', 'version_id'],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('dataset_version_documents');
    await queryRunner.dropTable('dataset_records');
    await queryRunner.dropTable('dataset_versions');
    await queryRunner.dropTable('datasets');
  }
}
