import type { DataSource } from 'typeorm';

import type { MetadataFilter } from '../../domain/filters.js';
import type { ScoredChunk, VectorRecord, VectorStore } from '../store.interfaces.js';
import { dialectOf, SqlDb, filterSql, type SqlDialect, SqlParams } from './sql.js';

const INSERT_BATCH = 200;

/** Unit-length copy of a vector as little-endian float32 bytes. */
export function toBlob(vector: Float32Array): Buffer {
  let norm = 0;
  for (const v of vector) norm += v * v;
  norm = Math.sqrt(norm) || 1;
  const out = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) out.writeFloatLE(vector[i] / norm, i * 4);
  return out;
}

function fromBlob(blob: Buffer): Float32Array {
  // Copy into an aligned buffer (a Buffer view may start at any byte offset).
  const copy = new Uint8Array(blob.byteLength);
  copy.set(blob);
  return new Float32Array(copy.buffer);
}

/**
 * The embedded vector role: embeddings as float32 blobs in the app's database and an
 * exact cosine top-k over every row that passes the filter (computed in this process).
 * Exact and simple; its cost grows linearly with the corpus (see docs/performance.md).
 */
export class SqlVectorStore implements VectorStore {
  readonly role = 'vector' as const;
  readonly adapter: string;
  private readonly dialect: SqlDialect;
  private readonly db: SqlDb;

  constructor(dataSource: DataSource) {
    this.db = new SqlDb(dataSource);
    this.dialect = dialectOf(dataSource);
    this.adapter = `${this.dialect}-exact-cosine`;
  }

  async ping(): Promise<Record<string, unknown>> {
    await this.db.query('SELECT 1');
    return { adapter: this.adapter };
  }

  async upsert(records: VectorRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.db.transaction(async (manager) => {
      const ids = records.map((r) => r.chunkId);
      for (let i = 0; i < ids.length; i += INSERT_BATCH) {
        const p = new SqlParams(this.dialect);
        await manager.query(
          `DELETE FROM corpus_vectors WHERE chunk_id IN ${p.list(ids.slice(i, i + INSERT_BATCH))}`,
          p.values,
        );
      }
      for (let i = 0; i < records.length; i += INSERT_BATCH) {
        const p = new SqlParams(this.dialect);
        const rows = records
          .slice(i, i + INSERT_BATCH)
          .map(
            (r) =>
              `(${p.add(r.chunkId)}, ${p.add(r.documentId)}, ${p.json(r.metadata)}, ${p.add(r.embedding.length)}, ${p.add(toBlob(r.embedding))})`,
          );
        await manager.query(
          `INSERT INTO corpus_vectors (chunk_id, document_id, metadata, dimensions, embedding) VALUES ${rows.join(', ')}`,
          p.values,
        );
      }
    });
  }

  async deleteDocument(documentId: string): Promise<void> {
    const p = new SqlParams(this.dialect);
    await this.db.query(
      `DELETE FROM corpus_vectors WHERE document_id = ${p.add(documentId)}`,
      p.values,
    );
  }

  async search(
    embedding: Float32Array,
    filter: MetadataFilter,
    limit: number,
  ): Promise<ScoredChunk[]> {
    const query = fromBlob(toBlob(embedding));
    const p = new SqlParams(this.dialect);
    const rows = await this.db.query<
      { chunk_id: string; document_id: string; embedding: Buffer }[]
    >(
      `SELECT chunk_id, document_id, embedding FROM corpus_vectors v
       WHERE v.dimensions = ${p.add(query.length)} AND ${filterSql(filter, 'v.metadata', p)}`,
      p.values,
    );
    // Keep the best `limit` in a small sorted array (limit is small next to the row count).
    const best: ScoredChunk[] = [];
    for (const row of rows) {
      const score = dot(query, row.embedding);
      if (best.length === limit && score <= best[best.length - 1].score) continue;
      const hit = { chunkId: row.chunk_id, documentId: row.document_id, score };
      let at = best.length;
      while (at > 0 && best[at - 1].score < score) at--;
      best.splice(at, 0, hit);
      if (best.length > limit) best.pop();
    }
    return best;
  }

  async count(): Promise<number> {
    const [row] = await this.db.query<{ n: number | string }[]>(
      'SELECT COUNT(*) AS n FROM corpus_vectors',
    );
    return Number(row.n);
  }
}

/** Dot product of a unit query with a stored unit vector (little-endian float32 bytes). */
function dot(query: Float32Array, blob: Buffer): number {
  const n = query.length;
  let sum = 0;
  if (LITTLE_ENDIAN && blob.byteOffset % 4 === 0) {
    // Zero-copy view when the driver's buffer is aligned (the common case).
    const stored = new Float32Array(blob.buffer, blob.byteOffset, n);
    for (let i = 0; i < n; i++) sum += query[i] * stored[i];
    return sum;
  }
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  for (let i = 0; i < n; i++) sum += query[i] * view.getFloat32(i * 4, true);
  return sum;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
