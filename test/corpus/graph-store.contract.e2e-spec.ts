import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type GraphStore, matchesFilter } from '@clara/corpus';

import { graphFixtures, type Opened } from './support/corpus-stores.js';
import { FILTER_CASES, FILTER_ITEMS, filterOf } from './support/filter-cases.js';

const node = (id: string, metadata = {}) => ({ id, title: `Title ${id}`, metadata });
const byKey = (a: { seed: string; documentId: string }, b: { seed: string; documentId: string }) =>
  `${a.seed}/${a.documentId}`.localeCompare(`${b.seed}/${b.documentId}`);

/** One contract, run unchanged against every graph adapter. */
describe.each(graphFixtures().map((f) => [f.name, f] as const))(
  'graph store contract: %s',
  (_name, fixture) => {
    let opened: Opened<GraphStore>;
    let store: GraphStore;
    beforeAll(async () => {
      opened = await fixture.open();
      store = opened.store;
    });
    afterAll(() => opened.close());

    it('answers ping', async () => {
      expect(await store.ping()).toMatchObject({ adapter: store.adapter });
    });

    it('stores relations both ways and replaces a document’s outgoing relations on upsert', async () => {
      await store.upsertDocument(node('base'), []);
      await store.upsertDocument(node('amend-1'), [
        { type: 'amends', target: 'base' },
        { type: 'cites', target: 'base' },
        { type: 'cites', target: 'base' },
      ]);
      expect(await store.relationsOf('amend-1')).toEqual({
        outgoing: [
          { type: 'amends', target: 'base' },
          { type: 'cites', target: 'base' },
        ],
        incoming: [],
      });
      expect((await store.relationsOf('base')).incoming).toEqual([
        { type: 'amends', source: 'amend-1' },
        { type: 'cites', source: 'amend-1' },
      ]);
      await store.upsertDocument(node('amend-1'), [{ type: 'amends', target: 'base' }]);
      expect((await store.relationsOf('amend-1')).outgoing).toEqual([
        { type: 'amends', target: 'base' },
      ]);
    });

    it('keeps unknown targets as placeholders that expansion never returns, until ingested', async () => {
      await store.upsertDocument(node('p-src'), [{ type: 'cites', target: 'p-later' }]);
      expect((await store.relationsOf('p-src')).outgoing).toEqual([
        { type: 'cites', target: 'p-later' },
      ]);
      expect(await store.expand(['p-src'], 2, [])).toEqual([]);
      await store.upsertDocument(node('p-later'), []);
      expect(await store.expand(['p-src'], 1, [])).toEqual([
        { seed: 'p-src', documentId: 'p-later', hops: 1 },
      ]);
    });

    it('expands k hops in both directions with the nearest hop count, never returning the seed', async () => {
      // chain: c1 -> c2 -> c3 -> c4, plus c5 -> c2 (incoming) and a cycle c4 -> c1
      await store.upsertDocument(node('c1'), [{ type: 'cites', target: 'c2' }]);
      await store.upsertDocument(node('c2'), [{ type: 'cites', target: 'c3' }]);
      await store.upsertDocument(node('c3'), [{ type: 'cites', target: 'c4' }]);
      await store.upsertDocument(node('c4'), [{ type: 'cites', target: 'c1' }]);
      await store.upsertDocument(node('c5'), [{ type: 'amends', target: 'c2' }]);
      expect((await store.expand(['c2'], 1, [])).sort(byKey)).toEqual([
        { seed: 'c2', documentId: 'c1', hops: 1 },
        { seed: 'c2', documentId: 'c3', hops: 1 },
        { seed: 'c2', documentId: 'c5', hops: 1 },
      ]);
      expect((await store.expand(['c2', 'c5'], 2, [])).sort(byKey)).toEqual([
        { seed: 'c2', documentId: 'c1', hops: 1 },
        { seed: 'c2', documentId: 'c3', hops: 1 },
        { seed: 'c2', documentId: 'c4', hops: 2 },
        { seed: 'c2', documentId: 'c5', hops: 1 },
        { seed: 'c5', documentId: 'c1', hops: 2 },
        { seed: 'c5', documentId: 'c2', hops: 1 },
        { seed: 'c5', documentId: 'c3', hops: 2 },
      ]);
      expect(await store.expand([], 2, [])).toEqual([]);
      expect(await store.expand(['nobody'], 2, [])).toEqual([]);
    });

    it('deletes a document: its relations go, and a cited node stays only as a placeholder', async () => {
      await store.upsertDocument(node('d1'), [{ type: 'cites', target: 'd2' }]);
      await store.upsertDocument(node('d2'), [{ type: 'cites', target: 'd3' }]);
      await store.upsertDocument(node('d3'), []);
      await store.deleteDocument('d2');
      expect(await store.relationsOf('d2')).toEqual({
        outgoing: [],
        incoming: [{ type: 'cites', source: 'd1' }],
      });
      expect(await store.expand(['d1'], 3, [])).toEqual([]);
      expect((await store.relationsOf('d3')).incoming).toEqual([]);
      await store.upsertDocument(node('d2'), []);
      expect(await store.expand(['d1'], 1, [])).toEqual([
        { seed: 'd1', documentId: 'd2', hops: 1 },
      ]);
      await store.deleteDocument('never-there');
    });

    describe('filters apply to the documents reached', () => {
      beforeAll(async () => {
        for (const item of FILTER_ITEMS)
          await store.upsertDocument(node(item.id, item.metadata), []);
        await store.upsertDocument(
          node('hub'),
          FILTER_ITEMS.map((i) => ({ type: 'cites', target: i.id })),
        );
      });

      it.each(FILTER_CASES.map((c) => [JSON.stringify(c), c] as const))(
        '%s',
        async (_label, wire) => {
          const filter = filterOf(wire);
          const expected = FILTER_ITEMS.filter((i) => matchesFilter(i.metadata, filter))
            .map((i) => i.id)
            .sort();
          const reached = await store.expand(['hub'], 1, filter);
          expect(reached.map((n) => n.documentId).sort()).toEqual(expected);
        },
      );
    });

    it('counts nodes and edges', async () => {
      const counts = await store.count();
      expect(counts.nodes).toBeGreaterThan(FILTER_ITEMS.length);
      expect(counts.edges).toBeGreaterThanOrEqual(FILTER_ITEMS.length);
    });
  },
);
