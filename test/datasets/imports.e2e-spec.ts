import { writeFileSync, mkdtempSync, readFileSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { DatasetsTestApp, type VersionBody } from './support/datasets-app.js';
import { duckdb, quote } from './support/duckdb.js';
import { formatFields, metadataOf, RECORDS, toCsv, toJsonl } from './support/records.js';
import { testEngines } from '../support/databases.js';

interface Refusal {
  code: string;
  problem_count: number;
  problems: { line: number; field: string; problem: string }[];
}

const FORMATS = ['chat', 'alpaca', 'completion', 'text'] as const;
const FILE_TYPES = ['jsonl', 'csv', 'parquet'] as const;

/** Writes a Parquet file with DuckDB (not our writer) from the records. */
async function parquetOf(records: object[], folder: string, name: string): Promise<Buffer> {
  const jsonl = join(folder, `${name}.jsonl`);
  const parquet = join(folder, `${name}.parquet`);
  writeFileSync(jsonl, toJsonl(records));
  await duckdb((run) =>
    run(
      `COPY (SELECT * FROM read_json(${quote(jsonl)}, format = 'newline_delimited')) TO ${quote(parquet)} (FORMAT parquet)`,
    ),
  );
  return readFileSync(parquet);
}

describe.each(testEngines())('dataset imports on %s', (engine) => {
  let app: DatasetsTestApp;
  let folder: string;

  beforeAll(async () => {
    app = await DatasetsTestApp.onEngine(engine, { CLARA_DATASETS_MAX_RECORD_TOKENS: '200' });
    folder = mkdtempSync(join(tmpdir(), 'clara-import-'));
  }, 60_000);
  afterAll(async () => {
    await app.close();
    rmSync(folder, { recursive: true, force: true });
  });

  const fileOf = async (format: string, type: string, records: Record<string, unknown>[]) => {
    if (type === 'jsonl') return toJsonl(records);
    if (type === 'csv') return toCsv(records);
    return parquetOf(records, folder, `${format}-${Math.random().toString(16).slice(2)}`);
  };

  describe.each(FORMATS)('%s records', (format) => {
    it.each(FILE_TYPES)('are accepted whole from %s, with the same records', async (type) => {
      const id = await app.createDataset(`${format}-${type}`, format);
      const records = RECORDS[format];
      const res = await app.upload(id, {
        name: `data.${type}`,
        content: await fileOf(format, type, records),
      });
      expect(res.statusCode).toBe(201);
      const version = res.json<VersionBody>();
      expect(version).toMatchObject({
        version: 1,
        status: 'ready',
        splits: { train: records.length, validation: 0 },
      });
      expect(version.checksum).toMatch(/^[0-9a-f]{64}$/);
      const stored = await app.records(id, 1, 'train');
      expect(stored.map((r) => r.record)).toEqual(records.map((r) => formatFields(format, r)));
      expect(
        stored.map(({ source_document_ids, source_chunk_ids, tags }) => ({
          source_document_ids,
          source_chunk_ids,
          tags,
        })),
      ).toEqual(records.map(metadataOf));
    });
  });

  it('gives the same checksum for the same records from any file type', async () => {
    const checksums = new Set<string | null>();
    for (const type of FILE_TYPES) {
      const id = await app.createDataset(`same-${type}`, 'chat');
      const res = await app.upload(id, {
        name: `x.${type}`,
        content: await fileOf('chat', type, RECORDS.chat),
      });
      checksums.add(res.json<VersionBody>().checksum);
    }
    expect(checksums.size).toBe(1);
  });

  const BAD: {
    name: string;
    format: string;
    lines: string[];
    line: number;
    field: string;
    problem: RegExp;
  }[] = [
    {
      name: 'invalid JSON',
      format: 'chat',
      lines: ['{"messages": ['],
      line: 2,
      field: '',
      problem: /invalid JSON/,
    },
    {
      name: 'not an object',
      format: 'text',
      lines: ['[1, 2]'],
      line: 2,
      field: '',
      problem: /must be an object/,
    },
    {
      name: 'missing field',
      format: 'alpaca',
      lines: ['{"instruction": "x"}'],
      line: 2,
      field: 'output',
      problem: /missing/,
    },
    {
      name: 'wrong type',
      format: 'completion',
      lines: ['{"prompt": 3, "completion": "x"}'],
      line: 2,
      field: 'prompt',
      problem: /must be a string, got number/,
    },
    {
      name: 'empty field',
      format: 'text',
      lines: ['{"text": "   "}'],
      line: 2,
      field: 'text',
      problem: /is empty/,
    },
    {
      name: 'unknown role',
      format: 'chat',
      lines: [
        '{"messages": [{"role": "bot", "content": "x"}, {"role": "assistant", "content": "y"}]}',
      ],
      line: 2,
      field: 'messages[0].role',
      problem: /must be one of system, user, assistant/,
    },
    {
      name: 'no assistant turn',
      format: 'chat',
      lines: ['{"messages": [{"role": "user", "content": "x"}]}'],
      line: 2,
      field: 'messages',
      problem: /no assistant message/,
    },
    {
      name: 'unknown field',
      format: 'text',
      lines: ['{"text": "x", "label": 1}'],
      line: 2,
      field: 'label',
      problem: /unknown field/,
    },
    {
      name: 'over-long record',
      format: 'text',
      lines: [JSON.stringify({ text: 'wort '.repeat(400) })],
      line: 2,
      field: '',
      problem: /too long: about \d+ tokens, more than the limit of 200/,
    },
    {
      name: 'bad split',
      format: 'text',
      lines: ['{"text": "x", "split": "test"}'],
      line: 2,
      field: 'split',
      problem: /train' or 'validation/,
    },
  ];

  describe.each(BAD)('a file with $name', ({ format, lines, line, field, problem }) => {
    it('is refused whole with the line and problem, and nothing is stored', async () => {
      const id = await app.createDataset(`bad-${Math.random().toString(16).slice(2, 10)}`, format);
      const good = JSON.stringify(RECORDS[format][0]).replace(/,"tags":\[[^\]]*\]/, '');
      const content = [good, ...lines, good].join('\n') + '\n';
      const res = await app.upload(id, { name: 'bad.jsonl', content });
      expect(res.statusCode).toBe(422);
      const body = res.json<Refusal>();
      expect(body.code).toBe('import_refused');
      expect(body.problems[0]).toMatchObject({ line, field });
      expect(body.problems[0].problem).toMatch(problem);
      const versions = (await app.call('GET', `/datasets/${id}/versions`, 'analyst')).json<{
        data: unknown[];
      }>();
      expect(versions.data).toEqual([]);
      const dataset = (await app.call('GET', `/datasets/${id}`, 'analyst')).json<{
        latest_version: number;
      }>();
      expect(dataset.latest_version).toBe(0);
      const rows: { n: number }[] = await app.dataSource.query(
        'SELECT COUNT(*) AS n FROM dataset_records r JOIN dataset_versions v ON v.id = r.version_id WHERE v.dataset_id = $1'.replace(
          '$1',
          `'${id}'`,
        ),
      );
      expect(Number(rows[0].n)).toBe(0);
    });
  });

  it('reports the starting line of a CSV record that spans lines, and Parquet row numbers', async () => {
    const id = await app.createDataset('bad-csv', 'alpaca');
    const csv = toCsv(
      [
        { instruction: 'a', input: 'multi\nline\ninput', output: 'b' },
        { instruction: 'c', input: '', output: '' },
      ],
      ['instruction', 'input', 'output'],
    );
    const res = await app.upload(id, { name: 'bad.csv', content: csv });
    expect(res.statusCode).toBe(422);
    expect(res.json<Refusal>().problems).toEqual([
      { line: 5, field: 'output', problem: 'is empty' },
    ]);

    const parquet = await parquetOf(
      [{ text: 'ok' }, { text: '' }, { text: 'fine' }],
      folder,
      'bad',
    );
    const textId = await app.createDataset('bad-parquet', 'text');
    const res2 = await app.upload(textId, { name: 'bad.parquet', content: parquet });
    expect(res2.statusCode).toBe(422);
    expect(res2.json<Refusal>().problems).toEqual([
      { line: 2, field: 'text', problem: 'is empty' },
    ]);
  });

  it('lists every problem up to the limit and counts them all', async () => {
    const id = await app.createDataset('many-bad', 'text');
    const lines = Array.from({ length: 120 }, (_, i) =>
      i % 2 === 0 ? '{"text": ""}' : '{"text": "ok"}',
    );
    const res = await app.upload(id, { name: 'x.jsonl', content: lines.join('\n') });
    expect(res.statusCode).toBe(422);
    const body = res.json<Refusal>();
    expect(body.problem_count).toBe(60);
    expect(body.problems).toHaveLength(50);
    expect(body.problems.slice(0, 3).map((p) => p.line)).toEqual([1, 3, 5]);
  });

  it('splits by a seed, keeps explicit splits, and leaves no upload behind', async () => {
    const id = await app.createDataset('split-import', 'text');
    const records = Array.from({ length: 200 }, (_, i) => ({ text: `Satz Nummer ${i}` }));
    records[0] = { ...records[0], split: 'validation' } as never;
    const res = await app.upload(
      id,
      { name: 'x.jsonl', content: toJsonl(records) },
      { validation_fraction: '0.2', seed: '7' },
    );
    expect(res.statusCode).toBe(201);
    const v = res.json<VersionBody>();
    expect(v.splits.train + v.splits.validation).toBe(200);
    expect(v.splits.validation).toBeGreaterThan(20);
    expect(v.splits.validation).toBeLessThan(65);
    const validation = await app.records(id, 1, 'validation');
    expect(validation[0].record).toEqual({ text: 'Satz Nummer 0' });
    const again = await app.upload(
      id,
      { name: 'x.jsonl', content: toJsonl(records) },
      { validation_fraction: '0.2', seed: '7' },
    );
    expect(again.json<VersionBody>()).toMatchObject({ version: 2, checksum: v.checksum });
    const uploads = join(app.t.config.dataDir, 'datasets', 'uploads');
    expect(existsSync(uploads) ? readdirSync(uploads) : []).toEqual([]);
  });

  it('lets trainers and admins import, not analysts', async () => {
    const id = await app.createDataset('roles-import', 'text');
    const file = { name: 'x.jsonl', content: toJsonl(RECORDS.text) };
    expect((await app.upload(id, file, {}, 'analyst')).statusCode).toBe(403);
    expect((await app.upload(id, file, {}, 'admin')).statusCode).toBe(201);
  });
});
