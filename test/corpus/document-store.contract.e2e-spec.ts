import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type DocumentStore, matchesFilter, type StoredDocument } from '@clara/corpus';

import { documentFixtures, type Opened } from './support/corpus-stores.js';
import { FILTER_CASES, FILTER_ITEMS, filterOf } from './support/filter-cases.js';

const body = (id: string, extra: Partial<StoredDocument> = {}): StoredDocument => ({
  id,
  title: `Verordnung über Gebäude ${id}`,
  text: 'Straße, Größe, Maß — „Anführungszeichen“ and 日本語.\n\nSecond paragraph.',
  language: 'de',
  metadata: { kind: 'a' },
  relations: [{ type: 'cites', target: 'other' }],
  source: { kind: 'jsonl', filename: 'x.jsonl', line: 3 },
  ingested_at: '2026-11-26T12:00:00.000Z',
  ...extra,
});

/** One contract, run unchanged against every documents adapter. */
describe.each(documentFixtures().map((f) => [f.name, f] as const))(
  'document store contract: %s',
  (_name, fixture) => {
    let opened: Opened<DocumentStore>;
    let store: DocumentStore;
    beforeAll(async () => {
      opened = await fixture.open();
      store = opened.store;
    });
    afterAll(() => opened.close());

    it('answers ping', async () => {
      expect(await store.ping()).toMatchObject({ adapter: store.adapter });
    });

    it('round-trips the full body, replaces it, deletes it', async () => {
      expect(await store.get('rt')).toBeNull();
      await store.put(body('rt'));
      expect(await store.get('rt')).toEqual(body('rt'));
      await store.put(body('rt', { text: 'replaced', metadata: { kind: 'b' } }));
      expect(await store.get('rt')).toEqual(
        body('rt', { text: 'replaced', metadata: { kind: 'b' } }),
      );
      await store.delete('rt');
      expect(await store.get('rt')).toBeNull();
      await store.delete('rt');
    });

    it('handles ids with dots, colons and dashes', async () => {
      await store.put(body('lbo:bw.2019-a1'));
      expect((await store.get('lbo:bw.2019-a1'))?.id).toBe('lbo:bw.2019-a1');
      await store.delete('lbo:bw.2019-a1');
    });

    describe('find', () => {
      beforeAll(async () => {
        for (const item of FILTER_ITEMS)
          await store.put(body(item.id, { metadata: item.metadata }));
      });

      it.each(FILTER_CASES.map((c) => [JSON.stringify(c), c] as const))(
        'filters %s',
        async (_label, wire) => {
          const filter = filterOf(wire);
          const expected = FILTER_ITEMS.filter((i) => matchesFilter(i.metadata, filter))
            .map((i) => i.id)
            .sort();
          const found = await store.find(filter, undefined, 100);
          expect(found.map((d) => d.id)).toEqual(expected);
        },
      );

      it('pages in id order after a given id', async () => {
        const first = await store.find([], undefined, 10);
        const second = await store.find([], first[first.length - 1].id, 10);
        const third = await store.find([], second[second.length - 1].id, 10);
        const ids = [...first, ...second, ...third].map((d) => d.id);
        expect(ids).toEqual(FILTER_ITEMS.map((i) => i.id));
      });
    });
  },
);
