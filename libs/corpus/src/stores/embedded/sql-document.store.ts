import { isoNow } from '@clara/common';
import type { DataSource } from 'typeorm';

import type { StoredDocument } from '../../domain/corpus.types.js';
import type { MetadataFilter } from '../../domain/filters.js';
import type { DocumentStore } from '../store.interfaces.js';
import { dialectOf, SqlDb, filterSql, readJson, type SqlDialect, SqlParams } from './sql.js';

/** The embedded documents role: one row per document holding its full body as JSON. */
export class SqlDocumentStore implements DocumentStore {
  readonly role = 'documents' as const;
  readonly adapter: string;
  private readonly dialect: SqlDialect;
  private readonly db: SqlDb;

  constructor(dataSource: DataSource) {
    this.db = new SqlDb(dataSource);
    this.dialect = dialectOf(dataSource);
    this.adapter = `${this.dialect}-document-table`;
  }

  async ping(): Promise<Record<string, unknown>> {
    await this.db.query('SELECT 1');
    return { adapter: this.adapter };
  }

  async put(document: StoredDocument): Promise<void> {
    const p = new SqlParams(this.dialect);
    await this.db.query(
      `INSERT INTO corpus_bodies (id, body, metadata, revision, updated_at)
       VALUES (${p.add(document.id)}, ${p.json(document)}, ${p.json(document.metadata)}, 1, ${p.add(isoNow())})
       ON CONFLICT (id) DO UPDATE SET body = excluded.body, metadata = excluded.metadata,
         revision = corpus_bodies.revision + 1, updated_at = excluded.updated_at`,
      p.values,
    );
  }

  async get(documentId: string): Promise<StoredDocument | null> {
    const p = new SqlParams(this.dialect);
    const rows = await this.db.query<{ body: unknown }[]>(
      `SELECT body FROM corpus_bodies WHERE id = ${p.add(documentId)}`,
      p.values,
    );
    return rows.length > 0 ? readJson<StoredDocument>(rows[0].body) : null;
  }

  async delete(documentId: string): Promise<void> {
    const p = new SqlParams(this.dialect);
    await this.db.query(`DELETE FROM corpus_bodies WHERE id = ${p.add(documentId)}`, p.values);
  }

  async find(
    filter: MetadataFilter,
    afterId: string | undefined,
    limit: number,
  ): Promise<StoredDocument[]> {
    const p = new SqlParams(this.dialect);
    const collate = this.dialect === 'postgres' ? 'COLLATE "C"' : '';
    const after = afterId === undefined ? '' : `AND b.id ${collate} > ${p.add(afterId)}`;
    const rows = await this.db.query<{ body: unknown }[]>(
      `SELECT body FROM corpus_bodies b WHERE ${filterSql(filter, 'b.metadata', p)} ${after}
       ORDER BY b.id ${collate} LIMIT ${p.add(limit)}`,
      p.values,
    );
    return rows.map((r) => readJson<StoredDocument>(r.body));
  }
}
