import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HashingEmbeddingProvider, matchesFilter, type VectorStore } from '@clara/corpus';

import { type Opened, vectorFixtures } from './support/corpus-stores.js';
import { FILTER_CASES, FILTER_ITEMS, filterOf } from './support/filter-cases.js';

const embedder = new HashingEmbeddingProvider(64);
const vec = (text: string) => embedder.embedOne(text);

/** One contract, run unchanged against every vector adapter. */
describe.each(vectorFixtures().map((f) => [f.name, f] as const))(
  'vector store contract: %s',
  (_name, fixture) => {
    let opened: Opened<VectorStore>;
    let store: VectorStore;
    beforeAll(async () => {
      opened = await fixture.open();
      store = opened.store;
    });
    afterAll(() => opened.close());

    it('answers ping', async () => {
      expect(await store.ping()).toMatchObject({ adapter: store.adapter });
    });

    it('returns the nearest chunks by cosine, best first', async () => {
      await store.upsert([
        {
          chunkId: 'n1#0',
          documentId: 'n1',
          embedding: vec('fire safety escape routes stairs'),
          metadata: { set: 'near' },
        },
        {
          chunkId: 'n2#0',
          documentId: 'n2',
          embedding: vec('parking spaces for bicycles'),
          metadata: { set: 'near' },
        },
        {
          chunkId: 'n3#0',
          documentId: 'n3',
          embedding: vec('fire escape stairs in tall buildings'),
          metadata: { set: 'near' },
        },
      ]);
      const query = vec('fire escape stairs');
      const texts: Record<string, string> = {
        'n1#0': 'fire safety escape routes stairs',
        'n2#0': 'parking spaces for bicycles',
        'n3#0': 'fire escape stairs in tall buildings',
      };
      const expected = Object.entries(texts)
        .map(([id, text]) => ({ id, score: cosineOf(query, vec(text)) }))
        .sort((a, b) => b.score - a.score);
      const hits = await store.search(query, filterOf({ set: 'near' }), 3);
      expect(hits.map((h) => h.chunkId)).toEqual(expected.map((e) => e.id));
      expect(hits[0].documentId).toBe(expected[0].id.slice(0, 2));
      hits.forEach((hit, i) => expect(hit.score).toBeCloseTo(expected[i].score, 4));
      expect(expected[2].id).toBe('n2#0');
    });

    it('replaces a chunk on upsert and deletes all chunks of a document', async () => {
      await store.upsert([
        { chunkId: 'r1#0', documentId: 'r1', embedding: vec('alpha'), metadata: { set: 'r' } },
        { chunkId: 'r1#1', documentId: 'r1', embedding: vec('beta'), metadata: { set: 'r' } },
        { chunkId: 'r2#0', documentId: 'r2', embedding: vec('gamma'), metadata: { set: 'r' } },
      ]);
      await store.upsert([
        { chunkId: 'r1#0', documentId: 'r1', embedding: vec('delta'), metadata: { set: 'r' } },
      ]);
      const [top] = await store.search(vec('delta'), filterOf({ set: 'r' }), 1);
      expect(top).toMatchObject({ chunkId: 'r1#0' });
      expect(top.score).toBeCloseTo(1, 4);
      await store.deleteDocument('r1');
      const left = await store.search(vec('alpha beta delta'), filterOf({ set: 'r' }), 10);
      expect(left.map((h) => h.chunkId)).toEqual(['r2#0']);
      await store.deleteDocument('does-not-exist');
    });

    describe('filters', () => {
      beforeAll(async () => {
        await store.upsert(
          FILTER_ITEMS.map((item) => ({
            chunkId: `${item.id}#0`,
            documentId: item.id,
            embedding: vec(`filter item ${item.id}`),
            metadata: { ...item.metadata, suite: 'filters' },
          })),
        );
      });

      it.each(FILTER_CASES.map((c) => [JSON.stringify(c), c] as const))(
        '%s',
        async (_label, wire) => {
          const filter = filterOf({ ...wire, suite: 'filters' });
          const expected = FILTER_ITEMS.filter((i) =>
            matchesFilter({ ...i.metadata, suite: 'filters' }, filter),
          )
            .map((i) => i.id)
            .sort();
          const hits = await store.search(vec('filter item'), filter, 100);
          expect(hits.map((h) => h.documentId).sort()).toEqual(expected);
        },
      );
    });

    it('counts records', async () => {
      expect(await store.count()).toBeGreaterThanOrEqual(FILTER_ITEMS.length);
    });
  },
);

function cosineOf(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] ** 2;
    nb += b[i] ** 2;
  }
  return dot / Math.sqrt(na * nb);
}
