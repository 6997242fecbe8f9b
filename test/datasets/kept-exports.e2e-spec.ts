import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  DatasetsRepository,
  EXPORT_LAYOUT,
  ExportCache,
  ExportPreparer,
  ExportService,
} from '@clara/datasets';

import { testEngines } from '../support/databases.js';
import { DatasetsTestApp } from './support/datasets-app.js';
import { RECORDS, toJsonl } from './support/records.js';

const EXTENSIONS = ['jsonl', 'csv', 'parquet'] as const;
const FILE = (split: string, ext: string) => `${split}-00000-of-00001.${ext}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ManifestFile {
  file_name: string;
  size_bytes: number | null;
}

describe.each(testEngines())('kept export files on %s', (engine) => {
  let app: DatasetsTestApp;

  beforeAll(async () => {
    app = await DatasetsTestApp.onEngine(engine, { CLARA_DATASETS_PARQUET_ROW_GROUP_ROWS: '100' });
  }, 60_000);
  afterAll(() => app.close());

  const cache = () => app.t.app.get(ExportCache);
  const manifest = async (id: string) =>
    (await app.call('GET', `/datasets/${id}/versions/1/manifest`, 'analyst')).json<{
      files: ManifestFile[];
    }>().files;

  /** What the encoders produce for a split right now, bypassing every kept file. */
  async function encodedLive(id: string, split: 'train' | 'validation', ext: string, meta = true) {
    const version = await app.t.app.get(DatasetsRepository).getVersion(id, 1);
    const chunks: Buffer[] = [];
    for await (const chunk of Readable.from(
      app.t.app.get(ExportService).chunks(version!, split, ext as 'csv', meta),
    )) {
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  it('writes every file of a new version and sends them as written, with Content-Length', async () => {
    const id = await app.createDataset('kept-chat', 'chat');
    const records = RECORDS.chat.map((r, i) => (i === 0 ? { ...r, split: 'validation' } : r));
    expect((await app.upload(id, { name: 'c.jsonl', content: toJsonl(records) })).statusCode).toBe(
      201,
    );
    await app.t.app.get(ExportPreparer).idle();

    const files = await manifest(id);
    expect(files).toHaveLength(6);
    for (const file of files) expect(file.size_bytes).toBeGreaterThan(0);
    expect((await app.call('GET', `/datasets/${id}/versions/1`, 'analyst')).json()).toMatchObject({
      splits: { train: 2, validation: 1 },
    });

    for (const split of ['train', 'validation'] as const) {
      for (const ext of EXTENSIONS) {
        const res = await app.download(id, 1, FILE(split, ext));
        const size = files.find((f) => f.file_name === FILE(split, ext))!.size_bytes;
        expect(res.headers['content-length']).toBe(String(size));
        expect(res.rawPayload.equals(await encodedLive(id, split, ext))).toBe(true);
      }
    }
  });

  it('keeps a file on its first complete download, which the next one gets byte for byte', async () => {
    const id = await app.createDataset('kept-plain', 'alpaca');
    expect(
      (await app.upload(id, { name: 'a.jsonl', content: toJsonl(RECORDS.alpaca) })).statusCode,
    ).toBe(201);
    await app.t.app.get(ExportPreparer).idle();
    const versionId = await versionIdOf(id);
    const key = (ext: (typeof EXTENSIONS)[number]) => ({
      datasetId: id,
      versionId,
      split: 'train' as const,
      format: ext,
      metadata: false,
    });
    for (const ext of EXTENSIONS) {
      // Without metadata is not written ahead: the first download encodes and keeps it.
      const path = cache().pathOf(key(ext));
      expect(existsSync(path)).toBe(false);
      const first = await app.download(id, 1, FILE('train', ext), '?metadata=false');
      expect(first.headers['content-length']).toBeUndefined();
      for (let i = 0; i < 40 && !existsSync(path); i++) await sleep(25);
      const second = await app.download(id, 1, FILE('train', ext), '?metadata=false');
      expect(second.headers['content-length']).toBe(String(first.rawPayload.length));
      expect(second.rawPayload.equals(first.rawPayload)).toBe(true);
      expect(second.rawPayload.equals(await encodedLive(id, 'train', ext, false))).toBe(true);
      expect(second.headers.etag).toBe(first.headers.etag);
    }
  });

  it('keeps JSONL and CSV compressed on disk and sends them decompressed', async () => {
    const id = await app.createDataset('kept-big', 'alpaca');
    const records = Array.from({ length: 3000 }, (_, i) => ({
      instruction: `Frage ${i}: "Was gilt für Stellplätze?"`,
      input: 'Kontext mit Umlauten äöü und\nZeilenumbruch, "Zitat". '.repeat(4),
      output: `Antwort ${i}. `.repeat(30),
    }));
    expect((await app.upload(id, { name: 'b.jsonl', content: toJsonl(records) })).statusCode).toBe(
      201,
    );
    await app.t.app.get(ExportPreparer).idle();
    const versionId = await versionIdOf(id);
    const files = await manifest(id);
    for (const ext of EXTENSIONS) {
      const size = files.find((f) => f.file_name === FILE('train', ext))!.size_bytes!;
      const onDisk = statSync(
        cache().pathOf({ datasetId: id, versionId, split: 'train', format: ext, metadata: true }),
      ).size;
      if (ext === 'parquet') expect(onDisk).toBe(size);
      else expect(onDisk).toBeLessThan(size / 3);
      const res = await app.download(id, 1, FILE('train', ext));
      expect(res.rawPayload.length).toBe(size);
      expect(res.rawPayload.equals(await encodedLive(id, 'train', ext))).toBe(true);
    }
  }, 60_000);

  it('removes the files with their dataset, and clears crash leftovers and old layouts', async () => {
    const id = await app.createDataset('kept-gone', 'text');
    expect(
      (await app.upload(id, { name: 't.jsonl', content: toJsonl(RECORDS.text) })).statusCode,
    ).toBe(201);
    await app.t.app.get(ExportPreparer).idle();
    const folder = join(cache().layoutRoot, id);
    expect(readdirSync(folder, { recursive: true }).length).toBeGreaterThan(0);

    // What a crash or an older Clara leaves: a half-written file, another layout, and the
    // folder of a dataset that no longer exists.
    const versionFolder = join(folder, await versionIdOf(id));
    const half = join(versionFolder, 'train.csv.meta.0123456789ab.tmp');
    writeFileSync(half, 'half');
    const oldLayout = join(cache().root, `${EXPORT_LAYOUT}-old`, id);
    mkdirSync(oldLayout, { recursive: true });
    const orphan = join(cache().layoutRoot, '00000000-0000-4000-8000-000000000000', 'x');
    mkdirSync(orphan, { recursive: true });
    const repository = app.t.app.get(DatasetsRepository);
    const removed = await cache().sweep(async (d) => (await repository.getDataset(d)) !== null);
    expect(removed).toBe(3);
    expect(existsSync(half)).toBe(false);
    expect(existsSync(join(cache().root, `${EXPORT_LAYOUT}-old`))).toBe(false);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(join(versionFolder, 'train.csv.meta'))).toBe(true);

    // A kept file changed on disk is not sent: it is removed and encoded again.
    const csv = join(versionFolder, 'train.csv.meta');
    writeFileSync(csv, 'not what Clara wrote');
    const res = await app.download(id, 1, FILE('train', 'csv'));
    expect(res.rawPayload.equals(await encodedLive(id, 'train', 'csv'))).toBe(true);

    expect((await app.call('DELETE', `/datasets/${id}`, 'admin')).statusCode).toBe(204);
    expect(existsSync(folder)).toBe(false);
  });

  async function versionIdOf(datasetId: string): Promise<string> {
    return (await app.t.app.get(DatasetsRepository).getVersion(datasetId, 1))!.id;
  }
});

describe('concurrent downloads that need an encode', () => {
  it('wait for a free encode slot and then stream the file the first one kept', async () => {
    const app = await DatasetsTestApp.onEngine('sqlite', {
      CLARA_DATASETS_EXPORT_PREPARE: 'none',
      CLARA_DATASETS_EXPORT_MAX_ENCODES: '1',
    });
    try {
      const id = await app.createDataset('burst', 'alpaca');
      const records = Array.from({ length: 2000 }, (_, i) => ({
        instruction: `Frage ${i}`,
        input: 'Kontext äöü, "Zitat".\n'.repeat(5),
        output: `Antwort ${i}. `.repeat(20),
      }));
      expect(
        (await app.upload(id, { name: 'b.jsonl', content: toJsonl(records) })).statusCode,
      ).toBe(201);
      const downloads = await Promise.all(
        [0, 1, 2].map(() => app.download(id, 1, FILE('train', 'csv'), '?metadata=false')),
      );
      for (const res of downloads) {
        expect(res.statusCode).toBe(200);
        expect(res.rawPayload.equals(downloads[0].rawPayload)).toBe(true);
      }
      // One encoded (no length known up front); the two that waited got the kept file.
      const lengths = downloads.map((res) => res.headers['content-length']);
      expect(lengths.filter((l) => l === undefined)).toHaveLength(1);
      expect(lengths.filter((l) => l === String(downloads[0].rawPayload.length))).toHaveLength(2);
    } finally {
      await app.close();
    }
  }, 60_000);
});

describe('kept export files, switched off', () => {
  it('writes nothing when the cache is off', async () => {
    const app = await DatasetsTestApp.onEngine('sqlite', { CLARA_DATASETS_EXPORT_CACHE: 'false' });
    try {
      const id = await app.createDataset('not-kept', 'text');
      expect(
        (await app.upload(id, { name: 't.jsonl', content: toJsonl(RECORDS.text) })).statusCode,
      ).toBe(201);
      await app.t.app.get(ExportPreparer).idle();
      const res = await app.download(id, 1, FILE('train', 'csv'));
      expect(res.statusCode).toBe(200);
      await app.download(id, 1, FILE('train', 'csv'));
      expect(existsSync(app.t.app.get(ExportCache).root)).toBe(false);
    } finally {
      await app.close();
    }
  });
});
