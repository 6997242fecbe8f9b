import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { corpusFile } from '../corpus/support/corpus-app.js';
import {
  corpusConfigurations,
  DatasetsTestApp,
  type RecordBody,
  type VersionBody,
} from './support/datasets-app.js';

const LONG =
  'Die Bauaufsichtsbehörde prüft den Bauantrag auf Vollständigkeit und fordert fehlende Unterlagen innerhalb von zehn Arbeitstagen nach. ' +
  'Sie beteiligt die Gemeinde und die Stellen, deren Aufgabenbereich berührt wird, und setzt ihnen eine angemessene Frist zur Stellungnahme. ' +
  'Äußert sich eine Stelle nicht fristgerecht, gilt ihr Einvernehmen als erteilt, sofern keine besonderen Gründe entgegenstehen. ' +
  'Die Baugenehmigung wird schriftlich erteilt und enthält die Auflagen, Bedingungen und Befristungen, unter denen gebaut werden darf.';

const EXTRA_DOCUMENTS = [
  {
    id: 'dup-a',
    title: 'Verfahren A',
    language: 'de',
    text: LONG,
    metadata: { domain: 'procedure' },
  },
  // One word changed: a near-duplicate of dup-a.
  {
    id: 'dup-b',
    title: 'Verfahren B',
    language: 'de',
    text: LONG.replace('zehn', 'zwölf'),
    metadata: { domain: 'procedure' },
  },
  // The same text under another id: an exact duplicate once rendered.
  {
    id: 'dup-c',
    title: 'Verfahren C',
    language: 'de',
    text: LONG,
    metadata: { domain: 'procedure' },
  },
  {
    id: 'faq-1',
    title: 'FAQ Stellplätze',
    language: 'de',
    text: 'Häufige Fragen zu Stellplätzen.',
    metadata: {
      domain: 'faq',
      question: 'Wie viele Fahrradstellplätze braucht eine Wohnung?',
      answer: 'Zwei je Wohnung, sagt die fiktive Verordnung.',
    },
  },
  {
    id: 'faq-2',
    title: 'FAQ Brandschutz',
    language: 'de',
    text: 'Häufige Fragen zum Brandschutz.',
    metadata: {
      domain: 'faq',
      question: 'Braucht ein Treppenhaus Rauchabzug?',
      answer: 'Ja, an der obersten Stelle.',
    },
  },
  {
    id: 'faq-3',
    title: 'FAQ ohne Antwort',
    language: 'de',
    text: 'Nur eine Frage.',
    metadata: { domain: 'faq', question: 'Offen?' },
  },
];

const CHAT_TEMPLATE = {
  messages: [
    {
      role: 'system',
      content: 'Du beantwortest Fragen zum Baurecht ({{ document.metadata.jurisdiction }}).',
    },
    { role: 'user', content: 'Was steht in „{{ title }}“?' },
    { role: 'assistant', content: '{{ text }}' },
  ],
};

const SEARCH_SPEC = {
  source: {
    type: 'search',
    query: 'Stellplätze Fahrräder Garagen fire doors escape route',
    top_k: 150,
    mode: 'hybrid',
  },
  template: CHAT_TEMPLATE,
  filters: { min_tokens: 5 },
  split: { validation_fraction: 0.25, seed: 11 },
};

describe.each(corpusConfigurations())('dataset builds (%s)', (configuration) => {
  let app: DatasetsTestApp;

  beforeAll(async () => {
    app = await DatasetsTestApp.start(configuration, {
      CLARA_INGEST_BACKGROUND_THRESHOLD: '10000',
      CLARA_CHUNK_SIZE: '120',
      CLARA_CHUNK_OVERLAP: '0',
    });
    const documents = corpusFile()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as object);
    await app.ingest([...documents, ...EXTRA_DOCUMENTS]);
  }, 180_000);
  afterAll(() => app.close());

  const all = async (id: string, version: number): Promise<RecordBody[]> => [
    ...(await app.records(id, version, 'train')),
    ...(await app.records(id, version, 'validation')),
  ];

  it('builds chat records from a search in the background, split per document', async () => {
    const id = await app.createDataset('from-search', 'chat');
    const v = await app.build(id, SEARCH_SPEC);
    expect(v.error).toBeNull();
    expect(v.status).toBe('ready');
    expect(v.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(v.splits.train).toBeGreaterThan(10);
    expect(v.splits.validation).toBeGreaterThan(2);
    expect(v.statistics).toMatchObject({
      records: { train: v.splits.train, validation: v.splits.validation },
      token_lengths: { approximation: 'max(words, ceil(utf8_bytes / 4))' },
      max_seq_length: 2048,
    });

    const records = await all(id, v.version);
    const splitsOf = new Map<string, Set<string>>();
    for (const r of records) {
      expect(r.source_document_ids).toHaveLength(1);
      expect(r.source_chunk_ids.length).toBeGreaterThan(0);
      expect(r.source_chunk_ids[0].startsWith(`${r.source_document_ids[0]}#`)).toBe(true);
      expect(r.record.messages).toHaveLength(3);
      expect(r.record.messages![2].role).toBe('assistant');
      const seen = splitsOf.get(r.source_document_ids[0]) ?? new Set<string>();
      seen.add(r.split);
      splitsOf.set(r.source_document_ids[0], seen);
    }
    // No document has records in both splits, and some documents gave several records.
    for (const splits of splitsOf.values()) expect(splits.size).toBe(1);
    expect(records.length).toBeGreaterThan(splitsOf.size);

    // Lineage: the version's documents, and a document's versions.
    const docs = (
      await app.call('GET', `/datasets/${id}/versions/${v.version}/documents?limit=500`, 'analyst')
    ).json<{
      data: { document_id: string; records: number }[];
    }>();
    expect(docs.data.map((d) => d.document_id).sort()).toEqual([...splitsOf.keys()].sort());
    expect(docs.data.reduce((n, d) => n + d.records, 0)).toBe(records.length);
    const someDoc = docs.data[0].document_id;
    const lineage = (
      await app.call('GET', `/lineage/documents/${encodeURIComponent(someDoc)}`, 'analyst')
    ).json<{
      versions: { dataset_id: string; version: number }[];
    }>();
    expect(lineage.versions).toEqual([
      expect.objectContaining({ dataset_id: id, version: v.version, dataset_name: 'from-search' }),
    ]);
  });

  it('is reproducible: the same spec over the same corpus gives the same checksum', async () => {
    const id = await app.createDataset('reproducible', 'chat');
    const first = await app.build(id, SEARCH_SPEC);
    const second = await app.build(id, SEARCH_SPEC);
    expect(second.version).toBe(first.version + 1);
    expect(second.checksum).toBe(first.checksum);
    expect(second.splits).toEqual(first.splits);
    const other = await app.build(id, {
      ...SEARCH_SPEC,
      split: { validation_fraction: 0.25, seed: 12 },
    });
    expect(other.splits.train + other.splits.validation).toBe(
      first.splits.train + first.splits.validation,
    );
    expect(other.checksum).not.toBe(first.checksum);
  });

  it('removes exact and near-duplicates', async () => {
    const id = await app.createDataset('dedupe', 'text');
    const v = await app.build(id, {
      source: { type: 'documents', document_ids: ['dup-a', 'dup-b', 'dup-c', 'faq-1'] },
      unit: 'document',
      template: { text: '{{ text }}' },
      split: { validation_fraction: 0 },
    });
    expect(v.status).toBe('ready');
    expect(v.statistics!.duplicates_removed).toEqual({ exact: 1, near: 1 });
    const records = await all(id, v.version);
    expect(records.map((r) => r.source_document_ids[0])).toEqual(['dup-a', 'faq-1']);

    const kept = await app.build(id, {
      source: { type: 'documents', document_ids: ['dup-a', 'dup-b', 'dup-c'] },
      unit: 'document',
      filters: { near_duplicates: false },
      split: { validation_fraction: 0 },
    });
    expect(kept.statistics!.duplicates_removed).toEqual({ exact: 1, near: 0 });
    expect(kept.splits.train).toBe(2);
  });

  it('maps question/answer metadata to alpaca records, one per document', async () => {
    const id = await app.createDataset('faq', 'alpaca');
    const v = await app.build(id, {
      source: { type: 'documents', document_ids: ['faq-1', 'faq-2', 'faq-3'] },
      mapping: { instruction: 'metadata.question', output: 'metadata.answer' },
      split: { validation_fraction: 0 },
    });
    expect(v.status).toBe('ready');
    expect(v.statistics!.filtered).toMatchObject({ missing_fields: 1 });
    const records = await all(id, v.version);
    expect(records.map((r) => r.record)).toEqual([
      {
        instruction: 'Wie viele Fahrradstellplätze braucht eine Wohnung?',
        input: '',
        output: 'Zwei je Wohnung, sagt die fiktive Verordnung.',
      },
      {
        instruction: 'Braucht ein Treppenhaus Rauchabzug?',
        input: '',
        output: 'Ja, an der obersten Stelle.',
      },
    ]);
  });

  it('filters by language and token length', async () => {
    const id = await app.createDataset('german-only', 'text');
    const v = await app.build(id, {
      source: { type: 'search', query: 'Stellplätze parking fire', top_k: 100, mode: 'keyword' },
      filters: { languages: ['en'], min_tokens: 3, max_tokens: 60 },
    });
    expect(v.status).toBe('ready');
    const records = await all(id, v.version);
    const ids = new Set(records.flatMap((r) => r.source_document_ids));
    for (const doc of ids) {
      const detail = (
        await app.call('GET', `/documents/${encodeURIComponent(doc)}`, 'analyst')
      ).json<{ language: string }>();
      expect(detail.language).toBe('en');
    }
    expect(v.statistics!.filtered.language).toBeGreaterThan(0);
  });

  it('refuses bad specs before building, and analysts', async () => {
    const id = await app.createDataset('bad-specs', 'chat');
    const bad = async (spec: object, field: string) => {
      const res = await app.call('POST', `/datasets/${id}/versions`, 'trainer', spec);
      expect(res.statusCode).toBe(400);
      expect(res.json<{ errors: { field: string }[] }>().errors.map((e) => e.field)).toContain(
        field,
      );
    };
    await bad({ source: { type: 'search', query: 'x' } }, 'template');
    await bad({ source: { type: 'search' }, template: CHAT_TEMPLATE }, 'source.query');
    await bad(
      { source: { type: 'documents', document_ids: ['nope'] }, template: CHAT_TEMPLATE },
      'source.document_ids',
    );
    await bad(
      {
        source: { type: 'search', query: 'x' },
        template: { messages: [{ role: 'bot', content: 'x' }] },
      },
      'template.messages[0].role',
    );
    await bad(
      {
        source: { type: 'search', query: 'x' },
        template: { messages: [{ role: 'user', content: '{% if %}' }] },
      },
      'template.messages[0].content',
    );
    await bad(
      { source: { type: 'search', query: 'x' }, mapping: { user: 'metadata.q' } },
      'mapping.assistant',
    );
    await bad(
      { source: { type: 'search', query: 'x', top_k: 0 }, template: CHAT_TEMPLATE },
      'source.top_k',
    );
    const res = await app.call('POST', `/datasets/${id}/versions`, 'analyst', SEARCH_SPEC);
    expect(res.statusCode).toBe(403);
  });

  it('fails a build that yields no records, with the reason', async () => {
    const id = await app.createDataset('empty-build', 'text');
    const v: VersionBody = await app.build(id, {
      source: { type: 'documents', document_ids: ['faq-1'] },
      filters: { min_tokens: 10_000 },
    });
    expect(v.status).toBe('failed');
    expect(v.error).toMatch(/no records/);
    const refused = await app.call(
      'GET',
      `/datasets/${id}/versions/${v.version}/records`,
      'analyst',
    );
    expect(refused.json()).toMatchObject({ code: 'dataset_version_not_ready' });
    expect(refused.statusCode).toBe(409);
  });
});
