import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import {
  type CorpusApp,
  corpusConfigurations,
  corpusFile,
  corpusQueries,
  multipart,
  PREFIX,
  startCorpusApp,
} from './support/corpus-app.js';

/** What each measured variant sends besides the query. */
const VARIANTS: Record<string, Record<string, unknown>> = {
  keyword: { mode: 'keyword' },
  vector: { mode: 'vector' },
  hybrid: { mode: 'hybrid' },
  hybrid_rrf: { mode: 'hybrid', fusion: 'rrf' },
  hybrid_no_graph: { mode: 'hybrid', graph_depth: 0 },
};
/** The floor hybrid must reach on the shipped corpus (measured figures are in docs/corpus.md). */
const MIN_HYBRID_RECALL = 0.7;

/**
 * Search quality on the shipped corpus (test/fixtures/corpus): recall@10 of hybrid search
 * must be above a floor and above keyword-only and vector-only, in each configuration.
 */
describe.each(corpusConfigurations())('search quality (%s)', (configuration) => {
  let t: CorpusApp;
  const recall: Record<string, number> = {};

  beforeAll(async () => {
    t = await startCorpusApp(configuration);
    const form = multipart(
      { background: 'false' },
      { name: 'corpus.jsonl', content: corpusFile() },
    );
    const res = await t.app.inject({
      method: 'POST',
      url: `${PREFIX}/documents/upload`,
      headers: { authorization: `Bearer ${t.tokens.trainer}`, ...form.headers },
      payload: form.payload,
    });
    expect({ status: res.statusCode, body: res.statusCode === 201 ? '' : res.body }).toEqual({
      status: 201,
      body: '',
    });
  }, 300_000);
  afterAll(async () => {
    console.log(`recall@10 (${configuration}): ${JSON.stringify(recall)}`);
    await t.close();
  });

  it.each(Object.keys(VARIANTS))('measures recall@10 for %s', async (variant) => {
    const queries = corpusQueries();
    let sum = 0;
    for (const q of queries) {
      const res = await t.app.inject({
        method: 'POST',
        url: `${PREFIX}/search`,
        headers: { authorization: `Bearer ${t.tokens.analyst}` },
        payload: { query: q.query, ...VARIANTS[variant], top_k: 10 },
      });
      expect(res.statusCode).toBe(200);
      const found = new Set(
        res.json<{ data: { document_id: string }[] }>().data.map((h) => h.document_id),
      );
      sum += q.relevant.filter((id) => found.has(id)).length / q.relevant.length;
    }
    recall[variant] = Math.round((sum / queries.length) * 1000) / 1000;
  });

  it('hybrid beats keyword-only and vector-only', () => {
    expect(recall.hybrid).toBeGreaterThanOrEqual(MIN_HYBRID_RECALL);
    expect(recall.hybrid).toBeGreaterThan(recall.keyword);
    expect(recall.hybrid).toBeGreaterThan(recall.vector);
  });
});
