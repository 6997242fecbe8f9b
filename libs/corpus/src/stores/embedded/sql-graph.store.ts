import type { DataSource, EntityManager } from 'typeorm';

import type { Relation } from '../../domain/corpus.types.js';
import type { MetadataFilter } from '../../domain/filters.js';
import type { DocumentRelations, GraphNode, GraphStore, Neighbour } from '../store.interfaces.js';
import { dialectOf, SqlDb, filterSql, type SqlDialect, SqlParams } from './sql.js';

/**
 * The embedded graph role: a node table and an edge table in the app's database, k-hop
 * expansion with one recursive CTE (edges followed in both directions).
 */
export class SqlGraphStore implements GraphStore {
  readonly role = 'graph' as const;
  readonly adapter: string;
  private readonly dialect: SqlDialect;
  private readonly db: SqlDb;

  constructor(dataSource: DataSource) {
    this.db = new SqlDb(dataSource);
    this.dialect = dialectOf(dataSource);
    this.adapter = `${this.dialect}-recursive-cte`;
  }

  async ping(): Promise<Record<string, unknown>> {
    await this.db.query('SELECT 1');
    return { adapter: this.adapter };
  }

  async upsertDocument(node: GraphNode, relations: Relation[]): Promise<void> {
    await this.db.transaction(async (manager) => {
      let p = new SqlParams(this.dialect);
      await manager.query(
        `INSERT INTO corpus_graph_nodes (id, title, metadata, placeholder)
         VALUES (${p.add(node.id)}, ${p.add(node.title)}, ${p.json(node.metadata)}, ${p.add(false)})
         ON CONFLICT (id) DO UPDATE SET title = excluded.title, metadata = excluded.metadata,
           placeholder = excluded.placeholder`,
        p.values,
      );
      const previous = await this.dropOutgoing(manager, node.id);
      const unique = new Map(relations.map((r) => [`${r.type}\u0000${r.target}`, r]));
      for (const relation of unique.values()) {
        p = new SqlParams(this.dialect);
        await manager.query(
          `INSERT INTO corpus_graph_nodes (id, title, metadata, placeholder)
           VALUES (${p.add(relation.target)}, NULL, ${p.json({})}, ${p.add(true)})
           ON CONFLICT (id) DO NOTHING`,
          p.values,
        );
        p = new SqlParams(this.dialect);
        await manager.query(
          `INSERT INTO corpus_graph_edges (source_id, target_id, type)
           VALUES (${p.add(node.id)}, ${p.add(relation.target)}, ${p.add(relation.type)})`,
          p.values,
        );
      }
      await this.dropOrphanPlaceholders(manager, previous);
    });
  }

  async deleteDocument(documentId: string): Promise<void> {
    await this.db.transaction(async (manager) => {
      const previous = await this.dropOutgoing(manager, documentId);
      const p = new SqlParams(this.dialect);
      // Cited by others: keep it as a placeholder so those relations survive a re-ingest.
      await manager.query(
        `UPDATE corpus_graph_nodes SET placeholder = ${p.add(true)}, title = NULL, metadata = ${p.json({})}
         WHERE id = ${p.add(documentId)}`,
        p.values,
      );
      await this.dropOrphanPlaceholders(manager, [...previous, documentId]);
    });
  }

  /** Deletes a node's outgoing edges and returns their targets. */
  private async dropOutgoing(manager: EntityManager, documentId: string): Promise<string[]> {
    let p = new SqlParams(this.dialect);
    const targets = await manager.query<{ target_id: string }[]>(
      `SELECT DISTINCT target_id FROM corpus_graph_edges WHERE source_id = ${p.add(documentId)}`,
      p.values,
    );
    p = new SqlParams(this.dialect);
    await manager.query(
      `DELETE FROM corpus_graph_edges WHERE source_id = ${p.add(documentId)}`,
      p.values,
    );
    return targets.map((t) => t.target_id);
  }

  private async dropOrphanPlaceholders(manager: EntityManager, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const p = new SqlParams(this.dialect);
    await manager.query(
      `DELETE FROM corpus_graph_nodes WHERE placeholder = ${p.add(true)} AND id IN ${p.list(ids)}
       AND NOT EXISTS (SELECT 1 FROM corpus_graph_edges e WHERE e.source_id = corpus_graph_nodes.id OR e.target_id = corpus_graph_nodes.id)`,
      p.values,
    );
  }

  async relationsOf(documentId: string): Promise<DocumentRelations> {
    let p = new SqlParams(this.dialect);
    const outgoing = await this.db.query<{ type: string; target_id: string }[]>(
      `SELECT type, target_id FROM corpus_graph_edges WHERE source_id = ${p.add(documentId)} ORDER BY type, target_id`,
      p.values,
    );
    p = new SqlParams(this.dialect);
    const incoming = await this.db.query<{ type: string; source_id: string }[]>(
      `SELECT type, source_id FROM corpus_graph_edges WHERE target_id = ${p.add(documentId)} ORDER BY type, source_id`,
      p.values,
    );
    return {
      outgoing: outgoing.map((r) => ({ type: r.type, target: r.target_id })),
      incoming: incoming.map((r) => ({ type: r.type, source: r.source_id })),
    };
  }

  async expand(seeds: string[], depth: number, filter: MetadataFilter): Promise<Neighbour[]> {
    if (seeds.length === 0 || depth < 1) return [];
    const p = new SqlParams(this.dialect);
    const seedRows =
      this.dialect === 'sqlite'
        ? `SELECT value AS id FROM json_each(${p.add(JSON.stringify(seeds))})`
        : `SELECT jsonb_array_elements_text(${p.json(seeds)}) AS id`;
    const rows = await this.db.query<
      { seed: string; document_id: string; hops: number | string }[]
    >(
      `WITH RECURSIVE seeds(id) AS (${seedRows}),
       walk(seed, node, hops) AS (
         SELECT id, id, 0 FROM seeds
         UNION
         SELECT w.seed, CASE WHEN e.source_id = w.node THEN e.target_id ELSE e.source_id END, w.hops + 1
         FROM walk w JOIN corpus_graph_edges e ON (e.source_id = w.node OR e.target_id = w.node)
         WHERE w.hops < ${p.add(depth)}
       )
       SELECT w.seed, w.node AS document_id, MIN(w.hops) AS hops
       FROM walk w JOIN corpus_graph_nodes n ON n.id = w.node
       WHERE w.node <> w.seed AND n.placeholder = ${p.add(false)} AND ${filterSql(filter, 'n.metadata', p)}
       GROUP BY w.seed, w.node`,
      p.values,
    );
    return rows.map((r) => ({ seed: r.seed, documentId: r.document_id, hops: Number(r.hops) }));
  }

  async count(): Promise<{ nodes: number; edges: number }> {
    const [row] = await this.db.query<{ nodes: number | string; edges: number | string }[]>(
      `SELECT (SELECT COUNT(*) FROM corpus_graph_nodes WHERE placeholder = ${this.dialect === 'sqlite' ? '0' : 'false'}) AS nodes,
              (SELECT COUNT(*) FROM corpus_graph_edges) AS edges`,
    );
    return { nodes: Number(row.nodes), edges: Number(row.edges) };
  }
}
