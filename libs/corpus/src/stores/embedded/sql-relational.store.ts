import { isoNow } from '@clara/common';
import type { DataSource, EntityManager } from 'typeorm';

import type { ChunkRecord, ChunkView, DocumentRow } from '../../domain/corpus.types.js';
import type { MetadataFilter } from '../../domain/filters.js';
import { queryTerms } from '../../embeddings/text-features.js';
import type { RelationalStore, ScoredChunk } from '../store.interfaces.js';
import { dialectOf, SqlDb, filterSql, readMetadata, type SqlDialect, SqlParams } from './sql.js';

/** PostgreSQL text-search configuration per document language. */
export function textSearchConfig(language: string): 'german' | 'english' | 'simple' {
  if (language === 'de') return 'german';
  if (language === 'en') return 'english';
  return 'simple';
}

interface DocumentDbRow {
  id: string;
  title: string;
  language: string;
  metadata: unknown;
  content_hash: string;
  chunk_count: number | string;
  state: 'pending' | 'active';
  created_at: string;
  updated_at: string;
}

interface ChunkDbRow {
  id: string;
  document_id: string;
  ordinal: number | string;
  text: string;
  start_offset: number | string;
  end_offset: number | string;
  title?: string;
  metadata?: unknown;
}

const INSERT_BATCH = 200;

/**
 * The relational / keyword role in the app's own database: SQLite FTS5 (`sqlite-fts5`,
 * bm25 with the title weighted double) or PostgreSQL full text (`postgres-fts`, a
 * `tsvector` per chunk built with the document language's configuration — german,
 * english or simple — and queried with all three, so either language finds it).
 */
export class SqlRelationalStore implements RelationalStore {
  readonly role = 'relational' as const;
  readonly adapter: string;
  private readonly dialect: SqlDialect;
  private readonly db: SqlDb;

  constructor(dataSource: DataSource) {
    this.db = new SqlDb(dataSource);
    this.dialect = dialectOf(dataSource);
    this.adapter = this.dialect === 'postgres' ? 'postgres-fts' : 'sqlite-fts5';
  }

  async ping(): Promise<Record<string, unknown>> {
    await this.db.query('SELECT 1');
    return { adapter: this.adapter };
  }

  async begin(
    document: Omit<DocumentRow, 'state' | 'createdAt' | 'updatedAt' | 'chunkCount'>,
  ): Promise<void> {
    const p = new SqlParams(this.dialect);
    const now = isoNow();
    await this.db.query(
      `INSERT INTO corpus_documents (id, title, language, metadata, content_hash, chunk_count, state, created_at, updated_at)
       VALUES (${p.add(document.id)}, ${p.add(document.title)}, ${p.add(document.language)}, ${p.json(document.metadata)},
               ${p.add(document.contentHash)}, 0, 'pending', ${p.add(now)}, ${p.add(now)})
       ON CONFLICT (id) DO UPDATE SET title = excluded.title, language = excluded.language,
         metadata = excluded.metadata, content_hash = excluded.content_hash, state = 'pending',
         updated_at = excluded.updated_at`,
      p.values,
    );
  }

  async commit(
    documentId: string,
    title: string,
    language: string,
    chunks: ChunkRecord[],
  ): Promise<void> {
    await this.db.transaction(async (manager) => {
      await this.deleteChunks(manager, documentId);
      let nextRowId = 0;
      if (this.dialect === 'sqlite') {
        const [row] = await manager.query<{ max: number }[]>(
          'SELECT COALESCE(MAX(fts_rowid), 0) AS max FROM corpus_chunks',
        );
        nextRowId = Number(row.max) + 1;
      }
      for (let i = 0; i < chunks.length; i += INSERT_BATCH) {
        const batch = chunks.slice(i, i + INSERT_BATCH);
        const p = new SqlParams(this.dialect);
        if (this.dialect === 'sqlite') {
          const rows = batch.map(
            (c, j) =>
              `(${p.add(c.id)}, ${p.add(documentId)}, ${p.add(c.ordinal)}, ${p.add(c.text)}, ${p.add(c.start)}, ${p.add(c.end)}, ${p.add(nextRowId + i + j)})`,
          );
          await manager.query(
            `INSERT INTO corpus_chunks (id, document_id, ordinal, text, start_offset, end_offset, fts_rowid) VALUES ${rows.join(', ')}`,
            p.values,
          );
          const f = new SqlParams(this.dialect);
          const ftsRows = batch.map(
            (c, j) => `(${f.add(nextRowId + i + j)}, ${f.add(title)}, ${f.add(c.text)})`,
          );
          await manager.query(
            `INSERT INTO corpus_chunks_fts (rowid, title, text) VALUES ${ftsRows.join(', ')}`,
            f.values,
          );
        } else {
          const config = p.add(textSearchConfig(language));
          const titleParam = p.add(title);
          const rows = batch.map((c) => {
            const text = p.add(c.text);
            return `(${p.add(c.id)}, ${p.add(documentId)}, ${p.add(c.ordinal)}, ${text}, ${p.add(c.start)}, ${p.add(c.end)},
              setweight(to_tsvector(${config}::regconfig, ${titleParam}), 'A') || setweight(to_tsvector(${config}::regconfig, ${text}), 'B'))`;
          });
          await manager.query(
            `INSERT INTO corpus_chunks (id, document_id, ordinal, text, start_offset, end_offset, tsv) VALUES ${rows.join(', ')}`,
            p.values,
          );
        }
      }
      const p = new SqlParams(this.dialect);
      await manager.query(
        `UPDATE corpus_documents SET state = 'active', chunk_count = ${p.add(chunks.length)}, updated_at = ${p.add(isoNow())}
         WHERE id = ${p.add(documentId)}`,
        p.values,
      );
    });
  }

  async remove(documentId: string): Promise<void> {
    await this.db.transaction(async (manager) => {
      await this.deleteChunks(manager, documentId);
      const p = new SqlParams(this.dialect);
      await manager.query(`DELETE FROM corpus_documents WHERE id = ${p.add(documentId)}`, p.values);
    });
  }

  private async deleteChunks(manager: EntityManager, documentId: string): Promise<void> {
    if (this.dialect === 'sqlite') {
      await manager.query(
        `DELETE FROM corpus_chunks_fts WHERE rowid IN (SELECT fts_rowid FROM corpus_chunks WHERE document_id = ?)`,
        [documentId],
      );
    }
    const p = new SqlParams(this.dialect);
    await manager.query(
      `DELETE FROM corpus_chunks WHERE document_id = ${p.add(documentId)}`,
      p.values,
    );
  }

  async get(documentId: string): Promise<DocumentRow | null> {
    const p = new SqlParams(this.dialect);
    const rows = await this.db.query<DocumentDbRow[]>(
      `SELECT * FROM corpus_documents WHERE id = ${p.add(documentId)}`,
      p.values,
    );
    return rows.length > 0 ? toDocumentRow(rows[0]) : null;
  }

  async list(
    filter: MetadataFilter,
    afterId: string | undefined,
    limit: number,
  ): Promise<DocumentRow[]> {
    const p = new SqlParams(this.dialect);
    const after = afterId === undefined ? '' : `AND d.id ${this.collate()} > ${p.add(afterId)}`;
    const rows = await this.db.query<DocumentDbRow[]>(
      `SELECT d.* FROM corpus_documents d
       WHERE d.state = 'active' ${after} AND ${filterSql(filter, 'd.metadata', p)}
       ORDER BY d.id ${this.collate()} LIMIT ${p.add(limit)}`,
      p.values,
    );
    return rows.map(toDocumentRow);
  }

  async chunksOf(documentId: string): Promise<ChunkRecord[]> {
    const p = new SqlParams(this.dialect);
    const rows = await this.db.query<ChunkDbRow[]>(
      `SELECT id, document_id, ordinal, text, start_offset, end_offset FROM corpus_chunks
       WHERE document_id = ${p.add(documentId)} ORDER BY ordinal`,
      p.values,
    );
    return rows.map(toChunkRecord);
  }

  async chunks(chunkIds: string[], filter: MetadataFilter): Promise<ChunkView[]> {
    if (chunkIds.length === 0) return [];
    const p = new SqlParams(this.dialect);
    return this.chunkViews(`c.id IN ${p.list(chunkIds)}`, filter, p);
  }

  async firstChunks(documentIds: string[], filter: MetadataFilter): Promise<ChunkView[]> {
    if (documentIds.length === 0) return [];
    const p = new SqlParams(this.dialect);
    return this.chunkViews(`c.document_id IN ${p.list(documentIds)} AND c.ordinal = 0`, filter, p);
  }

  private async chunkViews(
    where: string,
    filter: MetadataFilter,
    p: SqlParams,
  ): Promise<ChunkView[]> {
    const rows = await this.db.query<ChunkDbRow[]>(
      `SELECT c.id, c.document_id, c.ordinal, c.text, c.start_offset, c.end_offset, d.title, d.metadata
       FROM corpus_chunks c JOIN corpus_documents d ON d.id = c.document_id
       WHERE ${where} AND d.state = 'active' AND ${filterSql(filter, 'd.metadata', p)}`,
      p.values,
    );
    return rows.map((row) => ({
      ...toChunkRecord(row),
      title: row.title ?? '',
      metadata: readMetadata(row.metadata),
    }));
  }

  async existing(documentIds: string[]): Promise<Set<string>> {
    if (documentIds.length === 0) return new Set();
    const p = new SqlParams(this.dialect);
    const rows = await this.db.query<{ id: string }[]>(
      `SELECT id FROM corpus_documents WHERE state = 'active' AND id IN ${p.list(documentIds)}`,
      p.values,
    );
    return new Set(rows.map((r) => r.id));
  }

  async search(query: string, filter: MetadataFilter, limit: number): Promise<ScoredChunk[]> {
    const terms = queryTerms(query);
    if (terms.length === 0) return [];
    const p = new SqlParams(this.dialect);
    let rows: { chunk_id: string; document_id: string; score: number | string }[];
    if (this.dialect === 'sqlite') {
      const match = p.add(terms.map((t) => `"${t}"`).join(' OR '));
      rows = await this.db.query<typeof rows>(
        `SELECT c.id AS chunk_id, c.document_id, -bm25(corpus_chunks_fts, 2.0, 1.0) AS score
         FROM corpus_chunks_fts JOIN corpus_chunks c ON c.fts_rowid = corpus_chunks_fts.rowid
         JOIN corpus_documents d ON d.id = c.document_id
         WHERE corpus_chunks_fts MATCH ${match} AND d.state = 'active' AND ${filterSql(filter, 'd.metadata', p)}
         ORDER BY bm25(corpus_chunks_fts, 2.0, 1.0) LIMIT ${p.add(limit)}`,
        p.values,
      );
    } else {
      const expression = p.add(terms.join(' | '));
      rows = await this.db.query<typeof rows>(
        `WITH q AS (SELECT to_tsquery('german', ${expression}) || to_tsquery('english', ${expression})
                      || to_tsquery('simple', ${expression}) AS query)
         SELECT c.id AS chunk_id, c.document_id, ts_rank(c.tsv, q.query) AS score
         FROM q, corpus_chunks c JOIN corpus_documents d ON d.id = c.document_id
         WHERE c.tsv @@ q.query AND d.state = 'active' AND ${filterSql(filter, 'd.metadata', p)}
         ORDER BY score DESC, c.id LIMIT ${p.add(limit)}`,
        p.values,
      );
    }
    return rows.map((r) => ({
      chunkId: r.chunk_id,
      documentId: r.document_id,
      score: Number(r.score),
    }));
  }

  async count(): Promise<{ documents: number; chunks: number }> {
    const [row] = await this.db.query<{ documents: number | string; chunks: number | string }[]>(
      `SELECT (SELECT COUNT(*) FROM corpus_documents WHERE state = 'active') AS documents,
              (SELECT COUNT(*) FROM corpus_chunks) AS chunks`,
    );
    return { documents: Number(row.documents), chunks: Number(row.chunks) };
  }

  /** Byte-order id comparison on PostgreSQL, matching SQLite and the cursor's `>`. */
  private collate(): string {
    return this.dialect === 'postgres' ? 'COLLATE "C"' : '';
  }
}

function toDocumentRow(row: DocumentDbRow): DocumentRow {
  return {
    id: row.id,
    title: row.title,
    language: row.language,
    metadata: readMetadata(row.metadata),
    contentHash: row.content_hash,
    chunkCount: Number(row.chunk_count),
    state: row.state,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toChunkRecord(row: ChunkDbRow): ChunkRecord {
  return {
    id: row.id,
    documentId: row.document_id,
    ordinal: Number(row.ordinal),
    text: row.text,
    start: Number(row.start_offset),
    end: Number(row.end_offset),
  };
}
