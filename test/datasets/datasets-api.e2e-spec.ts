import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DatasetVersionReader } from '@clara/datasets';

import { testEngines } from '../support/databases.js';
import { DatasetsTestApp } from './support/datasets-app.js';
import { formatFields, RECORDS, toJsonl } from './support/records.js';

interface Dataset {
  id: string;
  name: string;
  description: string;
  record_format: string;
  latest_version: number;
  created_by: string;
}

describe.each(testEngines())('datasets API on %s', (engine) => {
  let app: DatasetsTestApp;
  let folder: string;

  beforeAll(async () => {
    app = await DatasetsTestApp.onEngine(engine);
    folder = mkdtempSync(join(tmpdir(), 'clara-datasets-'));
  }, 60_000);
  afterAll(async () => {
    await app.close();
    rmSync(folder, { recursive: true, force: true });
  });

  /** A training job row as the training service writes it (this app has no job API). */
  const insertJob = async (
    id: string,
    status: string,
    data: object,
    adapterPath: string | null = null,
  ) => {
    const now = new Date().toISOString();
    const row: Record<string, unknown> = {
      id,
      name: `job-${id.slice(-4)}`,
      owner: 'alice',
      status,
      base_model: 'fixture/success',
      method: 'lora',
      record_format: 'chat',
      hyperparameters: '{}',
      data: JSON.stringify(data),
      gpus_required: 0,
      priority: 0,
      metadata: '{}',
      created_at: now,
      updated_at: now,
      queued_at: now,
      max_attempts: 3,
      adapter_path: adapterPath,
    };
    // Raw SQL by column name: whether the jobs entity is loaded in this app must not matter.
    const columns = Object.keys(row);
    const placeholders = columns.map((_, i) => (engine === 'postgres' ? `$${i + 1}` : '?'));
    await app.dataSource.query(
      `INSERT INTO jobs (${columns.join(', ')}) VALUES (${placeholders.join(', ')})`,
      Object.values(row),
    );
  };

  it('creates, lists, gets and validates datasets; trainers create, analysts read', async () => {
    const body = { name: 'bau-qa', description: 'Fragen zur Bauordnung', record_format: 'chat' };
    expect((await app.call('POST', '/datasets', 'analyst', body)).statusCode).toBe(403);
    const created = await app.call('POST', '/datasets', 'trainer', body);
    expect(created.statusCode).toBe(201);
    const dataset = created.json<Dataset>();
    expect(dataset).toMatchObject({ ...body, latest_version: 0, created_by: 'alice' });
    expect((await app.call('POST', '/datasets', 'trainer', body)).json()).toMatchObject({
      status: 409,
      code: 'dataset_name_taken',
    });

    const bad = await app.call('POST', '/datasets', 'trainer', {
      name: '../etc',
      record_format: 'sharegpt',
      extra: 1,
    });
    expect(bad.statusCode).toBe(400);
    expect(
      bad
        .json<{ errors: { field: string }[] }>()
        .errors.map((e) => e.field)
        .sort(),
    ).toEqual(['extra', 'name', 'record_format']);

    const got = await app.call('GET', `/datasets/${dataset.id}`, 'analyst');
    expect(got.json()).toEqual(dataset);
    expect(
      (await app.call('GET', '/datasets/01234567-89ab-7def-8123-456789abcdef', 'analyst'))
        .statusCode,
    ).toBe(404);
    expect((await app.call('GET', '/datasets/not-a-uuid', 'analyst')).statusCode).toBe(404);

    for (let i = 0; i < 3; i++) await app.createDataset(`paged-${i}`, 'text');
    const first = (await app.call('GET', '/datasets?limit=2', 'analyst')).json<{
      data: Dataset[];
      next_cursor: string;
    }>();
    expect(first.data.map((d) => d.name)).toEqual(['paged-2', 'paged-1']);
    const second = (
      await app.call('GET', `/datasets?limit=10&cursor=${first.next_cursor}`, 'analyst')
    ).json<{ data: Dataset[]; has_more: boolean }>();
    expect(second.data.map((d) => d.name)).toEqual(['paged-0', 'bau-qa']);
    expect(second.has_more).toBe(false);
  });

  it('numbers versions, previews records page by page and lists versions', async () => {
    const id = await app.createDataset('versions', 'alpaca');
    for (let i = 0; i < 2; i++) {
      const res = await app.upload(id, { name: 'x.jsonl', content: toJsonl(RECORDS.alpaca) });
      expect(res.json()).toMatchObject({ version: i + 1, status: 'ready', origin: 'import' });
    }
    const versions = (await app.call('GET', `/datasets/${id}/versions?limit=1`, 'analyst')).json<{
      data: { version: number }[];
      next_cursor: string;
    }>();
    expect(versions.data.map((v) => v.version)).toEqual([2]);
    const rest = (
      await app.call('GET', `/datasets/${id}/versions?cursor=${versions.next_cursor}`, 'analyst')
    ).json<{ data: { version: number }[] }>();
    expect(rest.data.map((v) => v.version)).toEqual([1]);

    const page = (
      await app.call('GET', `/datasets/${id}/versions/1/records?limit=2`, 'analyst')
    ).json<{ data: { ordinal: number; record: object }[]; next_cursor: string }>();
    expect(page.data.map((r) => r.ordinal)).toEqual([0, 1]);
    const next = (
      await app.call(
        'GET',
        `/datasets/${id}/versions/1/records?limit=2&cursor=${page.next_cursor}`,
        'analyst',
      )
    ).json<{ data: { record: object }[]; has_more: boolean }>();
    expect(next.data.map((r) => r.record)).toEqual([formatFields('alpaca', RECORDS.alpaca[2])]);
    expect(next.has_more).toBe(false);
    expect((await app.call('GET', `/datasets/${id}/versions/3`, 'analyst')).statusCode).toBe(404);
  });

  it('links versions to the training jobs that used them, and refuses deleting a dataset in use', async () => {
    const id = await app.createDataset('in-use', 'chat');
    await app.upload(id, { name: 'x.jsonl', content: toJsonl(RECORDS.chat) });
    await insertJob(
      '01900000-0000-7000-8000-000000000001',
      'succeeded',
      { dataset_id: id, dataset_version: 1 },
      '/data/runs/1/adapter',
    );
    await insertJob('01900000-0000-7000-8000-000000000002', 'running', {
      dataset_id: id,
      dataset_version: 1,
    });
    await insertJob('01900000-0000-7000-8000-000000000003', 'queued', {
      train_file: '/data/x.jsonl',
    });

    const jobs = (await app.call('GET', `/datasets/${id}/versions/1/jobs`, 'analyst')).json<{
      jobs: { id: string; status: string; adapter_path: string | null }[];
    }>();
    expect(jobs.jobs).toEqual([
      expect.objectContaining({
        id: '01900000-0000-7000-8000-000000000001',
        status: 'succeeded',
        adapter_path: '/data/runs/1/adapter',
      }),
      expect.objectContaining({
        id: '01900000-0000-7000-8000-000000000002',
        status: 'running',
        adapter_path: null,
      }),
    ]);
    const lineage = (await app.call('GET', '/lineage/documents/lbo-bw', 'analyst')).json<{
      versions: { dataset_id: string }[];
    }>();
    expect(lineage.versions).toEqual([
      expect.objectContaining({ dataset_id: id, version: 1, records: 1 }),
    ]);
    const docs = (await app.call('GET', `/datasets/${id}/versions/1/documents`, 'analyst')).json<{
      data: object[];
    }>();
    expect(docs.data).toEqual([{ document_id: 'lbo-bw', records: 1 }]);

    expect((await app.call('DELETE', `/datasets/${id}`, 'trainer')).statusCode).toBe(403);
    const refused = await app.call('DELETE', `/datasets/${id}`, 'admin');
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({
      code: 'dataset_in_use',
      jobs: [{ id: '01900000-0000-7000-8000-000000000002', status: 'running', version: 1 }],
    });

    await app.dataSource.query(
      `UPDATE jobs SET status = 'succeeded' WHERE id = '01900000-0000-7000-8000-000000000002'`,
    );
    expect((await app.call('DELETE', `/datasets/${id}`, 'admin')).statusCode).toBe(204);
    expect((await app.call('GET', `/datasets/${id}`, 'analyst')).statusCode).toBe(404);
    const left: { n: number }[] = await app.dataSource.query(
      'SELECT COUNT(*) AS n FROM dataset_version_documents',
    );
    expect(Number(left[0].n)).toBe(0);
  });

  it('gives the training side a reader: describe a version and write its JSONL', async () => {
    const id = await app.createDataset('for-training', 'chat');
    await app.upload(
      id,
      { name: 'x.jsonl', content: toJsonl(RECORDS.chat) },
      { validation_fraction: '0' },
    );
    const reader = app.t.app.get(DatasetVersionReader);
    const described = await reader.describe(id, 1);
    const version = (await app.call('GET', `/datasets/${id}/versions/1`, 'analyst')).json<{
      checksum: string;
    }>();
    expect(described).toEqual({
      dataset_id: id,
      version: 1,
      status: 'ready',
      record_format: 'chat',
      splits: { train: 3, validation: 0 },
      checksum: version.checksum,
    });
    expect(await reader.describe(id, 2)).toBeNull();
    const path = join(folder, 'train.jsonl');
    expect(await reader.writeJsonl(id, 1, 'train', path)).toBe(3);
    const lines = readFileSync(path, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as object);
    expect(lines).toEqual(RECORDS.chat.map((r) => formatFields('chat', r)));
    await expect(reader.writeJsonl(id, 7, 'train', path)).rejects.toThrow(/not ready/);
  });
});
