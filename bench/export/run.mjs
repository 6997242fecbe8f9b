#!/usr/bin/env node
// Export benchmark: one split of N realistic alpaca records (instruction ~80 chars, input
// ~300, output ~600, with quotes, newlines and umlauts, plus a tags list) exported by
// Clara to JSONL, CSV and Parquet, next to DuckDB's COPY of the same rows from its own
// table (the anchor) and a raw sequential disk write of the same number of bytes (the
// limit). Two Clara rows per format: "prepare", the one-time encode of a new version's
// file (what the service does in the background when the version becomes ready, or on a
// first download), and "export", a download as the service then answers it. Each
// measurement runs in its own process, so its peak RSS is its own. Finally the HTTP
// service encodes an export (no prepared file) while another route is called every 20 ms,
// to show that an export does not stall other requests.
//
//   node bench/export/run.mjs [--records 100000,1000000] [--formats jsonl,csv,parquet]
//                             [--latency-records 100000] [--no-build] [--json out.json]
import 'reflect-metadata';

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  createWriteStream,
  fsyncSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { build, machineLine, parseArgs, ROOT } from '../lib/clara.mjs';

const SELF = fileURLToPath(import.meta.url);
const lib = (name) =>
  import(pathToFileURL(join(ROOT, `dist/apps/datasets/libs/${name}/src/index.js`)).href);

// --- deterministic realistic records -------------------------------------------------------
const WORDS = (
  'Gebäude Brandschutz Rettungsweg Treppenraum Stellplatz Fahrrad Abstandsfläche Grenze Dach ' +
  'Photovoltaik Begrünung Aufzug Spielplatz Schallschutz Decke Wand Holzbau Hochhaus Fassade ' +
  'Größe Übergang Prüfung Behörde Ausnahme building fire escape stair parking bicycle boundary ' +
  'roof solar green lift playground sound insulation timber facade permit application'
).split(' ');
function rng(seed) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
}
function sentence(r, chars) {
  let out = '';
  while (out.length < chars) {
    const w = WORDS[Math.floor(r() * WORDS.length)];
    const p = r();
    out += (out ? ' ' : '') + (p < 0.05 ? `"${w}"` : p < 0.08 ? `${w},` : p < 0.1 ? `${w}.\n` : w);
  }
  return out.slice(0, chars);
}
function recordAt(i) {
  const r = rng(i + 1);
  return {
    content: JSON.stringify({
      instruction: sentence(r, 80),
      input: sentence(r, 300),
      output: sentence(r, 600),
    }),
    meta: JSON.stringify({
      source_document_ids: [`doc-${i % 5000}`],
      source_chunk_ids: [`doc-${i % 5000}#${i % 7}`],
      tags: ['bau', i % 2 ? 'brandschutz' : 'stellplatz', `jahr-${2000 + (i % 25)}`],
    }),
  };
}

// --- child tasks ---------------------------------------------------------------------------
async function openDatabase(dir) {
  const { loadConfig } = await lib('config');
  const { buildDataSourceOptions, runMigrationsExclusively } = await lib('database');
  const { DatasetEntity, DatasetVersionEntity } = await lib('datasets');
  const { DataSource } = await import('typeorm');
  const config = loadConfig({
    env: { CLARA_ENVIRONMENT: 'testing', CLARA_DATA_DIR: dir, CLARA_LOG_LEVEL: 'error' },
  });
  const entities = [DatasetEntity, DatasetVersionEntity];
  const dataSource = await new DataSource(
    buildDataSourceOptions(config.database, entities),
  ).initialize();
  await runMigrationsExclusively(dataSource);
  return { config, dataSource };
}

const DATASET_ID = '01900000-0000-7000-8000-00000000beef';
const VERSION_ID = '01900000-0000-7000-8000-00000000cafe';

async function seed(dir, n) {
  const { dataSource } = await openDatabase(dir);
  const db = dataSource.driver.databaseConnection;
  const now = new Date().toISOString();
  db.prepare(
    `INSERT INTO datasets (id, name, description, record_format, latest_version, created_by, created_at, updated_at)
     VALUES (?, 'bench', '', 'alpaca', 1, 'bench', ?, ?)`,
  ).run(DATASET_ID, now, now);
  db.prepare(
    `INSERT INTO dataset_versions (id, dataset_id, version, status, origin, record_format, spec, statistics, checksum,
     train_count, validation_count, created_by, created_at, updated_at, finished_at)
     VALUES (?, ?, 1, 'ready', 'import', 'alpaca', '{}', '{}', ?, ?, 0, 'bench', ?, ?, ?)`,
  ).run(VERSION_ID, DATASET_ID, 'b'.repeat(64), n, now, now, now);
  const insert = db.prepare(
    `INSERT INTO dataset_records (version_id, split, ordinal, content, meta, tokens) VALUES (?, 'train', ?, ?, ?, 250)`,
  );
  const jsonl = openSync(join(dir, 'rows.jsonl'), 'w');
  const BATCH = 10_000;
  for (let start = 0; start < n; start += BATCH) {
    db.transaction(() => {
      let text = '';
      for (let i = start; i < Math.min(n, start + BATCH); i++) {
        const { content, meta } = recordAt(i);
        insert.run(VERSION_ID, i, content, meta);
        text += `${content.slice(0, -1)},${meta.slice(1)}\n`;
      }
      writeSync(jsonl, text);
    })();
  }
  closeSync(jsonl);
  await dataSource.destroy();
}

async function claraServices(dir) {
  const { config, dataSource } = await openDatabase(dir);
  const datasets = await lib('datasets');
  const repository = new datasets.DatasetsRepository(dataSource);
  const cache = new datasets.ExportCache(config);
  const exports = new datasets.ExportService(repository, cache, config, dataSource);
  const version = await repository.getVersionById(VERSION_ID);
  return { dataSource, exports, cache, version };
}

/**
 * What a new version costs once: its export file encoded from the stored records and
 * written (flushed) where downloads will find it — the work the datasets service does in
 * the background when a version becomes ready (or on a first download).
 */
async function claraPrepare(dir, format) {
  const { dataSource, exports, cache, version } = await claraServices(dir);
  const started = performance.now();
  const written = await exports.prepare(version, [format]);
  const seconds = (performance.now() - started) / 1000;
  const key = {
    datasetId: DATASET_ID,
    versionId: VERSION_ID,
    split: 'train',
    format,
    metadata: true,
  };
  if (written !== 2) throw new Error(`prepare wrote ${written} files, expected 2`);
  const bytes = statSync(cache.pathOf(key)).size;
  await dataSource.destroy();
  return { seconds, bytes };
}

/** A download as the service answers it (the file prepared above), written to disk. */
async function claraExport(dir, format) {
  const { dataSource, exports, version } = await claraServices(dir);
  const out = join(dir, `clara.${format}`);
  const started = performance.now();
  const file = await exports.file(version, 'train', format, true);
  if (file.size === null) throw new Error('no prepared file: the export would encode');
  await pipeline(file.body, createWriteStream(out));
  const seconds = (performance.now() - started) / 1000;
  const bytes = statSync(out).size;
  rmSync(out);
  await dataSource.destroy();
  return { seconds, bytes };
}

async function duckdbSetup(dir) {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(join(dir, 'anchor.duckdb'));
  const c = await instance.connect();
  await c.run(`CREATE OR REPLACE TABLE records AS SELECT * FROM read_json('${join(dir, 'rows.jsonl')}', format = 'newline_delimited',
    columns = {instruction: 'VARCHAR', input: 'VARCHAR', output: 'VARCHAR', source_document_ids: 'VARCHAR[]', source_chunk_ids: 'VARCHAR[]', tags: 'VARCHAR[]'})`);
  c.closeSync();
  instance.closeSync();
}

async function duckdbExport(dir, format) {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(join(dir, 'anchor.duckdb'));
  const c = await instance.connect();
  const out = join(dir, `duckdb.${format}`);
  const options = {
    jsonl: '(FORMAT json)',
    csv: '(FORMAT csv, HEADER true)',
    parquet: '(FORMAT parquet, COMPRESSION zstd)',
  }[format];
  const started = performance.now();
  await c.run(`COPY records TO '${out}' ${options}`);
  const seconds = (performance.now() - started) / 1000;
  const bytes = statSync(out).size;
  rmSync(out);
  c.closeSync();
  instance.closeSync();
  return { seconds, bytes };
}

function diskWrite(dir, bytes) {
  const path = join(dir, 'raw.bin');
  const chunk = randomBytes(1 << 20);
  const fd = openSync(path, 'w');
  const started = performance.now();
  for (let written = 0; written < bytes; written += chunk.length) writeSync(fd, chunk);
  fsyncSync(fd);
  const seconds = (performance.now() - started) / 1000;
  closeSync(fd);
  rmSync(path);
  return { seconds, bytes };
}

/** The HTTP service streams an export while another route is called every 20 ms. */
async function latency(dir, format) {
  const { createHttpApp } = await lib('platform');
  const { loadConfig } = await lib('config');
  const { DatasetsAppModule } = await import(
    pathToFileURL(join(ROOT, 'dist/apps/datasets/apps/datasets/src/datasets-app.module.js')).href
  );
  const appConfig = loadConfig({
    env: {
      CLARA_ENVIRONMENT: 'testing',
      CLARA_DATA_DIR: dir,
      CLARA_AUTH_ENABLED: 'false',
      CLARA_LOG_LEVEL: 'error',
      // The heavier case: every download encodes (none streams the prepared file).
      CLARA_DATASETS_EXPORT_CACHE: 'false',
    },
  });
  const app = await createHttpApp(DatasetsAppModule.forRoot(appConfig), {
    service: 'datasets',
    config: appConfig,
  });
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${app.getHttpServer().address().port}/api/datasets/datasets/${DATASET_ID}`;
  const probe = async (stopAt) => {
    const samples = [];
    while (!stopAt()) {
      const t0 = performance.now();
      const res = await fetch(base);
      await res.arrayBuffer();
      samples.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
    return samples;
  };
  const idleUntil = performance.now() + 2000;
  const idle = await probe(() => performance.now() > idleUntil);
  let done = false;
  // The client downloads from another process, so its reading does not load this event loop.
  const download = new Promise((resolve, reject) => {
    const client = spawn(
      process.execPath,
      [
        '-e',
        `fetch(process.argv[1]).then(async (r) => { let n = 0; for await (const c of r.body) n += c.length; console.log(n); })`,
        `${base}/versions/1/files/train-00000-of-00001.${format}`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    client.stdout.on('data', (d) => (out += d));
    client.on('exit', (code) => {
      done = true;
      if (code === 0) resolve(Number(out.trim()));
      else reject(new Error(`download exited ${code}`));
    });
  });
  const busy = await probe(() => done);
  const bytes = await download;
  await app.close();
  return { idle: stats(idle), during: stats(busy), bytes };
}

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return {
    n: s.length,
    p50: round(at(0.5)),
    p99: round(at(0.99)),
    max: round(s[s.length - 1] ?? 0),
  };
}
const round = (x) => Math.round(x * 10) / 10;

// --- orchestration -------------------------------------------------------------------------
if (process.argv[2] === '--child') {
  const [task, dir, a] = process.argv.slice(3);
  process.chdir(ROOT);
  let result;
  if (task === 'seed') result = await seed(dir, Number(a));
  if (task === 'clara-prepare') result = await claraPrepare(dir, a);
  if (task === 'clara') result = await claraExport(dir, a);
  if (task === 'duckdb-setup') result = await duckdbSetup(dir);
  if (task === 'duckdb') result = await duckdbExport(dir, a);
  if (task === 'disk') result = diskWrite(dir, Number(a));
  if (task === 'latency') result = await latency(dir, a);
  process.stdout.write(
    `\n@@${JSON.stringify({ result: result ?? null, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`,
  );
  process.exit(0);
}

function child(...args) {
  // Each writer starts with no dirty pages of the one before: otherwise whichever runs
  // second is throttled by the kernel flushing the first one's gigabyte.
  execFileSync('sync');
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [SELF, '--child', ...args.map(String)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('@@'));
      if (code !== 0 || !line)
        reject(new Error(`child ${args.join(' ')} exited ${code}: ${out.slice(-2000)}`));
      else resolve(JSON.parse(line.slice(2)));
    });
  });
}

const options = parseArgs(process.argv.slice(2), {
  records: '100000,1000000',
  formats: 'jsonl,csv,parquet',
  latencyRecords: 100000,
  build: true,
  json: '',
});
if (options.build) build(['datasets']);
const counts = String(options.records).split(',').map(Number);
const formats = String(options.formats).split(',');
const report = { machine: `machine: ${machineLine()}`, runs: [], latency: null };
console.log(report.machine);
const mb = (bytes) => bytes / 2 ** 20;

for (const n of counts) {
  const dir = mkdtempSync(join(tmpdir(), 'clara-export-bench-'));
  try {
    process.stderr.write(`seeding ${n} records…\n`);
    await child('seed', dir, n);
    await child('duckdb-setup', dir);
    const jsonlBytes = statSync(join(dir, 'rows.jsonl')).size;
    const disk = await child('disk', dir, jsonlBytes);
    console.log(
      `\n${n.toLocaleString('en')} records (${mb(jsonlBytes).toFixed(0)} MiB as JSONL); raw disk write ${(mb(disk.result.bytes) / disk.result.seconds).toFixed(0)} MiB/s`,
    );
    console.log(
      'format   writer          seconds  records/s   MiB/s   MiB out  peak RSS MiB  vs DuckDB',
    );
    for (const format of formats) {
      const prepare = await child('clara-prepare', dir, format);
      const clara = await child('clara', dir, format);
      const duck = await child('duckdb', dir, format);
      for (const [name, r] of [
        ['clara prepare', prepare],
        ['clara export', clara],
        ['duckdb', duck],
      ]) {
        const { seconds, bytes } = r.result;
        const ratio = name === 'duckdb' ? '' : `${(duck.result.seconds / seconds).toFixed(2)}×`;
        console.log(
          `${format.padEnd(8)} ${name.padEnd(14)} ${seconds.toFixed(2).padStart(8)} ${Math.round(
            n / seconds,
          )
            .toLocaleString('en')
            .padStart(
              10,
            )} ${(mb(bytes) / seconds).toFixed(0).padStart(7)} ${mb(bytes).toFixed(0).padStart(9)} ${String(r.maxRssMb).padStart(13)}  ${ratio}`,
        );
      }
      report.runs.push({
        records: n,
        format,
        prepare: { ...prepare.result, maxRssMb: prepare.maxRssMb },
        clara: { ...clara.result, maxRssMb: clara.maxRssMb },
        duckdb: { ...duck.result, maxRssMb: duck.maxRssMb },
        diskMiBs: mb(disk.result.bytes) / disk.result.seconds,
      });
    }
    if (n === options.latencyRecords) {
      const lat = {};
      for (const format of formats) lat[format] = (await child('latency', dir, format)).result;
      report.latency = { records: n, ...lat };
      console.log(
        `\nGET /datasets/:id every 20 ms while one export streams over HTTP (${n.toLocaleString('en')} records), ms:`,
      );
      for (const [format, r] of Object.entries(lat)) {
        console.log(
          `  ${format.padEnd(8)} idle p50 ${r.idle.p50} p99 ${r.idle.p99} | during export p50 ${r.during.p50} p99 ${r.during.p99} max ${r.during.max} (${r.during.n} calls)`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
if (options.json) writeFileSync(options.json, JSON.stringify(report, null, 2));
