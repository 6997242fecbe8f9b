#!/usr/bin/env node
// Corpus (UDS3) benchmark: ingest throughput and search latency at a given number of
// chunks, embedded (SQLite) versus all servers (PostgreSQL, Chroma, Neo4j, CouchDB), with
// the bare vector search (exact cosine in SQLite versus Chroma's HNSW) as the anchor.
//
// It drives the compiled corpus library in-process (the ingest and search services the
// API calls, with the real adapters), so the numbers are the stores' and the pipeline's,
// not HTTP's (bench/http measures that). Servers come from test/backends/start.sh.
//
//   node bench/corpus/run.mjs [--chunks 10000,100000] [--configs embedded,servers]
//                             [--queries 50] [--concurrency 4] [--chunks-per-doc 5]
//                             [--no-build] [--json out.json]
import 'reflect-metadata';

import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { build, machineLine, parseArgs, ROOT } from '../lib/clara.mjs';

const options = parseArgs(process.argv.slice(2), {
  chunks: '10000',
  configs: 'embedded,servers',
  queries: 50,
  concurrency: 4,
  chunksPerDoc: 5,
  build: true,
  json: '',
});

if (options.build) build(['datasets']);
process.chdir(ROOT); // loadConfig reads ./config
const lib = (name) =>
  import(pathToFileURL(join(ROOT, `dist/apps/datasets/libs/${name}/src/index.js`)).href);
const corpus = await lib('corpus');
const { loadConfig } = await lib('config');
const { buildDataSourceOptions, runMigrationsExclusively } = await lib('database');
const { DataSource } = await import('typeorm');
const pg = (await import('pg')).default;

// --- deterministic synthetic corpus -------------------------------------------------------
const WORDS = (
  'Gebäude Brandschutz Rettungsweg Treppenraum Stellplatz Fahrrad Abstandsfläche Grenze Dach ' +
  'Photovoltaik Begrünung Aufzug Spielplatz Schallschutz Decke Wand Holzbau Hochhaus Fassade ' +
  'Werbeanlage Genehmigung Antrag Frist Behörde Ausnahme building fire escape stair parking ' +
  'bicycle boundary roof solar green lift playground sound insulation timber facade permit ' +
  'application deadline authority exemption flood basement daylight window demolition scaffold'
).split(' ');
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function* documents(count, chunksPerDoc) {
  const random = rng(42);
  const word = () => WORDS[Math.floor(random() * WORDS.length)];
  const sentence = () => {
    const n = 8 + Math.floor(random() * 8);
    const words = Array.from({ length: n }, word);
    return `${words.join(' ')}.`;
  };
  for (let i = 0; i < count; i++) {
    const paragraphs = [];
    for (let p = 0; p < chunksPerDoc; p++) {
      let text = '';
      while (text.length < 600) text += `${sentence()} `;
      paragraphs.push(text.trim());
    }
    const relations = i > 0 ? [{ type: 'cites', target: `bench-${Math.floor(random() * i)}` }] : [];
    if (i > 10 && random() < 0.3)
      relations.push({ type: 'amends', target: `bench-${i - 1 - Math.floor(random() * 10)}` });
    yield {
      id: `bench-${i}`,
      title: `${word()} ${word()} ${i}`,
      text: paragraphs.join('\n\n'),
      language: random() < 0.5 ? 'de' : 'en',
      metadata: { year: 2000 + (i % 25), kind: ['regulation', 'amendment', 'guidance'][i % 3] },
      relations,
      source: { kind: 'json' },
    };
  }
}
const queryTexts = (n) => {
  const random = rng(7);
  return Array.from({ length: n }, () =>
    Array.from({ length: 3 }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' '),
  );
};

// --- configurations -----------------------------------------------------------------------
function serverVariables() {
  const file = join(ROOT, 'test/backends/.state/env');
  const vars = {};
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
      if (m) vars[m[1]] = m[2].replace(/^'(.*)'$/, '$1');
    }
  }
  return {
    ...vars,
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('TEST_'))),
  };
}

async function open(configuration) {
  const dataDir = mkdtempSync(join(tmpdir(), 'clara-bench-corpus-'));
  const namespace = `bench_${randomBytes(4).toString('hex')}`;
  const env = {
    CLARA_ENVIRONMENT: 'testing',
    CLARA_DATA_DIR: dataDir,
    CLARA_CORPUS_NAMESPACE: namespace,
  };
  const cleanups = [() => rmSync(dataDir, { recursive: true, force: true })];
  if (configuration === 'servers') {
    const s = serverVariables();
    for (const v of [
      'TEST_POSTGRES_URL',
      'TEST_CHROMA_URL',
      'TEST_NEO4J_URL',
      'TEST_COUCHDB_URL',
    ]) {
      if (!s[v]) throw new Error(`${v} is not set: run test/backends/start.sh first`);
    }
    const admin = new pg.Client({ connectionString: s.TEST_POSTGRES_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${namespace}`);
    await admin.end();
    const url = new URL(s.TEST_POSTGRES_URL);
    url.pathname = `/${namespace}`;
    Object.assign(env, {
      DATABASE_URL: url.toString(),
      CHROMA_URL: s.TEST_CHROMA_URL,
      NEO4J_URL: s.TEST_NEO4J_URL,
      NEO4J_USER: s.TEST_NEO4J_USER,
      NEO4J_PASSWORD: s.TEST_NEO4J_PASSWORD,
      COUCHDB_URL: s.TEST_COUCHDB_URL,
    });
    cleanups.push(async () => {
      const c = new pg.Client({ connectionString: s.TEST_POSTGRES_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${namespace} WITH (FORCE)`);
      await c.end();
    });
  }
  const config = loadConfig({ env });
  const dataSource = await new DataSource(buildDataSourceOptions(config.database)).initialize();
  await runMigrationsExclusively(dataSource);
  const set = corpus.createStores(config, dataSource);
  const stores = new corpus.CorpusStores(set.relational, set.vector, set.graph, set.documents);
  const embedder = corpus.createEmbeddingProvider(config.corpus.embedding);
  return {
    stores,
    embedder,
    ingest: new corpus.IngestService(stores, embedder, config),
    search: new corpus.SearchService(stores, embedder),
    close: async () => {
      if (configuration === 'servers') await dropServerData(set, namespace);
      await Promise.allSettled(stores.all().map((st) => (st.close ? st.close() : undefined)));
      await dataSource.destroy();
      for (const cleanup of cleanups.reverse()) await cleanup();
    },
  };
}

async function dropServerData(set, namespace) {
  const s = serverVariables();
  const { ChromaClient } = await import('chromadb');
  const chroma = new URL(s.TEST_CHROMA_URL);
  await new ChromaClient({ host: chroma.hostname, port: Number(chroma.port) })
    .deleteCollection({ name: namespace })
    .catch(() => undefined);
  const nano = (await import('nano')).default;
  await nano(s.TEST_COUCHDB_URL)
    .db.destroy(namespace)
    .catch(() => undefined);
  const neo4j = (await import('neo4j-driver')).default;
  const driver = neo4j.driver(
    s.TEST_NEO4J_URL,
    neo4j.auth.basic(s.TEST_NEO4J_USER, s.TEST_NEO4J_PASSWORD),
  );
  // Batched, so a large namespace does not need one huge transaction.
  for (;;) {
    const r = await driver.executeQuery(
      'MATCH (n:ClaraDocument {ns: $ns}) WITH n LIMIT 5000 DETACH DELETE n RETURN count(*) AS c',
      { ns: namespace },
    );
    if (Number(r.records[0].get('c')) === 0) break;
  }
  await driver.close();
}

// --- measurements -------------------------------------------------------------------------
const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

async function run(configuration, chunks) {
  const docCount = Math.ceil(chunks / options.chunksPerDoc);
  const c = await open(configuration);
  try {
    const docs = [...documents(docCount, options.chunksPerDoc)];
    let next = 0;
    let chunkTotal = 0;
    let lastReport = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (next < docs.length) {
          const doc = docs[next++];
          const outcome = await c.ingest.ingest(doc);
          chunkTotal += outcome.chunks;
          if (next - lastReport >= docs.length / 10) {
            lastReport = next;
            process.stderr.write(
              `  ${configuration} ${chunks}: ${next}/${docs.length} documents\n`,
            );
          }
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const result = {
      configuration,
      adapters: c.stores.adapters(),
      chunks: chunkTotal,
      documents: docs.length,
      ingest_seconds: +seconds.toFixed(1),
      documents_per_second: +(docs.length / seconds).toFixed(1),
      chunks_per_second: +(chunkTotal / seconds).toFixed(1),
      search_ms: {},
    };
    const queries = queryTexts(options.queries);
    // The anchor: the vector store alone (exact cosine in the database vs Chroma's index).
    const anchor = [];
    for (const q of queries) {
      const [embedding] = await c.embedder.embed([q]);
      const t0 = performance.now();
      await c.stores.vector.search(embedding, [], 10);
      anchor.push(performance.now() - t0);
    }
    result.search_ms[`vector store only (${c.stores.vector.adapter})`] = summary(anchor);
    for (const mode of ['keyword', 'vector', 'hybrid', 'graph']) {
      const latencies = [];
      for (const q of queries) {
        const t0 = performance.now();
        await c.search.search({
          query: q,
          mode,
          fusion: 'weighted',
          weights: { vector: 0.5, keyword: 0.3, graph: 0.2 },
          filter: [],
          topK: 10,
          minScore: 0,
          graphDepth: 1,
          rrfK: 60,
        });
        latencies.push(performance.now() - t0);
      }
      result.search_ms[mode] = summary(latencies);
    }
    return result;
  } finally {
    await c.close();
  }
}

function summary(values) {
  return { p50: +percentile(values, 50).toFixed(1), p95: +percentile(values, 95).toFixed(1) };
}

const results = [];
console.log(`machine: ${machineLine()}`);
for (const chunks of String(options.chunks).split(',').map(Number)) {
  for (const configuration of String(options.configs).split(',')) {
    process.stderr.write(`${configuration}, ${chunks} chunks…\n`);
    const result = await run(configuration, chunks);
    results.push(result);
    console.log(JSON.stringify(result));
  }
}

console.log(
  '\n| chunks | configuration | docs/s | chunks/s | ' +
    ['vector store only', 'keyword', 'vector', 'hybrid', 'graph']
      .map((m) => `${m} p50 / p95 ms`)
      .join(' | ') +
    ' |',
);
console.log('|' + ' --- |'.repeat(9));
for (const r of results) {
  const s = Object.values(r.search_ms).map((v) => `${v.p50} / ${v.p95}`);
  console.log(
    `| ${r.chunks} | ${r.configuration} | ${r.documents_per_second} | ${r.chunks_per_second} | ${s.join(' | ')} |`,
  );
}
if (options.json) writeFileSync(options.json, JSON.stringify(results, null, 2));
