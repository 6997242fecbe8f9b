import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ChunkRecord, matchesFilter, type RelationalStore } from '@clara/corpus';

import { type Opened, relationalFixtures } from './support/corpus-stores.js';
import { FILTER_CASES, FILTER_ITEMS, filterOf } from './support/filter-cases.js';

const chunks = (documentId: string, texts: string[]): ChunkRecord[] =>
  texts.map((text, ordinal) => ({
    id: `${documentId}#${ordinal}`,
    documentId,
    ordinal,
    text,
    start: 0,
    end: text.length,
  }));

async function put(
  store: RelationalStore,
  id: string,
  texts: string[],
  metadata = {},
  language = 'de',
) {
  await store.begin({ id, title: `Title ${id}`, language, metadata, contentHash: `h-${id}` });
  await store.commit(id, `Title ${id}`, language, chunks(id, texts));
}

/** One contract, run unchanged against the SQLite FTS5 and the PostgreSQL full-text adapters. */
describe.each(relationalFixtures().map((f) => [f.name, f] as const))(
  'relational store contract: %s',
  (_name, fixture) => {
    let opened: Opened<RelationalStore>;
    let store: RelationalStore;
    beforeAll(async () => {
      opened = await fixture.open();
      store = opened.store;
    });
    afterAll(() => opened.close());

    it('answers ping', async () => {
      expect(await store.ping()).toMatchObject({ adapter: store.adapter });
    });

    it('hides a pending document everywhere until it is committed', async () => {
      await store.begin({
        id: 'pend',
        title: 'Pending',
        language: 'en',
        metadata: {},
        contentHash: 'h',
      });
      expect(await store.search('zebrafinch', [], 10)).toEqual([]);
      expect(await store.existing(['pend'])).toEqual(new Set());
      expect((await store.list([], undefined, 100)).map((d) => d.id)).not.toContain('pend');
      expect((await store.get('pend'))?.state).toBe('pending');
      await store.commit('pend', 'Pending', 'en', chunks('pend', ['The zebrafinch sings.']));
      expect((await store.search('zebrafinch', [], 10)).map((h) => h.chunkId)).toEqual(['pend#0']);
      expect(await store.existing(['pend', 'nope'])).toEqual(new Set(['pend']));
      expect(await store.get('pend')).toMatchObject({
        state: 'active',
        chunkCount: 1,
        title: 'Pending',
      });
    });

    it('ranks chunks that contain the query terms, German and English, umlauts included', async () => {
      await put(store, 'de-1', [
        'Die Brandwand trennt Gebäude.',
        'Fenster müssen Rettungswege sichern.',
      ]);
      await put(store, 'de-2', ['Fahrradstellplätze sind überdacht herzustellen.']);
      await put(store, 'en-1', ['Fire walls separate buildings and escape routes.'], {}, 'en');
      const hits = await store.search('Rettungswege Fenster', [], 10);
      expect(hits[0]).toMatchObject({ chunkId: 'de-1#1', documentId: 'de-1' });
      expect(hits[0].score).toBeGreaterThan(0);
      expect((await store.search('überdacht', [], 10)).map((h) => h.chunkId)).toEqual(['de-2#0']);
      expect((await store.search('escape buildings', [], 10))[0].chunkId).toBe('en-1#0');
      expect(await store.search('der die das', [], 10)).toEqual([]);
      expect(await store.search('"; DROP TABLE x; -- OR *', [], 10)).toEqual([]);
    });

    it('replaces chunks on re-commit and removes a document completely', async () => {
      await put(store, 'rep', ['old words kangaroo', 'second kangaroo']);
      await put(store, 'rep', ['new words wallaby']);
      expect(await store.search('kangaroo', [], 10)).toEqual([]);
      expect((await store.chunksOf('rep')).map((c) => c.text)).toEqual(['new words wallaby']);
      await store.remove('rep');
      expect(await store.search('wallaby', [], 10)).toEqual([]);
      expect(await store.get('rep')).toBeNull();
      expect(await store.chunksOf('rep')).toEqual([]);
    });

    it('returns chunk views joined with their document, first chunks, only for active documents', async () => {
      await put(store, 'v1', ['one', 'two'], { kind: 'x' });
      const views = await store.chunks(
        ['v1#1', 'v1#0', 'pend#0', 'missing#0'],
        filterOf({ kind: 'x' }),
      );
      expect(views.map((v) => v.id).sort()).toEqual(['v1#0', 'v1#1']);
      expect(views.find((v) => v.id === 'v1#1')).toMatchObject({
        title: 'Title v1',
        ordinal: 1,
        text: 'two',
        metadata: { kind: 'x' },
      });
      expect((await store.firstChunks(['v1', 'pend'], [])).map((v) => v.id).sort()).toEqual([
        'pend#0',
        'v1#0',
      ]);
      expect(await store.chunks([], [])).toEqual([]);
    });

    describe('filters', () => {
      beforeAll(async () => {
        for (const item of FILTER_ITEMS)
          await put(store, item.id, [`filtered quokka ${item.id}`], item.metadata);
      });

      it.each(FILTER_CASES.map((c) => [JSON.stringify(c), c] as const))(
        '%s',
        async (_label, wire) => {
          const filter = filterOf(wire);
          const expected = FILTER_ITEMS.filter((i) => matchesFilter(i.metadata, filter))
            .map((i) => i.id)
            .sort();
          const hits = await store.search('quokka', filter, 100);
          expect(hits.map((h) => h.documentId).sort()).toEqual(expected);
          const listed = await store.list([...filter, ...filterOf({})], undefined, 500);
          expect(listed.map((d) => d.id).filter((id) => id.startsWith('item-'))).toEqual(expected);
        },
      );

      it('lists in id order after a cursor id', async () => {
        const page1 = await store.list([], undefined, 5);
        const page2 = await store.list([], page1[4].id, 5);
        expect(page1.map((d) => d.id).concat(page2.map((d) => d.id))).toEqual(
          (await store.list([], undefined, 10)).map((d) => d.id),
        );
      });
    });

    it('counts active documents and chunks', async () => {
      const counts = await store.count();
      expect(counts.documents).toBeGreaterThan(FILTER_ITEMS.length);
      expect(counts.chunks).toBeGreaterThan(counts.documents);
    });
  },
);
