import { type MigrationInterface, type QueryRunner, Table, TableIndex } from 'typeorm';

import { isPostgres, jsonType, TIMESTAMP } from './column-types.js';

/**
 * The corpus (UDS3) tables. `corpus_documents` + `corpus_chunks` are the relational /
 * keyword role on either engine (FTS5 on SQLite, `tsvector` on PostgreSQL); the vector,
 * graph and document tables serve those roles when no server is configured for them.
 */
export class Corpus1764300000000 implements MigrationInterface {
  name = 'Corpus1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const json = jsonType(queryRunner);
    const pg = isPostgres(queryRunner);
    const docId = { type: 'varchar', length: '128' } as const;
    const chunkId = { type: 'varchar', length: '160' } as const;

    await queryRunner.createTable(
      new Table({
        name: 'corpus_documents',
        columns: [
          { name: 'id', ...docId, isPrimary: true },
          { name: 'title', type: 'varchar', length: '1000' },
          { name: 'language', type: 'varchar', length: '16' },
          { name: 'metadata', type: json },
          { name: 'content_hash', type: 'varchar', length: '64' },
          { name: 'chunk_count', type: 'integer' },
          { name: 'state', type: 'varchar', length: '16' },
          { name: 'created_at', ...TIMESTAMP },
          { name: 'updated_at', ...TIMESTAMP },
        ],
      }),
    );
    await queryRunner.createIndex(
      'corpus_documents',
      new TableIndex({ name: 'ix_corpus_documents_state', columnNames: ['state', 'id'] }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'corpus_chunks',
        columns: [
          { name: 'id', ...chunkId, isPrimary: true },
          { name: 'document_id', ...docId },
          { name: 'ordinal', type: 'integer' },
          { name: 'text', type: 'text' },
          { name: 'start_offset', type: 'integer' },
          { name: 'end_offset', type: 'integer' },
          // SQLite only: the FTS5 rowid of this chunk (a plain rowid may change on VACUUM).
          { name: 'fts_rowid', type: 'integer', isNullable: true },
        ],
      }),
    );
    await queryRunner.createIndex(
      'corpus_chunks',
      new TableIndex({
        name: 'ix_corpus_chunks_document',
        columnNames: ['document_id', 'ordinal'],
      }),
    );
    if (pg) {
      await queryRunner.query(`ALTER TABLE corpus_chunks ADD COLUMN tsv tsvector NOT NULL`);
      await queryRunner.query(`CREATE INDEX ix_corpus_chunks_tsv ON corpus_chunks USING GIN (tsv)`);
    } else {
      // Contentless FTS5 (the text lives in corpus_chunks): rowid = corpus_chunks.fts_rowid.
      await queryRunner.query(
        `CREATE UNIQUE INDEX ix_corpus_chunks_fts_rowid ON corpus_chunks (fts_rowid)`,
      );
      await queryRunner.query(
        `CREATE VIRTUAL TABLE corpus_chunks_fts USING fts5(title, text, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2')`,
      );
    }

    await queryRunner.createTable(
      new Table({
        name: 'corpus_vectors',
        columns: [
          { name: 'chunk_id', ...chunkId, isPrimary: true },
          { name: 'document_id', ...docId },
          { name: 'metadata', type: json },
          { name: 'dimensions', type: 'integer' },
          { name: 'embedding', type: pg ? 'bytea' : 'blob' },
        ],
      }),
    );
    await queryRunner.createIndex(
      'corpus_vectors',
      new TableIndex({ name: 'ix_corpus_vectors_document', columnNames: ['document_id'] }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'corpus_graph_nodes',
        columns: [
          { name: 'id', ...docId, isPrimary: true },
          { name: 'title', type: 'varchar', length: '1000', isNullable: true },
          { name: 'metadata', type: json },
          { name: 'placeholder', type: 'boolean' },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'corpus_graph_edges',
        columns: [
          { name: 'source_id', ...docId, isPrimary: true },
          { name: 'target_id', ...docId, isPrimary: true },
          { name: 'type', type: 'varchar', length: '32', isPrimary: true },
        ],
      }),
    );
    await queryRunner.createIndex(
      'corpus_graph_edges',
      new TableIndex({ name: 'ix_corpus_graph_edges_target', columnNames: ['target_id'] }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'corpus_bodies',
        columns: [
          { name: 'id', ...docId, isPrimary: true },
          { name: 'body', type: json },
          { name: 'metadata', type: json },
          { name: 'revision', type: 'integer' },
          { name: 'updated_at', ...TIMESTAMP },
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'corpus_ingest_tasks',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'state', type: 'varchar', length: '16' },
          { name: 'source', type: 'varchar', length: '255' },
          { name: 'file_path', type: 'varchar', length: '2048', isNullable: true },
          { name: 'options', type: json },
          { name: 'total', type: 'integer' },
          { name: 'processed', type: 'integer' },
          { name: 'succeeded', type: 'integer' },
          { name: 'failed', type: 'integer' },
          { name: 'chunks', type: 'integer' },
          { name: 'errors', type: json },
          { name: 'created_by', type: 'varchar', length: '255' },
          { name: 'created_at', ...TIMESTAMP },
          { name: 'updated_at', ...TIMESTAMP },
          { name: 'finished_at', ...TIMESTAMP, isNullable: true },
        ],
      }),
    );
    await queryRunner.createIndex(
      'corpus_ingest_tasks',
      new TableIndex({
        name: 'ix_corpus_ingest_tasks_state',
        columnNames: ['state', 'created_at'],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of [
      'corpus_ingest_tasks',
      'corpus_bodies',
      'corpus_graph_edges',
      'corpus_graph_nodes',
      'corpus_vectors',
      'corpus_chunks',
      'corpus_documents',
    ]) {
      await queryRunner.dropTable(table);
    }
    if (!isPostgres(queryRunner)) await queryRunner.query('DROP TABLE corpus_chunks_fts');
  }
}
