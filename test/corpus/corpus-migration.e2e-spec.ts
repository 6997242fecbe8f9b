import { describe, expect, it } from '@jest/globals';
import { MIGRATIONS } from '@clara/database';

import { testEngines } from '../support/databases.js';
import { openDataSource } from './support/corpus-stores.js';

const CORPUS_TABLES = [
  'corpus_bodies',
  'corpus_chunks',
  'corpus_documents',
  'corpus_graph_edges',
  'corpus_graph_nodes',
  'corpus_ingest_tasks',
  'corpus_vectors',
];

describe.each(testEngines())('corpus migration on %s', (engine) => {
  it('creates the corpus tables, and its down() removes them and up() restores them', async () => {
    const Corpus = MIGRATIONS.find((m) => m.name === 'Corpus1764300000000')!;
    expect(Corpus).toBeDefined();
    const opened = await openDataSource(engine);
    const { dataSource } = opened;
    const runner = dataSource.createQueryRunner();
    try {
      const tables = async () =>
        (
          await dataSource.query<{ name: string }[]>(
            engine === 'sqlite'
              ? `SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'corpus_%' AND name NOT LIKE 'corpus_chunks_fts_%'`
              : `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_name LIKE 'corpus_%'`,
          )
        )
          .map((r) => r.name)
          .sort();
      expect(await tables()).toEqual(
        engine === 'sqlite'
          ? [...CORPUS_TABLES.slice(0, 2), 'corpus_chunks_fts', ...CORPUS_TABLES.slice(2)]
          : CORPUS_TABLES,
      );
      await new Corpus().down(runner);
      expect(await tables()).toEqual([]);
      await new Corpus().up(runner);
      expect((await tables()).length).toBeGreaterThanOrEqual(CORPUS_TABLES.length);
    } finally {
      await runner.release();
      await opened.close();
    }
  });
});
