import type { Driver, ManagedTransaction } from 'neo4j-driver';

import type { Metadata, Relation } from '../../domain/corpus.types.js';
import { type MetadataFilter, RANGE_SQL, rangeEntries } from '../../domain/filters.js';
import { withDeadline } from '../store-errors.js';
import type { DocumentRelations, GraphNode, GraphStore, Neighbour } from '../store.interfaces.js';

export interface Neo4jOptions {
  url: string;
  user?: string;
  password?: string;
  /** Every node carries it, so several corpora (or test runs) share one database. */
  namespace: string;
  timeoutMs: number;
}

const META = 'm_';

/**
 * The graph role on a Neo4j server: `(:ClaraDocument)-[:RELATES {type}]->(:ClaraDocument)`.
 * Every statement is a constant string with parameters (dynamic property names go through
 * `n[$key]`); k-hop expansion walks one hop per query in both directions, so depth never
 * becomes part of the Cypher text. A node's identity is `key` = namespace + id (unique).
 */
export class Neo4jGraphStore implements GraphStore {
  readonly role = 'graph' as const;
  readonly adapter = 'neo4j';
  private connected?: Promise<Driver>;
  private schema?: Promise<void>;

  constructor(private readonly options: Neo4jOptions) {}

  /** The driver is loaded on first use (~90 ms, a few MB): the embedded default never needs it. */
  private driver(): Promise<Driver> {
    this.connected ??= import('neo4j-driver').then(({ default: neo4j }) => {
      const { url, user, password, timeoutMs } = this.options;
      return neo4j.driver(url, user ? neo4j.auth.basic(user, password ?? '') : undefined, {
        disableLosslessIntegers: true,
        connectionTimeout: timeoutMs,
        connectionAcquisitionTimeout: timeoutMs,
        maxTransactionRetryTime: Math.min(timeoutMs, 2000),
        logging: { level: 'error', logger: () => undefined },
      });
    });
    this.connected.catch(() => (this.connected = undefined));
    return this.connected;
  }

  private key(id: string): string {
    return `${this.options.namespace}\u0000${id}`;
  }

  private ensureSchema(): Promise<void> {
    this.schema ??= (async () => {
      const session = (await this.driver()).session();
      try {
        await session.run(
          'CREATE CONSTRAINT clara_document_key IF NOT EXISTS FOR (n:ClaraDocument) REQUIRE n.key IS UNIQUE',
        );
        await session.run(
          'CREATE INDEX clara_document_ns IF NOT EXISTS FOR (n:ClaraDocument) ON (n.ns)',
        );
      } finally {
        await session.close();
      }
    })().catch((error: unknown) => {
      this.schema = undefined;
      throw error;
    });
    return this.schema;
  }

  private run<T>(
    what: string,
    mode: 'read' | 'write',
    work: (tx: ManagedTransaction) => Promise<T>,
  ): Promise<T> {
    return withDeadline(
      (async () => {
        await this.ensureSchema();
        const session = (await this.driver()).session({
          defaultAccessMode: mode === 'read' ? 'READ' : 'WRITE',
        });
        try {
          return mode === 'read'
            ? await session.executeRead(work)
            : await session.executeWrite(work);
        } finally {
          await session.close();
        }
      })(),
      this.options.timeoutMs,
      `neo4j ${what}`,
    );
  }

  async ping(): Promise<Record<string, unknown>> {
    const info = await withDeadline(
      this.driver().then((driver) => driver.getServerInfo()),
      this.options.timeoutMs,
      'neo4j ping',
    );
    return { adapter: this.adapter, server: info.agent, namespace: this.options.namespace };
  }

  async close(): Promise<void> {
    if (this.connected) await (await this.connected).close();
  }

  async upsertDocument(node: GraphNode, relations: Relation[]): Promise<void> {
    const unique = [...new Map(relations.map((r) => [`${r.type}\u0000${r.target}`, r])).values()];
    await this.run('upsert', 'write', async (tx) => {
      await tx.run(
        `MERGE (d:ClaraDocument {key: $key})
         SET d = $props`,
        {
          key: this.key(node.id),
          props: this.properties(node.id, node.title, node.metadata, false),
        },
      );
      const previous = await this.dropOutgoing(tx, node.id);
      if (unique.length > 0) {
        await tx.run(
          `MATCH (d:ClaraDocument {key: $key})
           UNWIND $relations AS rel
           MERGE (t:ClaraDocument {key: rel.key})
             ON CREATE SET t.ns = $ns, t.id = rel.target, t.placeholder = true
           CREATE (d)-[:RELATES {type: rel.type}]->(t)`,
          {
            key: this.key(node.id),
            ns: this.options.namespace,
            relations: unique.map((r) => ({
              key: this.key(r.target),
              target: r.target,
              type: r.type,
            })),
          },
        );
      }
      await this.dropOrphanPlaceholders(tx, previous);
    });
  }

  async deleteDocument(documentId: string): Promise<void> {
    await this.run('delete', 'write', async (tx) => {
      const previous = await this.dropOutgoing(tx, documentId);
      await tx.run(`MATCH (d:ClaraDocument {key: $key}) SET d = $props`, {
        key: this.key(documentId),
        props: this.properties(documentId, null, {}, true),
      });
      await this.dropOrphanPlaceholders(tx, [...previous, this.key(documentId)]);
    });
  }

  private properties(id: string, title: string | null, metadata: Metadata, placeholder: boolean) {
    const props: Record<string, unknown> = {
      key: this.key(id),
      ns: this.options.namespace,
      id,
      placeholder,
    };
    if (title !== null) props.title = title;
    for (const [k, v] of Object.entries(metadata)) props[`${META}${k}`] = v;
    return props;
  }

  private async dropOutgoing(tx: ManagedTransaction, documentId: string): Promise<string[]> {
    const result = await tx.run(
      `MATCH (:ClaraDocument {key: $key})-[r:RELATES]->(t:ClaraDocument)
       WITH r, t.key AS target DELETE r RETURN collect(DISTINCT target) AS targets`,
      { key: this.key(documentId) },
    );
    return (result.records[0]?.get('targets') as string[] | undefined) ?? [];
  }

  private async dropOrphanPlaceholders(tx: ManagedTransaction, keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await tx.run(
      `UNWIND $keys AS k
       MATCH (t:ClaraDocument {key: k})
       WHERE t.placeholder = true AND NOT (t)--()
       DELETE t`,
      { keys },
    );
  }

  async relationsOf(documentId: string): Promise<DocumentRelations> {
    return this.run('relations', 'read', async (tx) => {
      const key = this.key(documentId);
      const outgoing = await tx.run(
        `MATCH (:ClaraDocument {key: $key})-[r:RELATES]->(t:ClaraDocument)
         RETURN r.type AS type, t.id AS id ORDER BY type, id`,
        { key },
      );
      const incoming = await tx.run(
        `MATCH (:ClaraDocument {key: $key})<-[r:RELATES]-(s:ClaraDocument)
         RETURN r.type AS type, s.id AS id ORDER BY type, id`,
        { key },
      );
      return {
        outgoing: outgoing.records.map((r) => ({
          type: r.get('type') as string,
          target: r.get('id') as string,
        })),
        incoming: incoming.records.map((r) => ({
          type: r.get('type') as string,
          source: r.get('id') as string,
        })),
      };
    });
  }

  async expand(seeds: string[], depth: number, filter: MetadataFilter): Promise<Neighbour[]> {
    if (seeds.length === 0 || depth < 1) return [];
    return this.run('expand', 'read', async (tx) => {
      // Breadth-first, one parameterised query per hop for all seeds at once.
      const reached = new Map<string, Map<string, number>>(
        seeds.map((s) => [s, new Map([[s, 0]])]),
      );
      let frontier = new Map<string, Set<string>>(seeds.map((s) => [s, new Set([s])]));
      for (let hop = 1; hop <= depth; hop++) {
        const nodes = [...new Set([...frontier.values()].flatMap((set) => [...set]))];
        if (nodes.length === 0) break;
        const result = await tx.run(
          `UNWIND $keys AS k
           MATCH (a:ClaraDocument {key: k})-[:RELATES]-(b:ClaraDocument)
           RETURN DISTINCT a.id AS source, b.id AS target`,
          { keys: nodes.map((id) => this.key(id)) },
        );
        const adjacency = new Map<string, string[]>();
        for (const record of result.records) {
          const source = record.get('source') as string;
          const list = adjacency.get(source) ?? [];
          list.push(record.get('target') as string);
          adjacency.set(source, list);
        }
        const next = new Map<string, Set<string>>();
        for (const [seed, current] of frontier) {
          const seen = reached.get(seed)!;
          const found = new Set<string>();
          for (const node of current) {
            for (const neighbour of adjacency.get(node) ?? []) {
              if (seen.has(neighbour)) continue;
              seen.set(neighbour, hop);
              found.add(neighbour);
            }
          }
          next.set(seed, found);
        }
        frontier = next;
      }
      const candidates = [...new Set([...reached.values()].flatMap((m) => [...m.keys()]))];
      const { where, params } = filterCypher(filter);
      const visible = await tx.run(
        `UNWIND $keys AS k
         MATCH (n:ClaraDocument {key: k})
         WHERE n.placeholder = false ${where ? `AND ${where}` : ''}
         RETURN n.id AS id`,
        { ...params, keys: candidates.map((id) => this.key(id)) },
      );
      const ok = new Set(visible.records.map((r) => r.get('id') as string));
      const out: Neighbour[] = [];
      for (const [seed, hops] of reached) {
        for (const [documentId, h] of hops) {
          if (h > 0 && ok.has(documentId)) out.push({ seed, documentId, hops: h });
        }
      }
      return out;
    });
  }

  async count(): Promise<{ nodes: number; edges: number }> {
    return this.run('count', 'read', async (tx) => {
      const result = await tx.run(
        `MATCH (n:ClaraDocument {ns: $ns}) WHERE n.placeholder = false
         WITH count(n) AS nodes
         OPTIONAL MATCH (:ClaraDocument {ns: $ns})-[r:RELATES]->()
         RETURN nodes, count(r) AS edges`,
        { ns: this.options.namespace },
      );
      const record = result.records[0];
      return { nodes: Number(record.get('nodes')), edges: Number(record.get('edges')) };
    });
  }
}

/**
 * Filter conditions on `n` with every key and value a parameter. Cypher compares values
 * of different types as null (false), which matches the reference semantics.
 */
export function filterCypher(filter: MetadataFilter): {
  where: string;
  params: Record<string, unknown>;
} {
  const params: Record<string, unknown> = {};
  let i = 0;
  const param = (value: unknown) => {
    const name = `f${i++}`;
    params[name] = value;
    return `$${name}`;
  };
  const clauses = filter.map((c) => {
    const property = `n[${param(`${META}${c.key}`)}]`;
    switch (c.kind) {
      case 'eq':
        return `${property} = ${param(c.value)}`;
      case 'in':
        return `${property} IN ${param(c.values)}`;
      case 'range': {
        const guard = c.type === 'date' ? [`${property} =~ '\\\\d{4}-\\\\d{2}-\\\\d{2}.*'`] : [];
        return [
          ...guard,
          ...rangeEntries(c.bounds).map(([op, b]) => `${property} ${RANGE_SQL[op]} ${param(b)}`),
        ].join(' AND ');
      }
    }
  });
  return { where: clauses.map((c) => `(${c})`).join(' AND '), params };
}
