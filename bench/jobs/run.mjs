#!/usr/bin/env node
// Job queue benchmark (npm run bench:jobs), on PostgreSQL with standalone worker processes
// and the fixture trainer (`fixture/quick`: one step, then exit 0).
//
//  A. submit → spawn: one worker (poll 100 ms); jobs are POSTed one at a time and timed from
//     just before the POST to (a) the claim (the job row's started_at, written by the claim
//     statement) and (b) the trainer's own start line in <data>/fixture-ledger.log.
//  B. drain rate: 1, 2 and 4 workers (several slots each); a backlog of quick jobs is
//     inserted in one statement once the workers are idle, and timed until the last job has
//     finished. Also with a no-op trainer (`true`), the queue machinery alone.
//  C. reads with 10,000 jobs in the table (inserted with SQL): GET /jobs/:id and
//     GET /jobs?limit=50 at the closed-loop maximum, next to the Fastify anchor.
//
//   node bench/jobs/run.mjs [--latency-jobs 40] [--drain-jobs 200] [--workers 1,2,4]
//                           [--slots 4] [--poll-ms 100] [--trainers fixture,noop] [--table-jobs 10000]
//                           [--queued 500] [--duration 8] [--warmup 2] [--connections 10]
//                           [--database-url postgres://superuser@127.0.0.1/x] [--no-build]
//                           [--json out.json] [--node-args "..."] [--env KEY=VALUE,...]
//                           [--profile DIR] [--phases A,B,C]
// --env applies to the API and the workers, --node-args and --profile to the API only.
import {
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  closeSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

import {
  build,
  claraEnv,
  FIXTURE_TRAINER,
  machineLine,
  mainOf,
  migrate,
  mintToken,
  parseArgs,
  ROOT,
  snapshot,
  variant,
} from '../lib/clara.mjs';
import { uuidv7 } from '../lib/ids.mjs';
import { runLoad } from '../lib/load.mjs';
import { connect, freshDatabase } from '../lib/postgres.mjs';
import {
  freePort,
  httpGet,
  httpJson,
  makeTempDir,
  runMain,
  sleep,
  startProcess,
  stopProcess,
  waitFor200,
} from '../lib/proc.mjs';
import { fmt, fmtInt, percentile, table } from '../lib/stats.mjs';

const options = parseArgs(process.argv.slice(2), {
  latencyJobs: 40,
  drainJobs: 200,
  workers: '1,2,4',
  slots: 4,
  pollMs: 100,
  heartbeatMs: 2000,
  trainers: 'fixture,noop',
  tableJobs: 10000,
  queued: 500,
  duration: 8,
  warmup: 2,
  connections: 10,
  databaseUrl: '',
  build: true,
  json: '',
  phases: 'A,B,C',
  nodeArgs: '',
  env: '',
  profile: '',
});
const claraVariant = variant(options);
const workerCounts = options.workers.split(',').map(Number);
const phases = new Set(options.phases.toUpperCase().split(','));
const NOOP = existsSync('/usr/bin/true') ? '/usr/bin/true' : '/bin/true';
const TERMINAL = ['succeeded', 'failed', 'cancelled'];

await runMain(async () => {
  const startedAt = Date.now();
  const machine = machineLine();
  if (options.build) build(['training', 'worker', 'cli']);
  snapshot(['training', 'worker', 'cli']);

  const work = makeTempDir('clara-bench-jobs');
  const logs = join(work, 'logs');
  const dataDir = join(work, 'data');
  mkdirSync(logs, { recursive: true });
  mkdirSync(join(dataDir, 'files'), { recursive: true });
  writeFileSync(
    join(dataDir, 'files/train.jsonl'),
    `${JSON.stringify({
      messages: [
        { role: 'user', content: 'Hallo' },
        { role: 'assistant', content: 'Hi' },
      ],
    })}\n`.repeat(4),
  );
  const ledgerPath = join(dataDir, 'fixture-ledger.log');

  const database = await freshDatabase('clara_bench_jobs', options.databaseUrl);
  process.stderr.write(
    `database ${database.name}${database.serverStartedHere ? ' (server started for this run)' : ''}\n`,
  );
  const common = {
    CLARA_DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    CLARA_WORKER_HEARTBEAT_MS: String(options.heartbeatMs),
  };
  process.stderr.write(`${migrate(claraEnv(common))}\n`);
  const db = await connect(database.url);

  const trainerToken = mintToken(claraEnv(common), 'trainer');
  const analystToken = mintToken(claraEnv(common), 'analyst');

  // The API, with no worker inside it.
  const apiPort = await freePort();
  const api = `http://127.0.0.1:${apiPort}`;
  const apiProcess = startProcess(
    'training',
    process.execPath,
    claraVariant.args(mainOf('training')),
    {
      env: claraEnv(
        claraVariant.env({
          ...common,
          TRAINING_PORT: String(apiPort),
          CLARA_WORKER_EMBEDDED: 'false',
        }),
      ),
      cwd: ROOT,
      logDir: logs,
    },
  );
  await waitFor200(`${api}/health/live`, apiProcess);

  let workerSeq = 0;
  async function startWorkers(count, trainer) {
    const started = [];
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const id = `bench-${++workerSeq}`;
      const handle = startProcess(id, process.execPath, [mainOf('worker')], {
        env: claraEnv({
          ...common,
          WORKER_HEALTH_PORT: String(port),
          CLARA_WORKER_ID: id,
          CLARA_WORKER_GPUS: 'none',
          CLARA_WORKER_SLOTS: String(options.slots),
          CLARA_WORKER_POLL_MS: String(options.pollMs),
          CLARA_TRAINER_COMMAND: JSON.stringify(trainer),
          ...claraVariant.extraEnv,
        }),
        cwd: ROOT,
        logDir: logs,
      });
      started.push({ id, handle, port });
    }
    // /health/live answers once the worker has registered (bootstrap runs before the port opens).
    await Promise.all(
      started.map((w) =>
        waitFor200(`http://127.0.0.1:${w.port}/health/live`, w.handle, { intervalMs: 20 }),
      ),
    );
    return started;
  }
  const stopWorkers = (workers) => Promise.all(workers.map((w) => stopProcess(w.handle, 15_000)));

  /**
   * Waits until every job in `ids` has ended. Returns the ids still not ended when nothing
   * has finished for `stallMs` (jobs stuck in `running`: see "a job stuck in running" in
   * docs/performance.md), so one stuck job cannot hang the benchmark; fails after `timeoutMs`.
   */
  async function waitTerminal(ids, timeoutMs, stallMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    let last = -1;
    let lastChange = Date.now();
    while (Date.now() < deadline) {
      const { rows } = await db.query(
        `SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND status = ANY($2)`,
        [ids, TERMINAL],
      );
      if (rows[0].n === ids.length) return [];
      if (rows[0].n !== last) {
        last = rows[0].n;
        lastChange = Date.now();
      } else if (last > 0 && Date.now() - lastChange > stallMs) {
        const stuckQuery = () =>
          db.query(
            `SELECT id, status, worker_id, lease_expires_at FROM jobs WHERE id = ANY($1) AND NOT (status = ANY($2))`,
            [ids, TERMINAL],
          );
        const { rows: stuck } = await stuckQuery();
        // Is a live worker still renewing their leases (so recovery will never take them)?
        await sleep(options.heartbeatMs * 1.5);
        const { rows: later } = await stuckQuery();
        const renewed = later.filter(
          (r) => r.lease_expires_at > (stuck.find((x) => x.id === r.id)?.lease_expires_at ?? ''),
        ).length;
        process.stderr.write(
          `  !! ${stuck.length} job(s) made no progress for ${stallMs / 1000} s: ${stuck.map((r) => `${r.id} ${r.status} on ${r.worker_id}`).join('; ')}; lease still being renewed for ${renewed} of them\n`,
        );
        return stuck.map((r) => r.id);
      }
      await sleep(50);
    }
    const { rows } = await db.query(
      `SELECT status, count(*)::int AS n FROM jobs WHERE id = ANY($1) GROUP BY status`,
      [ids],
    );
    throw new Error(
      `jobs did not all finish within ${timeoutMs} ms: ${rows.map((r) => `${r.n} ${r.status}`).join(', ')}`,
    );
  }

  const fixture = [process.execPath, FIXTURE_TRAINER];
  let latency = null;
  const drains = [];
  const readResults = [];
  // Bulk-inserted jobs copy the spec of a job the API made in phase A (or a fixed one).
  let template = {
    name: 'lora-quick',
    owner: 'bench',
    base_model: 'fixture/quick',
    method: 'lora',
    record_format: 'chat',
    hyperparameters: {
      epochs: 3,
      learning_rate: 0.0002,
      batch_size: 4,
      lora_r: 16,
      lora_alpha: 32,
    },
    data: { train_file: 'files/train.jsonl' },
    gpus_required: 0,
    priority: 0,
    metadata: {},
    max_attempts: 3,
  };

  // ---------------------------------------------------------------- A. submit → spawn
  if (phases.has('A')) {
    process.stderr.write(
      `\n== A. submit → spawn (${options.latencyJobs} jobs, 1 worker, poll ${options.pollMs} ms)\n`,
    );
    const workers = await startWorkers(1, fixture);
    const ledger = ledgerReader(ledgerPath);
    const submissions = [];
    const body = {
      base_model: 'fixture/quick',
      data: { train_file: 'files/train.jsonl' },
      gpus: 0,
    };
    for (let i = 0; i < options.latencyJobs; i++) {
      const sentAt = Date.now();
      const t0 = performance.now();
      const response = await httpJson('POST', `${api}/api/training/jobs`, {
        headers: { authorization: `Bearer ${trainerToken}` },
        body,
      });
      const postMs = performance.now() - t0;
      if (response.status !== 201)
        throw new Error(`POST /jobs answered ${response.status}: ${JSON.stringify(response.body)}`);
      const id = response.body.id;
      const trainerStartedAt = await ledger.waitForStart(id, 15_000);
      submissions.push({ id, sentAt, postMs, trainerStartedAt });
      // A random pause, so submissions land at random points of the worker's poll cycle.
      await sleep(50 + Math.random() * options.pollMs);
    }
    await waitTerminal(
      submissions.map((s) => s.id),
      30_000,
    );
    await stopWorkers(workers);
    const { rows: claimRows } = await db.query(
      `SELECT id, started_at, status FROM jobs WHERE id = ANY($1)`,
      [submissions.map((s) => s.id)],
    );
    const claimedAt = new Map(claimRows.map((r) => [r.id, Date.parse(r.started_at)]));
    const failedA = claimRows.filter((r) => r.status !== 'succeeded').length;
    const sorted = (values) => values.sort((a, b) => a - b);
    const toClaim = sorted(submissions.map((s) => claimedAt.get(s.id) - s.sentAt));
    const toSpawn = sorted(submissions.map((s) => s.trainerStartedAt - s.sentAt));
    const claimToSpawn = sorted(submissions.map((s) => s.trainerStartedAt - claimedAt.get(s.id)));
    const postTimes = sorted(submissions.map((s) => s.postMs));
    latency = { toClaim, toSpawn, claimToSpawn, postTimes, failed: failedA };
    for (const [label, values] of [
      ['POST → claimed', toClaim],
      ['POST → trainer running', toSpawn],
      ['claimed → trainer running', claimToSpawn],
      ['POST response time', postTimes],
    ]) {
      process.stderr.write(
        `  ${label.padEnd(26)} p50 ${fmt(percentile(values, 0.5))} ms  p95 ${fmt(percentile(values, 0.95))} ms  max ${fmt(values.at(-1))} ms\n`,
      );
    }

    // Every bulk-inserted job copies the spec of a job the API made.
    ({
      rows: [template],
    } = await db.query(
      `SELECT name, owner, base_model, method, record_format, hyperparameters, data, gpus_required, priority, metadata, max_attempts
         FROM jobs WHERE id = $1`,
      [submissions[0].id],
    ));
  }

  // ---------------------------------------------------------------- B. drain rate
  if (phases.has('B')) {
    const trainers = options.trainers.split(',');
    const variants = [
      ...(trainers.includes('fixture') ? [{ trainer: 'fixture (node)', command: fixture }] : []),
      ...(trainers.includes('noop') ? [{ trainer: `no-op (${NOOP})`, command: [NOOP] }] : []),
    ].flatMap((t) => workerCounts.map((n) => ({ workers: n, ...t })));
    for (const variant of variants) {
      process.stderr.write(
        `\n== B. ${options.drainJobs} jobs, ${variant.workers} worker(s) × ${options.slots} slots, trainer ${variant.trainer}\n`,
      );
      const workers = await startWorkers(variant.workers, variant.command);
      await sleep(300); // let the workers settle into their poll cycle
      const ids = [];
      const now = Date.now();
      const rows = [];
      for (let i = 0; i < options.drainJobs; i++) {
        const id = uuidv7(now);
        ids.push(id);
        const at = new Date(now).toISOString();
        rows.push(jobRow(template, { id, status: 'queued', created_at: at, queued_at: at }));
      }
      const insertedAt = Date.now();
      await insertJobs(db, rows);
      const stuck = await waitTerminal(ids, 180_000);
      const {
        rows: [stats],
      } = await db.query(
        `SELECT count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
                count(*) FILTER (WHERE status <> 'succeeded')::int AS other,
                count(DISTINCT worker_id)::int AS workers_used,
                count(*) FILTER (WHERE attempts <> 1)::int AS reattempted,
                min(started_at) AS first_claim, max(started_at) AS last_claim, max(finished_at) AS last_finish,
                avg(extract(epoch FROM (finished_at::timestamptz - started_at::timestamptz)) * 1000) AS mean_run_ms
           FROM jobs WHERE id = ANY($1)`,
        [ids],
      );
      await stopWorkers(workers);
      // A stuck job would be recovered (re-queued) once its lease runs out, into the next run.
      if (stuck.length) await db.query('DELETE FROM jobs WHERE id = ANY($1)', [stuck]);
      const drainS = (Date.parse(stats.last_finish) - insertedAt) / 1000;
      const claimS = (Date.parse(stats.last_claim) - insertedAt) / 1000;
      const result = {
        ...variant,
        command: undefined,
        slots: options.slots,
        jobs: ids.length,
        succeeded: stats.succeeded,
        other: stats.other,
        workersUsed: stats.workers_used,
        reattempted: stats.reattempted,
        firstClaimMs: Date.parse(stats.first_claim) - insertedAt,
        drainS,
        stuck: stuck.length,
        completedPerS: (ids.length - stuck.length) / drainS,
        claimedPerS: ids.length / claimS,
        meanRunMs: Number(stats.mean_run_ms),
      };
      drains.push(result);
      process.stderr.write(
        `  drained in ${fmt(drainS, 2)} s: ${fmt(result.completedPerS)} jobs/s completed, ${fmt(result.claimedPerS)} claims/s, first claim after ${fmtInt(result.firstClaimMs)} ms, mean claim→finish ${fmtInt(result.meanRunMs)} ms, ${result.other} not succeeded${stuck.length ? ` (${stuck.length} stuck in running)` : ''}\n`,
      );
    }
  }

  // ---------------------------------------------------------------- C. reads, 10,000 jobs
  if (phases.has('C')) {
    process.stderr.write(
      `\n== C. reads with ${options.tableJobs} jobs (${options.queued} queued)\n`,
    );
    await db.query('TRUNCATE jobs CASCADE');
    const table10k = await fillTable(db, template, options.tableJobs, options.queued);
    await db.query('ANALYZE jobs');

    const anchorPort = await freePort();
    const anchorProcess = startProcess(
      'anchor',
      process.execPath,
      [join(ROOT, 'bench/http/anchor.mjs')],
      {
        env: { ...process.env, PORT: String(anchorPort) },
        cwd: ROOT,
        logDir: logs,
      },
    );
    await waitFor200(`http://127.0.0.1:${anchorPort}/health/live`, anchorProcess);

    const auth = { authorization: `Bearer ${analystToken}` };
    const reads = [
      {
        key: 'anchor',
        label: 'Fastify anchor GET /health/live',
        url: `http://127.0.0.1:${anchorPort}/health/live`,
        headers: {},
        pid: anchorProcess.pid,
      },
      {
        key: 'get-succeeded',
        label: 'GET /jobs/:id (succeeded job)',
        url: `${api}/api/training/jobs/${table10k.finishedId}`,
        headers: auth,
      },
      {
        key: 'get-queued',
        label: `GET /jobs/:id (queued job, position ${options.queued})`,
        url: `${api}/api/training/jobs/${table10k.lastQueuedId}`,
        headers: auth,
      },
      {
        key: 'list-newest',
        label: 'GET /jobs?limit=50 (newest: 50 queued)',
        url: `${api}/api/training/jobs?limit=50`,
        headers: auth,
        expectItems: 50,
      },
      {
        key: 'list-succeeded',
        label: 'GET /jobs?limit=50&status=succeeded',
        url: `${api}/api/training/jobs?limit=50&status=succeeded`,
        headers: auth,
        expectItems: 50,
      },
    ];
    for (const read of reads) {
      const answer = await httpGet(read.url, { headers: read.headers });
      if (answer.status !== 200)
        throw new Error(`${read.label} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
      if (read.expectItems && JSON.parse(answer.body).data.length !== read.expectItems) {
        throw new Error(`${read.label} returned ${JSON.parse(answer.body).data.length} items`);
      }
      await runLoad({
        url: read.url,
        headers: read.headers,
        connections: options.connections,
        durationS: options.warmup,
      });
      if (read.key !== 'anchor') claraVariant.mark(apiProcess.pid, read.key);
      const run = await runLoad({
        url: read.url,
        headers: read.headers,
        connections: options.connections,
        durationS: options.duration,
        serverPid: read.pid ?? apiProcess.pid,
      });
      process.stderr.write(
        `  ${read.label.padEnd(44)} ${fmtInt(run.rps).padStart(7)} req/s  p50 ${fmt(run.p50, 2)} ms  p99 ${fmt(run.p99, 2)} ms  server CPU ${fmtInt(run.serverCpuUsPerRequest)} µs/req${run.unexpected ? `  (!! ${run.unexpected} non-200)` : ''}\n`,
      );
      readResults.push({ label: read.label, bytes: answer.body.length, ...run });
      if (read.key !== 'anchor') claraVariant.mark(apiProcess.pid, 'between-routes');
    }
    await stopProcess(anchorProcess);
  }
  await stopProcess(apiProcess);

  report({ machine, seconds: (Date.now() - startedAt) / 1000, latency, drains, readResults });
});

/** A `jobs` row (snake_case, as jsonb_populate_recordset wants it) from the template. */
function jobRow(template, fields) {
  return {
    ...template,
    updated_at: fields.created_at,
    started_at: null,
    finished_at: null,
    worker_id: null,
    assigned_gpus: null,
    lease_expires_at: null,
    attempts: 0,
    last_event_seq: 0,
    ...fields,
  };
}

async function insertJobs(db, rows) {
  for (let i = 0; i < rows.length; i += 2000) {
    await db.query(
      `INSERT INTO jobs SELECT * FROM jsonb_populate_recordset(NULL::jobs, $1::jsonb)`,
      [JSON.stringify(rows.slice(i, i + 2000))],
    );
  }
}

/**
 * `total` jobs: the oldest finished (80 % succeeded, 15 % failed, 5 % cancelled), one a
 * minute going back from now, and the newest `queued` ones still queued — a queue backlog.
 */
async function fillTable(db, template, total, queued) {
  const now = Date.now();
  const rows = [];
  const owners = ['bench', 'alice', 'bob', 'carol'];
  let finishedId = null;
  let lastQueuedId = null;
  for (let i = 0; i < total; i++) {
    const createdMs = now - (total - i) * 60_000;
    const at = new Date(createdMs).toISOString();
    const id = uuidv7(createdMs);
    const isQueued = i >= total - queued;
    const roll = i % 20;
    const status = isQueued
      ? 'queued'
      : roll < 16
        ? 'succeeded'
        : roll < 19
          ? 'failed'
          : 'cancelled';
    const end = new Date(createdMs + 30_000).toISOString();
    rows.push(
      jobRow(template, {
        id,
        owner: owners[i % owners.length],
        status,
        created_at: at,
        queued_at: at,
        updated_at: isQueued ? at : end,
        ...(isQueued
          ? {}
          : {
              started_at: new Date(createdMs + 1000).toISOString(),
              finished_at: end,
              worker_id: 'bench-history',
              attempts: 1,
              exit_code: status === 'succeeded' ? 0 : 1,
              error_code:
                status === 'failed'
                  ? 'trainer_crashed'
                  : status === 'cancelled'
                    ? 'cancelled'
                    : null,
              error_message: status === 'succeeded' ? null : 'bench history row',
              progress: { step: 10, total_steps: 10, epoch: 1 },
              last_metrics: { loss: 0.42, learning_rate: 0.0002 },
            }),
      }),
    );
    if (status === 'succeeded') finishedId = id;
    if (isQueued) lastQueuedId = id;
  }
  const t0 = performance.now();
  await insertJobs(db, rows);
  process.stderr.write(`  inserted ${total} jobs in ${fmtInt(performance.now() - t0)} ms\n`);
  return { finishedId, lastQueuedId };
}

/** Follows <data>/fixture-ledger.log: "<job id> start <epoch ms> <gpus> <pid>" lines. */
function ledgerReader(path) {
  let offset = 0;
  let rest = '';
  const starts = new Map();
  function readNew() {
    if (!existsSync(path)) return;
    const size = statSync(path).size;
    if (size <= offset) return;
    const fd = openSync(path, 'r');
    try {
      const buffer = Buffer.alloc(size - offset);
      readSync(fd, buffer, 0, buffer.length, offset);
      offset = size;
      const lines = (rest + buffer.toString('utf8')).split('\n');
      rest = lines.pop();
      for (const line of lines) {
        const [id, kind, ms] = line.split(' ');
        if (kind === 'start' && !starts.has(id)) starts.set(id, Number(ms));
      }
    } finally {
      closeSync(fd);
    }
  }
  return {
    async waitForStart(id, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        readNew();
        if (starts.has(id)) return starts.get(id);
        await sleep(2);
      }
      throw new Error(`the trainer for job ${id} did not start within ${timeoutMs} ms`);
    },
  };
}

function report({ machine, seconds, latency, drains, readResults }) {
  const out = [];
  out.push(`\n# bench:jobs — ${new Date().toISOString()}`);
  out.push(`machine: ${machine}`);
  if (claraVariant.description) out.push(`Clara variant: ${claraVariant.description}`);
  out.push(
    `PostgreSQL from test/backends (fsync off); workers: ${options.slots} slots, poll ${options.pollMs} ms, heartbeat ${options.heartbeatMs} ms; API, workers, trainers, PostgreSQL and the load generator share the cores (not pinned); total ${fmtInt(seconds)} s`,
  );

  const row = (label, values) => [
    label,
    fmt(percentile(values, 0.5)),
    fmt(percentile(values, 0.95)),
    fmt(values.at(-1)),
  ];
  if (latency) {
    out.push(
      `\n## A. Submit → spawn (${latency.toSpawn.length} jobs, one at a time, 1 idle worker)\n`,
    );
    out.push(
      table(
        ['interval', 'p50 ms', 'p95 ms', 'max ms'],
        [
          row('POST sent → job claimed (jobs.started_at)', latency.toClaim),
          row('POST sent → trainer process running (ledger start line)', latency.toSpawn),
          row('claimed → trainer process running', latency.claimToSpawn),
          row('POST /api/training/jobs response time', latency.postTimes),
        ],
      ),
    );
    if (latency.failed) out.push(`\nWARNING: ${latency.failed} of these jobs did not succeed`);
  }

  if (drains.length) {
    out.push(
      `\n## B. Drain rate (${options.drainJobs} queued jobs inserted at once, workers idle and registered)\n`,
    );
    out.push(
      table(
        [
          'trainer',
          'workers × slots',
          'drain s',
          'completed jobs/s',
          'claims/s',
          'first claim ms',
          'mean claim→finish ms',
          'workers used',
          'attempts ≠ 1',
          'not succeeded',
        ],
        drains.map((d) => [
          d.trainer,
          `${d.workers} × ${d.slots}`,
          fmt(d.drainS, 2),
          fmt(d.completedPerS),
          fmt(d.claimedPerS),
          fmtInt(d.firstClaimMs),
          fmtInt(d.meanRunMs),
          String(d.workersUsed),
          String(d.reattempted),
          d.stuck ? `${d.other} (${d.stuck} stuck running)` : String(d.other),
        ]),
      ),
    );
    if (drains.some((d) => d.stuck)) {
      out.push(
        '\nWARNING: jobs stuck in `running` — a worker stopped their trainers as "lease lost" although it held them (docs/performance.md, "A job stuck in running"). The drain time counts the other jobs only.',
      );
    }
  }

  const anchor = readResults[0];
  if (anchor) {
    out.push(
      `\n## C. Reads with ${options.tableJobs} jobs in the table (${options.queued} queued), c=${options.connections}, ${options.duration} s each\n`,
    );
    out.push(
      table(
        [
          'route',
          'req/s',
          'p50 ms',
          'p99 ms',
          '×anchor req/s',
          'server CPU µs/req',
          'response bytes',
        ],
        readResults.map((r) => [
          r.label,
          fmtInt(r.rps),
          fmt(r.p50, 2),
          fmt(r.p99, 2),
          fmt(r.rps / anchor.rps, 3),
          fmtInt(r.serverCpuUsPerRequest),
          fmtInt(r.bytes),
        ]),
      ),
    );
  }
  const problems = readResults.filter((r) => r.unexpected || r.errors || r.timeouts);
  if (problems.length)
    out.push(
      `\nWARNING — failed requests: ${problems.map((r) => `${r.label}: ${r.unexpected} non-200, ${r.errors} errors`).join('; ')}`,
    );
  process.stdout.write(`${out.join('\n')}\n`);
  if (options.json) {
    writeFileSync(
      options.json,
      JSON.stringify({ machine, options, latency, drains, readResults }, null, 2),
    );
    process.stderr.write(`\nraw results written to ${options.json}\n`);
  }
}
