import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { isoNow } from '@clara/common';
import type { DataSource, EntityManager, Repository } from 'typeorm';

import type { Split } from '../domain/record-format.js';
import { DatasetEntity, DatasetVersionEntity, type VersionProgress } from './dataset.entities.js';
import { type Dialect, dialectOf, queryRows, readJson, sqliteHandle } from './sql.js';

/** One record as stored: canonical JSON, metadata JSON and its approximate token count. */
export interface StoredRecord {
  split: Split;
  ordinal: number;
  content: string;
  meta: string;
  tokens: number;
}

export interface RecordRow {
  ordinal: number;
  content: string;
  meta: string;
}

/** What a finished version stores in one transaction. */
export interface VersionContent {
  statistics: Record<string, unknown>;
  checksum: string;
  trainCount: number;
  validationCount: number;
  records: StoredRecord[];
  /** Source document id → number of records that came from it. */
  documents: Map<string, number>;
}

export interface JobReference {
  id: string;
  name: string;
  owner: string;
  status: string;
  dataset_version: number | null;
  adapter_path: string | null;
  created_at: string;
  finished_at: string | null;
}

/** TypeORM's deep-partial type cannot see through JSON columns typed as records. */
type VersionRow = Parameters<Repository<DatasetVersionEntity>['insert']>[0];
const row = (value: Partial<DatasetVersionEntity>) => value as VersionRow;

const ACTIVE_JOB_STATUSES = ['queued', 'running', 'cancelling'];
const INSERT_BATCH = 500;

/** Every query and transaction of the datasets feature. */
@Injectable()
export class DatasetsRepository {
  readonly dialect: Dialect;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    this.dialect = dialectOf(dataSource);
  }

  // --- datasets -------------------------------------------------------------------------

  async insertDataset(dataset: DatasetEntity): Promise<void> {
    await this.dataSource.getRepository(DatasetEntity).insert(dataset);
  }

  getDataset(id: string): Promise<DatasetEntity | null> {
    return this.dataSource.getRepository(DatasetEntity).findOneBy({ id });
  }

  async listDatasets(
    after: { created_at: string; id: string } | undefined,
    limit: number,
  ): Promise<DatasetEntity[]> {
    const qb = this.dataSource
      .getRepository(DatasetEntity)
      .createQueryBuilder('d')
      .orderBy('d.created_at', 'DESC')
      .addOrderBy('d.id', 'DESC')
      .limit(limit);
    if (after) {
      qb.where('(d.created_at < :c OR (d.created_at = :c AND d.id < :id))', {
        c: after.created_at,
        id: after.id,
      });
    }
    return qb.getMany();
  }

  async deleteDataset(id: string): Promise<void> {
    await this.dataSource.getRepository(DatasetEntity).delete({ id });
  }

  // --- versions -------------------------------------------------------------------------

  getVersion(datasetId: string, version: number): Promise<DatasetVersionEntity | null> {
    return this.dataSource.getRepository(DatasetVersionEntity).findOneBy({ datasetId, version });
  }

  getVersionById(id: string): Promise<DatasetVersionEntity | null> {
    return this.dataSource.getRepository(DatasetVersionEntity).findOneBy({ id });
  }

  async listVersions(
    datasetId: string,
    afterVersion: number | undefined,
    limit: number,
  ): Promise<DatasetVersionEntity[]> {
    const qb = this.dataSource
      .getRepository(DatasetVersionEntity)
      .createQueryBuilder('v')
      .where('v.dataset_id = :datasetId', { datasetId })
      .orderBy('v.version', 'DESC')
      .limit(limit);
    if (afterVersion !== undefined) qb.andWhere('v.version < :after', { after: afterVersion });
    return qb.getMany();
  }

  /**
   * Creates a version in `building` state under the next number. The number comes from an
   * atomic increment of the dataset's counter, so concurrent builds never share one.
   */
  async insertBuildingVersion(version: Omit<DatasetVersionEntity, 'version'>): Promise<number> {
    const run = async (manager: EntityManager) => {
      const number = await this.nextNumber(version.datasetId, manager);
      await manager
        .getRepository(DatasetVersionEntity)
        .insert(row({ ...version, version: number }));
      return number;
    };
    if (this.dialect === 'postgres') return this.dataSource.transaction(run);
    // One SQLite connection: no await between BEGIN and COMMIT (see storeContent).
    const db = sqliteHandle(this.dataSource);
    return db.transaction(() => {
      const number = this.nextNumberSqlite(version.datasetId);
      insertVersionSqlite(db, { ...version, version: number });
      return number;
    })();
  }

  async updateProgress(id: string, progress: VersionProgress): Promise<void> {
    await this.dataSource
      .getRepository(DatasetVersionEntity)
      .update({ id, status: 'building' }, { progress, updatedAt: isoNow() });
  }

  async failVersion(id: string, error: string): Promise<void> {
    const now = isoNow();
    await this.dataSource
      .getRepository(DatasetVersionEntity)
      .update(
        { id, status: 'building' },
        { status: 'failed', error: error.slice(0, 4000), updatedAt: now, finishedAt: now },
      );
  }

  /** Builds left `building` by a process that stopped: they can never finish. */
  async failStaleBuilds(olderThan: string): Promise<number> {
    const rows = await queryRows<{ id: string }>(
      this.dataSource,
      `UPDATE dataset_versions SET status = 'failed', error = $1, finished_at = $2, updated_at = $2
       WHERE status = 'building' AND updated_at < $3 RETURNING id`,
      ['the build was interrupted (the service stopped)', isoNow(), olderThan],
    );
    return rows.length;
  }

  /**
   * Stores a finished version whole, in one transaction: its records, its document index
   * and its `ready` state. `existing` says whether the version row is there (a build) or is
   * created now under the next number (an import: a refused file uses no number).
   * Returns the version number.
   *
   * On SQLite the whole transaction runs synchronously on the one connection, so no other
   * request's statement can slip in between BEGIN and COMMIT.
   */
  async storeContent(
    version: DatasetVersionEntity,
    content: VersionContent,
    existing: boolean,
  ): Promise<number> {
    const now = isoNow();
    const ready = {
      status: 'ready' as const,
      statistics: content.statistics,
      checksum: content.checksum,
      trainCount: content.trainCount,
      validationCount: content.validationCount,
      progress: null,
      error: null,
      updatedAt: now,
      finishedAt: now,
    };
    if (this.dialect === 'postgres') {
      return this.dataSource.transaction(async (manager) => {
        let number = version.version;
        if (existing) {
          const result = await manager
            .getRepository(DatasetVersionEntity)
            .update({ id: version.id, status: 'building' }, row(ready) as never);
          if (!result.affected) throw new Error('the version is no longer building');
        } else {
          number = await this.nextNumber(version.datasetId, manager);
          await manager
            .getRepository(DatasetVersionEntity)
            .insert(row({ ...version, ...ready, version: number }));
        }
        for (let i = 0; i < content.records.length; i += INSERT_BATCH) {
          const batch = content.records.slice(i, i + INSERT_BATCH);
          const values: unknown[] = [];
          const tuples = batch.map((r, j) => {
            values.push(version.id, r.split, r.ordinal, r.content, r.meta, r.tokens);
            const b = j * 6;
            return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6})`;
          });
          await manager.query(
            `INSERT INTO dataset_records (version_id, split, ordinal, content, meta, tokens) VALUES ${tuples.join(', ')}`,
            values,
          );
        }
        const docs = [...content.documents];
        for (let i = 0; i < docs.length; i += INSERT_BATCH) {
          const batch = docs.slice(i, i + INSERT_BATCH);
          const values: unknown[] = [];
          const tuples = batch.map(([doc, count], j) => {
            values.push(version.id, doc, count);
            return `($${j * 3 + 1}, $${j * 3 + 2}, $${j * 3 + 3})`;
          });
          await manager.query(
            `INSERT INTO dataset_version_documents (version_id, document_id, records) VALUES ${tuples.join(', ')}`,
            values,
          );
        }
        return number;
      });
    }
    const db = sqliteHandle(this.dataSource);
    return db.transaction(() => {
      let number = version.version;
      if (existing) {
        const info = db
          .prepare(
            `UPDATE dataset_versions SET status = 'ready', statistics = ?, checksum = ?, train_count = ?,
             validation_count = ?, progress = NULL, error = NULL, updated_at = ?, finished_at = ?
             WHERE id = ? AND status = 'building'`,
          )
          .run(
            JSON.stringify(ready.statistics),
            ready.checksum,
            ready.trainCount,
            ready.validationCount,
            now,
            now,
            version.id,
          ) as { changes: number };
        if (info.changes === 0) throw new Error('the version is no longer building');
      } else {
        number = this.nextNumberSqlite(version.datasetId);
        insertVersionSqlite(db, { ...version, ...ready, version: number });
      }
      const insert = db.prepare(
        'INSERT INTO dataset_records (version_id, split, ordinal, content, meta, tokens) VALUES (?, ?, ?, ?, ?, ?)',
      );
      for (const r of content.records) {
        insert.run(version.id, r.split, r.ordinal, r.content, r.meta, r.tokens);
      }
      const insertDoc = db.prepare(
        'INSERT INTO dataset_version_documents (version_id, document_id, records) VALUES (?, ?, ?)',
      );
      for (const [doc, count] of content.documents) insertDoc.run(version.id, doc, count);
      return number;
    })();
  }

  private async nextNumber(datasetId: string, manager: EntityManager): Promise<number> {
    const rows = await queryRows<{ latest_version: number }>(
      this.dataSource,
      `UPDATE datasets SET latest_version = latest_version + 1, updated_at = $2 WHERE id = $1 RETURNING latest_version`,
      [datasetId, isoNow()],
      manager,
    );
    if (rows.length === 0) throw new Error(`dataset ${datasetId} disappeared`);
    return Number(rows[0].latest_version);
  }

  private nextNumberSqlite(datasetId: string): number {
    const row = sqliteHandle(this.dataSource)
      .prepare(
        'UPDATE datasets SET latest_version = latest_version + 1, updated_at = ? WHERE id = ? RETURNING latest_version',
      )
      .get(isoNow(), datasetId) as { latest_version: number } | undefined;
    if (!row) throw new Error(`dataset ${datasetId} disappeared`);
    return row.latest_version;
  }

  // --- records --------------------------------------------------------------------------

  /** Records of a split in order, after `afterOrdinal` (exclusive). */
  async recordPage(
    versionId: string,
    split: Split,
    afterOrdinal: number,
    limit: number,
  ): Promise<RecordRow[]> {
    const sql = `SELECT ordinal, content, meta FROM dataset_records
      WHERE version_id = $1 AND split = $2 AND ordinal > $3 ORDER BY ordinal LIMIT $4`;
    if (this.dialect === 'sqlite') {
      // A short synchronous read: faster than the async driver path, and never left open.
      return sqliteHandle(this.dataSource)
        .prepare(sql.replace(/\$\d/g, '?'))
        .all(versionId, split, afterOrdinal, limit) as RecordRow[];
    }
    return queryRows<RecordRow>(this.dataSource, sql, [versionId, split, afterOrdinal, limit]);
  }

  // --- lineage --------------------------------------------------------------------------

  async versionDocuments(
    versionId: string,
    afterId: string | undefined,
    limit: number,
  ): Promise<{ document_id: string; records: number }[]> {
    const rows = await queryRows<{ document_id: string; records: number }>(
      this.dataSource,
      `SELECT document_id, records FROM dataset_version_documents
       WHERE version_id = $1 AND document_id > $2 ORDER BY document_id LIMIT $3`,
      [versionId, afterId ?? '', limit],
    );
    return rows.map((r) => ({ document_id: r.document_id, records: Number(r.records) }));
  }

  async versionsUsingDocument(
    documentId: string,
  ): Promise<
    { dataset_id: string; dataset_name: string; version: number; status: string; records: number }[]
  > {
    const rows = await queryRows<{
      dataset_id: string;
      dataset_name: string;
      version: number;
      status: string;
      records: number;
    }>(
      this.dataSource,
      `SELECT v.dataset_id, d.name AS dataset_name, v.version, v.status, l.records
       FROM dataset_version_documents l
       JOIN dataset_versions v ON v.id = l.version_id
       JOIN datasets d ON d.id = v.dataset_id
       WHERE l.document_id = $1 ORDER BY d.name, v.version`,
      [documentId],
    );
    return rows.map((r) => ({ ...r, version: Number(r.version), records: Number(r.records) }));
  }

  /**
   * Training jobs whose data names this dataset (and version, when given). The job's
   * `data` column is JSON (jsonb on PostgreSQL, text on SQLite); each engine's JSON
   * operator reads `dataset_id` / `dataset_version` from it.
   */
  async jobsUsing(
    datasetId: string,
    version?: number,
    activeOnly = false,
  ): Promise<JobReference[]> {
    const pg = this.dialect === 'postgres';
    const field = (name: string) => (pg ? `(data->>'${name}')` : `json_extract(data, '$.${name}')`);
    const conditions = [`${field('dataset_id')} = $1`];
    const params: unknown[] = [datasetId];
    if (version !== undefined) {
      params.push(pg ? String(version) : version);
      conditions.push(`${field('dataset_version')} = $${params.length}`);
    }
    if (activeOnly) {
      const placeholders = ACTIVE_JOB_STATUSES.map((s) => {
        params.push(s);
        return `$${params.length}`;
      });
      conditions.push(`status IN (${placeholders.join(', ')})`);
    }
    const rows = await queryRows<{
      id: string;
      name: string;
      owner: string;
      status: string;
      data: unknown;
      adapter_path: string | null;
      created_at: string;
      finished_at: string | null;
    }>(
      this.dataSource,
      `SELECT id, name, owner, status, data, adapter_path, created_at, finished_at FROM jobs
       WHERE ${conditions.join(' AND ')} ORDER BY created_at, id`,
      params,
    );
    return rows.map((r) => {
      const data = readJson<{ dataset_version?: number }>(r.data) ?? {};
      return {
        id: r.id,
        name: r.name,
        owner: r.owner,
        status: r.status,
        dataset_version: typeof data.dataset_version === 'number' ? data.dataset_version : null,
        adapter_path: r.adapter_path,
        created_at: r.created_at,
        finished_at: r.finished_at,
      };
    });
  }
}

function insertVersionSqlite(db: ReturnType<typeof sqliteHandle>, v: DatasetVersionEntity): void {
  db.prepare(
    `INSERT INTO dataset_versions (id, dataset_id, version, status, origin, record_format, spec, statistics,
     checksum, train_count, validation_count, progress, error, created_by, created_at, updated_at, finished_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    v.id,
    v.datasetId,
    v.version,
    v.status,
    v.origin,
    v.recordFormat,
    JSON.stringify(v.spec),
    v.statistics === null ? null : JSON.stringify(v.statistics),
    v.checksum,
    v.trainCount,
    v.validationCount,
    v.progress === null ? null : JSON.stringify(v.progress),
    v.error,
    v.createdBy,
    v.createdAt,
    v.updatedAt,
    v.finishedAt,
  );
}
