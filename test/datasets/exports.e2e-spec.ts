import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { testEngines } from '../support/databases.js';
import { DatasetsTestApp } from './support/datasets-app.js';
import { duckdb, quote } from './support/duckdb.js';
import { formatFields, metadataOf, RECORDS, toJsonl } from './support/records.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const FORMATS = ['chat', 'alpaca', 'completion', 'text'] as const;
const EXTENSIONS = ['jsonl', 'csv', 'parquet'] as const;
const FILE = (ext: string) => `train-00000-of-00001.${ext}`;

describe.each(testEngines())('dataset exports on %s', (engine) => {
  let app: DatasetsTestApp;
  let folder: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    // Files are written on first download here (the live encoders are what is read back);
    // kept-exports.e2e-spec.ts covers the files written when a version becomes ready.
    app = await DatasetsTestApp.onEngine(engine, {
      CLARA_DATASETS_PARQUET_ROW_GROUP_ROWS: '100',
      CLARA_DATASETS_EXPORT_PREPARE: 'none',
    });
    folder = mkdtempSync(join(tmpdir(), 'clara-exports-'));
    for (const format of FORMATS) {
      ids[format] = await app.createDataset(`export-${format}`, format);
      const res = await app.upload(ids[format], {
        name: 'x.jsonl',
        content: toJsonl(RECORDS[format]),
      });
      expect(res.statusCode).toBe(201);
      const dir = join(folder, format);
      for (const variant of ['meta', 'plain'] as const) {
        mkdirSync(join(dir, variant), { recursive: true });
        for (const ext of EXTENSIONS) {
          const file = await app.download(
            ids[format],
            1,
            FILE(ext),
            variant === 'plain' ? '?metadata=false' : '',
          );
          writeFileSync(join(dir, variant, FILE(ext)), file.rawPayload);
        }
      }
      writeFileSync(
        join(dir, 'expected.json'),
        JSON.stringify(
          RECORDS[format].map((r) => ({ ...formatFields(format, r), ...metadataOf(r) })),
        ),
      );
    }
  }, 60_000);
  afterAll(async () => {
    await app.close();
    rmSync(folder, { recursive: true, force: true });
  });

  const expected = (format: string, metadata: boolean) =>
    RECORDS[format].map((r) => ({
      ...formatFields(format, r),
      ...(metadata ? metadataOf(r) : {}),
    }));

  describe.each(FORMATS)('%s', (format) => {
    it.each([true, false])(
      'reads back in DuckDB unchanged from every format (metadata %s)',
      async (metadata) => {
        const dir = join(folder, format, metadata ? 'meta' : 'plain');
        await duckdb(async (run) => {
          const parquet = await run(
            `SELECT * FROM read_parquet(${quote(join(dir, FILE('parquet')))})`,
          );
          expect(parquet).toEqual(expected(format, metadata));
          const jsonl = await run(
            `SELECT * FROM read_json(${quote(join(dir, FILE('jsonl')))}, format = 'newline_delimited')`,
          );
          expect(jsonl).toEqual(expected(format, metadata));
          const csv = await run(
            `SELECT * FROM read_csv(${quote(join(dir, FILE('csv')))}, header = true, all_varchar = true, parallel = false, quote = '"', escape = '"')`,
          );
          const decoded = csv.map((row) =>
            Object.fromEntries(
              Object.entries(row).map(([k, v]) => [
                k,
                ['messages', 'source_document_ids', 'source_chunk_ids', 'tags'].includes(k)
                  ? JSON.parse(v as string)
                  : (v ?? ''),
              ]),
            ),
          );
          expect(decoded).toEqual(expected(format, metadata));
          if (format === 'chat') {
            const types = await run(
              `SELECT column_type FROM (DESCRIBE SELECT * FROM read_parquet(${quote(join(dir, FILE('parquet')))})) WHERE column_name = 'messages'`,
            );
            expect(types[0].column_type).toBe('STRUCT("role" VARCHAR, "content" VARCHAR)[]');
          }
        });
      },
    );
  });

  it('loads in pyarrow and Hugging Face datasets (Python)', () => {
    const python = execFileSync('bash', ['test/setup/readers-venv.sh'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop()!;
    const result = spawnSync(
      python,
      ['-m', 'pytest', 'test/readers/test_exports.py', '-q', '-p', 'no:cacheprovider'],
      {
        encoding: 'utf8',
        env: {
          ...process.env,
          CLARA_EXPORTS_DIR: folder,
          HF_HUB_OFFLINE: '1',
          HF_DATASETS_OFFLINE: '1',
          HF_HOME: join(folder, 'hf-home'),
        },
      },
    );
    if (result.status !== 0) throw new Error(`pytest failed:\n${result.stdout}\n${result.stderr}`);
    expect(result.stdout).toMatch(/\d+ passed/);
    expect(result.stdout).not.toMatch(/skipped|failed/);
  }, 300_000);

  it('names files the Hugging Face way, answers If-None-Match with 304 and sends a manifest', async () => {
    const id = ids.chat;
    const res = await app.download(id, 1, FILE('parquet'));
    expect(res.headers['content-disposition']).toBe(`attachment; filename="${FILE('parquet')}"`);
    expect(res.headers['content-type']).toBe('application/vnd.apache.parquet');
    const etag = res.headers.etag as string;
    const version = (await app.call('GET', `/datasets/${id}/versions/1`, 'analyst')).json<{
      checksum: string;
    }>();
    expect(etag).toContain(version.checksum);
    const again = await app.call(
      'GET',
      `/datasets/${id}/versions/1/files/${FILE('parquet')}`,
      'analyst',
      undefined,
      { 'if-none-match': etag },
    );
    expect(again.statusCode).toBe(304);
    expect(again.rawPayload.length).toBe(0);
    const plain = await app.download(id, 1, FILE('parquet'), '?metadata=false');
    expect(plain.headers.etag).not.toBe(etag);
    const jsonl = await app.download(id, 1, FILE('jsonl'));
    expect(jsonl.headers.etag).not.toBe(etag);

    const manifest = (
      await app.call('GET', `/datasets/${id}/versions/1/manifest`, 'analyst')
    ).json<{
      version: { checksum: string };
      files: { file_name: string; records: number; etag: string; path: string }[];
    }>();
    expect(manifest.version.checksum).toBe(version.checksum);
    expect(manifest.files.map((f) => f.file_name)).toEqual(
      expect.arrayContaining(['train-00000-of-00001.parquet', 'validation-00000-of-00001.csv']),
    );
    expect(manifest.files.find((f) => f.file_name === FILE('parquet'))!.etag).toBe(etag);

    expect(
      (await app.call('GET', `/datasets/${id}/versions/1/files/test-00000-of-00001.csv`, 'analyst'))
        .statusCode,
    ).toBe(404);
    expect(
      (await app.call('GET', `/datasets/${id}/versions/1/files/..%2F..%2Fetc%2Fpasswd`, 'analyst'))
        .statusCode,
    ).toBe(404);
    expect(
      (await app.call('GET', `/datasets/${id}/versions/9/files/${FILE('csv')}`, 'analyst'))
        .statusCode,
    ).toBe(404);
  });

  it('exports an empty split as a valid file', async () => {
    await duckdb(async (run) => {
      for (const ext of EXTENSIONS) {
        const res = await app.download(ids.text, 1, `validation-00000-of-00001.${ext}`);
        const path = join(folder, `empty.${ext}`);
        writeFileSync(path, res.rawPayload);
        if (ext === 'parquet')
          expect(await run(`SELECT * FROM read_parquet(${quote(path)})`)).toEqual([]);
        if (ext === 'jsonl') expect(res.rawPayload.length).toBe(0);
        if (ext === 'csv')
          expect(res.payload).toBe('text,source_document_ids,source_chunk_ids,tags\r\n');
      }
    });
  });

  it('streams a large split over HTTP and stops cleanly when the client goes away', async () => {
    const id = await app.createDataset('big-export', 'alpaca');
    const records = Array.from({ length: 20_000 }, (_, i) => ({
      instruction: `Frage ${i}: "Was gilt?"`,
      input: 'Kontext mit Umlauten äöü und\nZeilenumbruch. '.repeat(8),
      output: `Antwort ${i}, lang genug. `.repeat(20),
    }));
    expect(
      (await app.upload(id, { name: 'big.jsonl', content: toJsonl(records) })).statusCode,
    ).toBe(201);
    await app.t.app.listen(0, '127.0.0.1');
    const { port } = app.t.app.getHttpServer().address() as AddressInfo;
    for (const ext of EXTENSIONS) {
      // Read a little, then hang up.
      await new Promise<void>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: `/api/datasets/datasets/${id}/versions/1/files/${FILE(ext)}`,
            headers: { authorization: `Bearer ${app.t.tokens.analyst}` },
          },
          (res) => {
            expect(res.statusCode).toBe(200);
            res.once('data', () => {
              req.destroy();
              resolve();
            });
          },
        );
        req.on('error', (e) => (e.message.includes('socket hang up') ? resolve() : reject(e)));
        req.end();
      });
    }
    // The server is still healthy and nothing was left in the data folder.
    const count = await app.call('GET', `/datasets/${id}/versions/1`, 'analyst');
    expect(count.statusCode).toBe(200);
    // Nothing half-written stays (removal finishes just after the socket closes), and no
    // file was kept for a download that did not finish.
    const leftovers = () =>
      readdirSync(app.t.config.dataDir, { recursive: true })
        .map(String)
        .filter(
          (f) =>
            /partial|\.tmp|uploads\/./.test(f) ||
            (f.includes(id) && /\.(jsonl|csv|parquet)\.meta$/.test(f)),
        );
    for (let i = 0; i < 40 && leftovers().length > 0; i++) await sleep(50);
    expect(leftovers()).toEqual([]);
    const full = await app.download(id, 1, FILE('parquet'));
    await duckdb(async (run) => {
      const path = join(folder, 'big.parquet');
      writeFileSync(path, full.rawPayload);
      const rows = await run(
        `SELECT count(*) AS n, count(DISTINCT instruction) AS d FROM read_parquet(${quote(path)})`,
      );
      expect(rows).toEqual([{ n: '20000', d: '20000' }]);
    });
  }, 120_000);

  it('lets analysts export', async () => {
    const res = await app.call(
      'GET',
      `/datasets/${ids.text}/versions/1/files/${FILE('jsonl')}`,
      'analyst',
    );
    expect(res.statusCode).toBe(200);
    const unauthenticated = await app.t.app.inject({
      method: 'GET',
      url: `/api/datasets/datasets/${ids.text}/versions/1/files/${FILE('jsonl')}`,
    });
    expect(unauthenticated.statusCode).toBe(401);
  });
});
