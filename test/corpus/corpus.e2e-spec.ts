import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';

import {
  type CorpusApp,
  corpusConfigurations,
  multipart,
  PREFIX,
  startCorpusApp,
} from './support/corpus-app.js';

interface Hit {
  chunk_id: string;
  document_id: string;
  title: string;
  text: string;
  score: number;
  scores: Record<string, number | null>;
  sources: string[];
  graph: { seed: string; hops: number } | null;
}

const DOCS = [
  {
    id: 'lbo-bw',
    title: 'Landesbauordnung Baden-Württemberg (fiktiv)',
    language: 'de',
    text: 'Stellplätze für Fahrräder sind in ausreichender Zahl herzustellen.\n\nDie Garagen müssen belüftet sein.',
    metadata: { jurisdiction: 'BW', doc_type: 'regulation', year: 2019, date: '2019-03-01' },
  },
  {
    id: 'lbo-bw-a1',
    title: 'Erste Änderung',
    language: 'de',
    text: 'In § 37 wird die Zahl 2 durch 3 ersetzt.',
    metadata: { jurisdiction: 'BW', doc_type: 'amendment', year: 2021, date: '2021-07-01' },
    relations: [{ type: 'amends', target: 'lbo-bw' }],
  },
  {
    id: 'fire-eng',
    title: 'Fire Safety Regulations',
    language: 'en',
    text: 'Every flat needs a protected escape route. Self-closing fire doors are required.',
    metadata: { jurisdiction: 'ENG', doc_type: 'regulation', year: 2018, date: '2018-05-01' },
    relations: [{ type: 'cites', target: 'lbo-bw' }],
  },
];

describe.each(corpusConfigurations())('corpus ingest and search (%s)', (configuration) => {
  let t: CorpusApp;
  beforeAll(async () => {
    t = await startCorpusApp(configuration, {
      CLARA_INGEST_BACKGROUND_THRESHOLD: '20',
      CLARA_CHUNK_SIZE: '100',
    });
  }, 60_000);
  afterAll(() => t.close());

  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, token: string, payload?: object) =>
    t.app.inject({
      method,
      url: `${PREFIX}${url}`,
      headers: { authorization: `Bearer ${token}` },
      ...(payload ? { payload } : {}),
    });
  const search = async (body: object, token = t.tokens.analyst) => {
    const res = await call('POST', '/search', token, body);
    expect(res.statusCode).toBe(200);
    return res.json<{ data: Hit[]; stores: Record<string, string> }>();
  };
  const ids = (hits: Hit[]) => [...new Set(hits.map((h) => h.document_id))];

  describe('ingest', () => {
    it('refuses analysts and ingests a batch for trainers into every store', async () => {
      expect(
        (await call('POST', '/documents', t.tokens.analyst, { documents: DOCS })).statusCode,
      ).toBe(403);
      const res = await call('POST', '/documents', t.tokens.trainer, { documents: DOCS });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toEqual({
        mode: 'sync',
        ingested: 3,
        documents: [
          { id: 'lbo-bw', status: 'created', chunks: 2 },
          { id: 'lbo-bw-a1', status: 'created', chunks: 1 },
          { id: 'fire-eng', status: 'created', chunks: 1 },
        ],
      });
    });

    it('is idempotent per id: the same document is unchanged, a changed one replaces the old everywhere', async () => {
      const again = await call('POST', '/documents', t.tokens.trainer, { documents: [DOCS[2]] });
      expect(again.json<{ documents: unknown[] }>().documents).toEqual([
        { id: 'fire-eng', status: 'unchanged', chunks: 1 },
      ]);
      const changed = {
        ...DOCS[2],
        text: 'Every flat needs a sprinkler system. Fire doors close themselves.',
      };
      const res = await call('POST', '/documents', t.tokens.trainer, { documents: [changed] });
      expect(res.json<{ documents: unknown[] }>().documents).toEqual([
        { id: 'fire-eng', status: 'replaced', chunks: 1 },
      ]);
      for (const mode of ['keyword', 'vector', 'hybrid']) {
        const hits = (await search({ query: 'protected escape route', mode })).data;
        expect(hits.some((h) => h.text.includes('protected escape route'))).toBe(false);
      }
      const hits = (await search({ query: 'sprinkler system', mode: 'keyword' })).data;
      expect(hits[0]).toMatchObject({ document_id: 'fire-eng' });
      await call('POST', '/documents', t.tokens.trainer, { documents: [DOCS[2]] });
    });

    it('derives a stable id when none is given', async () => {
      const doc = { title: 'Ohne Kennung', text: 'Ein Dokument ohne Kennung.' };
      const first = await call('POST', '/documents', t.tokens.trainer, { documents: [doc] });
      const second = await call('POST', '/documents', t.tokens.trainer, { documents: [doc] });
      const [a] = first.json<{ documents: { id: string }[] }>().documents;
      expect(second.json<{ documents: unknown[] }>().documents).toEqual([
        { id: a.id, status: 'unchanged', chunks: 1 },
      ]);
      expect((await call('DELETE', `/documents/${a.id}`, t.tokens.admin)).statusCode).toBe(204);
    });

    it('refuses bad input naming each document and field, writing nothing', async () => {
      const res = await call('POST', '/documents', t.tokens.trainer, {
        documents: [
          { id: 'ok-but-not-written', text: 'fine' },
          { id: 'bad one', title: 7, metadata: { nested: { no: 1 }, 'bad-key': 1 } },
          { text: '   ', relations: [{ type: 'Cites', target: 'x' }] },
        ],
      });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      const fields = res
        .json<{ errors: { field: string }[] }>()
        .errors.map((e) => e.field)
        .sort();
      expect(fields).toEqual([
        'documents.1.id',
        'documents.1.metadata.bad-key',
        'documents.1.metadata.nested',
        'documents.1.text',
        'documents.1.title',
        'documents.2.relations.0.type',
        'documents.2.text',
      ]);
      expect(
        (await call('GET', '/documents/ok-but-not-written', t.tokens.analyst)).statusCode,
      ).toBe(404);
      expect(
        (await call('POST', '/documents', t.tokens.trainer, { documents: [] })).statusCode,
      ).toBe(400);
      expect(
        (
          await call('POST', '/documents', t.tokens.trainer, {
            documents: [{ text: 'x' }],
            extra: 1,
          })
        ).statusCode,
      ).toBe(400);
    });

    it('applies the unknown-target policy: reject names the relation, drop removes it, keep keeps it', async () => {
      const doc = {
        id: 'orphan-cite',
        text: 'Verweist auf Unbekanntes.',
        relations: [
          { type: 'cites', target: 'nowhere' },
          { type: 'cites', target: 'lbo-bw' },
        ],
      };
      const rejected = await call('POST', '/documents', t.tokens.trainer, {
        documents: [doc],
        unknown_targets: 'reject',
      });
      expect(rejected.statusCode).toBe(400);
      expect(rejected.json<{ errors: { field: string; message: string }[] }>().errors).toEqual([
        expect.objectContaining({
          field: 'documents.0.relations.0.target',
          message: expect.stringContaining("'nowhere'"),
        }),
      ]);
      expect((await call('GET', '/documents/orphan-cite', t.tokens.analyst)).statusCode).toBe(404);
      await call('POST', '/documents', t.tokens.trainer, {
        documents: [doc],
        unknown_targets: 'drop',
      });
      const dropped = await call('GET', '/documents/orphan-cite', t.tokens.analyst);
      expect(dropped.json<{ relations: { outgoing: unknown[] } }>().relations.outgoing).toEqual([
        { type: 'cites', target: 'lbo-bw' },
      ]);
      await call('POST', '/documents', t.tokens.trainer, { documents: [{ ...doc, text: 'Neu.' }] });
      const kept = await call('GET', '/documents/orphan-cite', t.tokens.analyst);
      expect(kept.json<{ relations: { outgoing: unknown[] } }>().relations.outgoing).toHaveLength(
        2,
      );
      await call('DELETE', '/documents/orphan-cite', t.tokens.admin);
    });
    it('ingests concurrent requests for different documents completely', async () => {
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          call('POST', '/documents', t.tokens.trainer, {
            documents: [
              {
                id: `par-${i}`,
                text: `Paralleles Dokument ${i}. `.repeat(30),
                metadata: { batch: 'parallel' },
                relations: [{ type: 'cites', target: `par-${(i + 1) % 12}` }],
              },
            ],
          }),
        ),
      );
      expect(results.map((r) => r.statusCode)).toEqual(new Array(12).fill(201));
      const listed = await call(
        'GET',
        `/documents?limit=100&filters=${encodeURIComponent('{"batch":"parallel"}')}`,
        t.tokens.analyst,
      );
      const rows = listed.json<{ data: { chunk_count: number }[] }>().data;
      expect(rows).toHaveLength(12);
      expect(rows.every((r) => r.chunk_count === rows[0].chunk_count && r.chunk_count > 1)).toBe(
        true,
      );
      const graph = await search({
        query: 'Paralleles Dokument 3',
        mode: 'graph',
        graph_depth: 1,
        top_k: 50,
      });
      expect(ids(graph.data).length).toBeGreaterThan(1);
    });
  });

  describe('read', () => {
    it('gets one document: body from the documents store, chunks, relations both ways', async () => {
      const res = await call('GET', '/documents/lbo-bw', t.tokens.analyst);
      expect(res.statusCode).toBe(200);
      const doc = res.json<Record<string, unknown>>();
      expect(doc).toMatchObject({
        id: 'lbo-bw',
        title: DOCS[0].title,
        text: DOCS[0].text,
        language: 'de',
        metadata: DOCS[0].metadata,
        chunk_count: 2,
        source: { kind: 'json' },
        relations: {
          outgoing: [],
          incoming: [
            { type: 'amends', source: 'lbo-bw-a1' },
            { type: 'cites', source: 'fire-eng' },
          ],
        },
      });
      expect((doc.chunks as { text: string }[]).map((c) => c.text)).toEqual([
        'Stellplätze für Fahrräder sind in ausreichender Zahl herzustellen.',
        'Die Garagen müssen belüftet sein.',
      ]);
      expect((await call('GET', '/documents/missing', t.tokens.analyst)).json()).toMatchObject({
        status: 404,
        code: 'document_not_found',
      });
    });

    it('lists with metadata filters and a cursor', async () => {
      const q = (filters: object, extra = '') =>
        call(
          'GET',
          `/documents?filters=${encodeURIComponent(JSON.stringify(filters))}${extra}`,
          t.tokens.analyst,
        );
      expect(
        (await q({ jurisdiction: 'BW' })).json<{ data: { id: string }[] }>().data.map((d) => d.id),
      ).toEqual(['lbo-bw', 'lbo-bw-a1']);
      expect(
        (await q({ year: { gte: 2019 }, doc_type: { in: ['amendment', 'x'] } }))
          .json<{ data: { id: string }[] }>()
          .data.map((d) => d.id),
      ).toEqual(['lbo-bw-a1']);
      const page1 = (await call('GET', '/documents?limit=2', t.tokens.analyst)).json<{
        data: { id: string }[];
        next_cursor: string;
      }>();
      expect(page1.data).toHaveLength(2);
      const page2 = (
        await call('GET', `/documents?limit=2&cursor=${page1.next_cursor}`, t.tokens.analyst)
      ).json<{ data: { id: string }[] }>();
      expect(page2.data.map((d) => d.id)).not.toContain(page1.data[0].id);
      expect((await q({ year: { gte: 'soon' } })).statusCode).toBe(400);
      expect(
        (await call('GET', '/documents?filters=%7Bnot-json', t.tokens.analyst)).statusCode,
      ).toBe(400);
    });
  });

  describe('search', () => {
    it('returns chunk text, document, fused and per-role scores and provenance', async () => {
      const result = await search({ query: 'Stellplätze Fahrräder' });
      const [top] = result.data;
      expect(top).toMatchObject({
        document_id: 'lbo-bw',
        chunk_id: 'lbo-bw#0',
        title: DOCS[0].title,
      });
      expect(top.text).toContain('Stellplätze');
      expect(top.scores.keyword).toBeGreaterThan(0);
      expect(top.scores.vector).toBeGreaterThan(0);
      expect(top.sources).toEqual(
        expect.arrayContaining([
          `relational:${result.stores.relational}`,
          `vector:${result.stores.vector}`,
        ]),
      );
      expect(result.stores).toEqual(
        configuration === 'servers'
          ? { relational: 'postgres-fts', vector: 'chroma', graph: 'neo4j', documents: 'couchdb' }
          : {
              relational: 'sqlite-fts5',
              vector: 'sqlite-exact-cosine',
              graph: 'sqlite-recursive-cte',
              documents: 'sqlite-document-table',
            },
      );
      // The amendment shares no words with the query: only the graph finds it.
      const amendment = result.data.find((h) => h.document_id === 'lbo-bw-a1');
      expect(amendment).toMatchObject({
        graph: { seed: 'lbo-bw', hops: 1 },
        scores: { keyword: null, graph: 1 },
      });
      expect(amendment!.sources).toContain(`graph:${result.stores.graph}`);
      expect(
        ids(
          (await search({ query: 'Stellplätze Fahrräder', graph_depth: 0, mode: 'keyword' })).data,
        ),
      ).toEqual(['lbo-bw']);
    });

    it('applies filters in every mode', async () => {
      for (const mode of ['keyword', 'vector', 'hybrid', 'graph']) {
        const hits = (
          await search({
            query: 'Stellplätze Fahrräder fire doors',
            mode,
            filters: { jurisdiction: { in: ['ENG'] } },
          })
        ).data;
        expect({ mode, ids: ids(hits) }).toEqual({
          mode,
          ids: mode === 'graph' ? expect.arrayContaining(['fire-eng']) : ['fire-eng'],
        });
        const ranged = (
          await search({
            query: 'Stellplätze Änderung fire',
            mode,
            filters: { date: { gte: '2020-01-01' } },
          })
        ).data;
        expect({ mode, ids: ids(ranged).filter((id) => id !== 'lbo-bw-a1') }).toEqual({
          mode,
          ids: [],
        });
      }
    });

    it('supports graph mode, RRF, weights, min_score and top_k', async () => {
      const graph = await search({ query: 'Stellplätze Fahrräder', mode: 'graph', graph_depth: 1 });
      expect(ids(graph.data)).toEqual(expect.arrayContaining(['lbo-bw', 'lbo-bw-a1', 'fire-eng']));
      expect(graph.data.every((h) => h.scores.keyword === null || h.graph !== null)).toBe(true);
      const rrf = await search({ query: 'fire doors', fusion: 'rrf', top_k: 1 });
      expect(rrf.data).toHaveLength(1);
      expect(rrf.data[0].document_id).toBe('fire-eng');
      expect(rrf.data[0].score).toBeLessThan(1 / 60);
      const keywordOnly = await search({
        query: 'fire doors',
        weights: { vector: 0, keyword: 1, graph: 0 },
      });
      expect(keywordOnly.data[0].score).toBe(1);
      expect((await search({ query: 'fire doors', min_score: 2 })).data).toEqual([]);
      const zero = await call('POST', '/search', t.tokens.analyst, {
        query: 'x',
        weights: { vector: 0, keyword: 0, graph: 0 },
      });
      expect(zero.statusCode).toBe(400);
      const bad = await call('POST', '/search', t.tokens.analyst, {
        query: '',
        mode: 'fuzzy',
        top_k: 1000,
      });
      expect(
        bad
          .json<{ errors: { field: string }[] }>()
          .errors.map((e) => e.field)
          .sort(),
      ).toEqual(['mode', 'query', 'top_k']);
    });
  });

  describe('upload', () => {
    const upload = (
      fields: Record<string, string>,
      file: { name: string; content: string },
      token = t.tokens.trainer,
    ) => {
      const form = multipart(fields, file);
      return t.app.inject({
        method: 'POST',
        url: `${PREFIX}/documents/upload`,
        headers: { authorization: `Bearer ${token}`, ...form.headers },
        payload: form.payload,
      });
    };

    it('ingests CSV (quoted newlines, relations, metadata columns)', async () => {
      const csv =
        'id,title,text,jurisdiction,year,relations\r\ncsv-1,"Erlass, CSV","Erste Zeile.\n\nZweiter ""Absatz"".",HE,2022,amends:lbo-bw\r\ncsv-2,Zwei,Nur Text.,HE,2023,\r\n';
      const res = await upload({}, { name: 'erlasse.csv', content: csv });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject({ mode: 'sync', ingested: 2 });
      const doc = (await call('GET', '/documents/csv-1', t.tokens.analyst)).json<
        Record<string, unknown>
      >();
      expect(doc).toMatchObject({
        title: 'Erlass, CSV',
        text: 'Erste Zeile.\n\nZweiter "Absatz".',
        metadata: { jurisdiction: 'HE', year: 2022 },
        source: { kind: 'csv', filename: 'erlasse.csv', line: 2 },
        relations: { outgoing: [{ type: 'amends', target: 'lbo-bw' }] },
      });
    });

    it('ingests Markdown with front matter and plain text as one document each', async () => {
      const md =
        '---\nid: md-note\nmetadata:\n  jurisdiction: BY\nyear: 2024\n---\n# Hinweis zur Dachbegrünung\n\nFlachdächer sind zu begrünen.\n';
      expect((await upload({}, { name: 'hinweis.md', content: md })).statusCode).toBe(201);
      expect((await call('GET', '/documents/md-note', t.tokens.analyst)).json()).toMatchObject({
        title: 'Hinweis zur Dachbegrünung',
        metadata: { jurisdiction: 'BY', year: 2024 },
      });
      const txt = await upload(
        { metadata: '{"jurisdiction":"NW"}', language: 'de' },
        { name: 'Notiz Schallschutz.txt', content: 'Trittschall ist zu dämmen.' },
      );
      expect(txt.json()).toMatchObject({
        documents: [{ id: 'Notiz-Schallschutz', status: 'created' }],
      });
    });

    it('refuses an invalid file naming the line, writing nothing', async () => {
      const jsonl = '{"id":"jl-1","text":"gut"}\n{"id":"jl-2","text":\n{"id":"jl-3"}\n';
      const res = await upload({}, { name: 'bad.jsonl', content: jsonl });
      expect(res.statusCode).toBe(400);
      expect(res.json<{ errors: { field: string; in: string }[] }>().errors).toEqual([
        expect.objectContaining({ field: 'line 2', in: 'file' }),
        expect.objectContaining({ field: 'line 3.text', in: 'file' }),
      ]);
      expect((await call('GET', '/documents/jl-1', t.tokens.analyst)).statusCode).toBe(404);
      expect((await upload({}, { name: 'x.pdf', content: '%PDF' })).statusCode).toBe(400);
      expect((await upload({}, { name: 'x.csv', content: 'a,b\n"open' })).statusCode).toBe(400);
      expect(
        (await upload({}, { name: 'x.jsonl', content: '{"text":"x"}' }, t.tokens.analyst))
          .statusCode,
      ).toBe(403);
    });

    it('runs a large upload as a background task with progress', async () => {
      const lines = Array.from({ length: 45 }, (_, i) =>
        JSON.stringify({
          id: `bulk-${i}`,
          text: `Massendokument Nummer ${i} über Aufzüge.`,
          metadata: { batch: 'bulk' },
        }),
      );
      const res = await upload({}, { name: 'bulk.jsonl', content: lines.join('\n') });
      expect(res.statusCode).toBe(202);
      const body = res.json<{ task: { id: string; total: number }; status_url: string }>();
      expect(body.task.total).toBe(45);
      expect(body.status_url).toBe(`${PREFIX}/ingest-tasks/${body.task.id}`);
      let task: Record<string, unknown> = {};
      for (let i = 0; i < 200; i++) {
        task = (
          await t.app.inject({
            method: 'GET',
            url: body.status_url,
            headers: { authorization: `Bearer ${t.tokens.analyst}` },
          })
        ).json();
        if (task.state === 'succeeded' || task.state === 'failed') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(task).toMatchObject({
        state: 'succeeded',
        total: 45,
        processed: 45,
        succeeded: 45,
        failed: 0,
        progress: 1,
      });
      const listed = await call(
        'GET',
        `/documents?limit=100&filters=${encodeURIComponent('{"batch":"bulk"}')}`,
        t.tokens.analyst,
      );
      expect(listed.json<{ data: unknown[] }>().data).toHaveLength(45);
      expect((await call('GET', '/ingest-tasks/nope', t.tokens.analyst)).statusCode).toBe(404);
    });
  });

  describe('delete', () => {
    it('is for admins only and removes the document from every store', async () => {
      expect((await call('DELETE', '/documents/fire-eng', t.tokens.trainer)).statusCode).toBe(403);
      expect((await call('DELETE', '/documents/fire-eng', t.tokens.admin)).statusCode).toBe(204);
      expect((await call('GET', '/documents/fire-eng', t.tokens.analyst)).statusCode).toBe(404);
      for (const mode of ['keyword', 'vector', 'hybrid', 'graph']) {
        expect(ids((await search({ query: 'fire doors Stellplätze', mode })).data)).not.toContain(
          'fire-eng',
        );
      }
      expect(
        (await call('GET', '/documents/lbo-bw', t.tokens.analyst)).json<{
          relations: { incoming: unknown[] };
        }>().relations.incoming,
      ).toEqual([
        { type: 'amends', source: 'csv-1' },
        { type: 'amends', source: 'lbo-bw-a1' },
      ]);
      expect((await call('DELETE', '/documents/fire-eng', t.tokens.admin)).statusCode).toBe(404);
    });
  });

  if (configuration === 'embedded') {
    it('rolls a document back in every store when one store fails, naming the store', async () => {
      // Fault injection in the real database: the vector table refuses this one document.
      const dataSource = t.app.get(DataSource);
      await dataSource.query(
        `CREATE TRIGGER poison_vectors BEFORE INSERT ON corpus_vectors WHEN NEW.document_id = 'poison'
         BEGIN SELECT RAISE(ABORT, 'disk full (injected)'); END`,
      );
      const res = await call('POST', '/documents', t.tokens.trainer, {
        documents: [
          { id: 'before-poison', text: 'Vor dem Fehler.' },
          {
            id: 'poison',
            text: 'Giftiges Dokument über Brandschutz.',
            relations: [{ type: 'cites', target: 'lbo-bw' }],
          },
        ],
      });
      expect(res.statusCode).toBe(502);
      expect(res.json()).toMatchObject({
        code: 'store_failed',
        store: 'vector',
        adapter: 'sqlite-exact-cosine',
        document_id: 'poison',
        ingested: ['before-poison'],
        detail: expect.stringContaining('vector store'),
      });
      expect((await call('GET', '/documents/poison', t.tokens.analyst)).statusCode).toBe(404);
      expect((await call('GET', '/documents/before-poison', t.tokens.analyst)).statusCode).toBe(
        200,
      );
      for (const mode of ['keyword', 'vector', 'hybrid', 'graph']) {
        expect(
          ids((await search({ query: 'Giftiges Dokument Brandschutz', mode })).data),
        ).not.toContain('poison');
      }
      for (const table of ['corpus_documents', 'corpus_bodies', 'corpus_graph_nodes']) {
        const rows = await dataSource.query<unknown[]>(
          `SELECT * FROM ${table} WHERE id = 'poison'`,
        );
        expect({ table, rows }).toEqual({ table, rows: [] });
      }
      expect(
        await dataSource.query(`SELECT * FROM corpus_chunks WHERE document_id = 'poison'`),
      ).toEqual([]);
      expect(
        await dataSource.query(`SELECT * FROM corpus_graph_edges WHERE source_id = 'poison'`),
      ).toEqual([]);
      await dataSource.query('DROP TRIGGER poison_vectors');
    });
  }
});
