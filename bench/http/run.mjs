#!/usr/bin/env node
// HTTP overhead benchmark (npm run bench:http): Clara's training and datasets services in
// the embedded default (SQLite in a temp data folder) next to a plain Fastify anchor, and a
// "Nest floor" (bench/http/nest-floor.mjs: NestJS with only Clara's guard and request
// context) that shows how much of the gap is the framework itself.
//
// Per server: time from spawn to the first 200 on /health/live (a fresh data folder, then
// restarts), idle RSS, then for each route the closed-loop maximum (a few connection
// counts, the best wins) and the latency at half of that rate (fixed rate).
// During load the server is pinned to CPU 0 and this process (the load generator) to
// CPU 1, so the two do not fight over one core; the machine has 2.
//
//   node bench/http/run.mjs [--duration 6] [--warmup 2] [--levels 10,50] [--restarts 2]
//                           [--idle 4] [--fixed-connections 10] [--no-build] [--no-pin]
//                           [--only anchor,nest,training,datasets] [--json out.json]
//                           [--node-args "--max-semi-space-size=2"] [--env CLARA_LOG_FORMAT=json]
//                           [--profile DIR]
// --node-args / --env change how the Clara services run (never the anchor), to measure a
// variant against the same anchor; --profile writes a CPU profile per route (slower!).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { parse as parseYaml } from 'yaml';

import {
  build,
  claraEnv,
  machineLine,
  mainOf,
  mintToken,
  parseArgs,
  ROOT,
  snapshot,
  variant,
} from '../lib/clara.mjs';
import { maxLoad, runLoad } from '../lib/load.mjs';
import {
  freePort,
  httpGet,
  makeTempDir,
  pin,
  rssMb,
  runMain,
  sleep,
  startProcess,
  stopProcess,
  waitFor200,
} from '../lib/proc.mjs';
import { fmt, fmtInt, median, passMiss, table } from '../lib/stats.mjs';

const TARGETS = {
  authThroughputRatio: 0.5, // authenticated route ≥ 0.5 × anchor hello-world throughput
  halfLoadP99Ms: 10, // p99 < 10 ms at half the maximum rate
  startMs: 1500, // spawn → first 200 ≤ 1.5 s
  idleRssMb: 130, // idle RSS ≤ 130 MB per service
};

const options = parseArgs(process.argv.slice(2), {
  duration: 6,
  warmup: 2,
  levels: '10,50',
  restarts: 2,
  idle: 4,
  fixedConnections: 10,
  build: true,
  pin: true,
  only: 'anchor,nest,training,datasets',
  json: '',
  recheck: true,
  nodeArgs: '',
  env: '',
  profile: '',
});
const claraVariant = variant(options);
const levels = options.levels.split(',').map(Number);
const only = new Set(options.only.split(','));

await runMain(async () => {
  const startedAt = Date.now();
  const machine = machineLine();
  if (options.build) build(['training', 'datasets', 'cli']);
  snapshot(['training', 'datasets', 'cli']);

  const work = makeTempDir('clara-bench-http');
  const token = mintToken(claraEnv({ CLARA_DATA_DIR: join(work, 'token') }), 'analyst');
  const auth = { authorization: `Bearer ${token}` };
  // The anchor verifies the very same token with the same checks Clara makes.
  const dev = parseYaml(readFileSync(join(ROOT, 'config/development.yaml'), 'utf8')).auth;

  const live = { key: 'live', label: 'GET /health/live', path: '/health/live', headers: {} };
  const servers = [
    {
      key: 'anchor',
      label: 'Fastify anchor',
      args: [join(ROOT, 'bench/http/anchor.mjs')],
      env: (port) => ({
        ...process.env,
        PORT: String(port),
        ANCHOR_JWT_SECRET: dev.jwtSecret,
        ANCHOR_JWT_ISSUER: dev.issuer,
        ANCHOR_JWT_AUDIENCE: dev.audience,
      }),
      routes: [
        live,
        {
          key: 'auth',
          label: 'GET /auth (jose HS256 verify)',
          path: '/auth',
          headers: auth,
          maxOnly: true,
        },
        {
          key: 'auth-key',
          label: 'GET /auth-key (same, key imported once)',
          path: '/auth-key',
          headers: auth,
          maxOnly: true,
        },
      ],
    },
    {
      // Not a target: what NestJS itself costs with Clara's guard and request context.
      key: 'nest',
      label: 'Nest floor',
      args: [join(ROOT, 'bench/http/nest-floor.mjs')],
      env: (port) => ({ ...process.env, PORT: String(port), FLOOR_TOKEN: token }),
      routes: [
        live,
        {
          key: 'auth',
          label: 'GET /auth (guard, cached token)',
          path: '/auth',
          headers: auth,
        },
      ],
    },
    {
      key: 'training',
      label: 'Clara training',
      clara: true,
      args: claraVariant.args(mainOf('training')),
      env: (port, dataDir) =>
        claraEnv(claraVariant.env({ CLARA_DATA_DIR: dataDir, TRAINING_PORT: String(port) })),
      routes: [
        live,
        {
          key: 'auth',
          label: 'GET /api/training/status (analyst)',
          path: '/api/training/status',
          headers: auth,
        },
      ],
    },
    {
      key: 'datasets',
      label: 'Clara datasets',
      clara: true,
      args: claraVariant.args(mainOf('datasets')),
      env: (port, dataDir) =>
        claraEnv(claraVariant.env({ CLARA_DATA_DIR: dataDir, DATASETS_PORT: String(port) })),
      routes: [
        live,
        {
          key: 'auth',
          label: 'GET /api/datasets/status (analyst)',
          path: '/api/datasets/status',
          headers: auth,
        },
      ],
    },
  ].filter((s) => only.has(s.key));

  const results = [];
  for (const server of servers) {
    process.stderr.write(`\n== ${server.label}\n`);
    results.push(await measureServer(server, work));
  }
  // The machine is shared: measure the anchor once more at the end, to see how much the
  // conditions drifted while Clara was measured.
  let recheck = null;
  const anchor = results.find((r) => r.key === 'anchor');
  if (anchor && options.recheck) {
    process.stderr.write('\n== Fastify anchor again (drift check)\n');
    recheck = await recheckAnchor(servers[0], work, anchor.routes[0].max.best.connections);
  }
  report(results, { machine, seconds: (Date.now() - startedAt) / 1000, recheck });
});

async function recheckAnchor(server, work, connections) {
  const logs = makeTempDir('clara-bench-http-logs-recheck');
  const port = await freePort();
  const handle = startProcess('anchor-recheck', process.execPath, server.args, {
    env: server.env(port, join(work, 'recheck')),
    cwd: ROOT,
    logDir: logs,
  });
  const url = `http://127.0.0.1:${port}/health/live`;
  await waitFor200(url, handle);
  const pinned = options.pin && pin(handle.pid, '0') && pin(process.pid, '1');
  try {
    await runLoad({ url, connections, durationS: options.warmup });
    const run = await runLoad({
      url,
      connections,
      durationS: options.duration,
      serverPid: handle.pid,
    });
    describeRun(server.routes[0], run);
    return run;
  } finally {
    if (pinned) pin(process.pid, '0-1');
    await stopProcess(handle);
  }
}

async function measureServer(server, work) {
  const dataDir = join(work, server.key);
  const logs = makeTempDir(`clara-bench-http-logs-${server.key}`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = server.env(port, dataDir);

  // Spawn → first 200 on /health/live: once on a fresh data folder (Clara applies its
  // migrations then), then `restarts` times on the same folder; the last one stays up.
  const startsMs = [];
  let handle;
  for (let i = 0; i <= options.restarts; i++) {
    handle = startProcess(server.key, process.execPath, server.args, {
      env,
      cwd: ROOT,
      logDir: logs,
    });
    const answeredAt = await waitFor200(`${base}/health/live`, handle);
    startsMs.push(answeredAt - handle.startedAt);
    process.stderr.write(
      `  start ${i === 0 ? '(fresh)' : `(restart ${i})`}: ${fmtInt(startsMs.at(-1))} ms\n`,
    );
    if (i < options.restarts) await stopProcess(handle);
  }

  await sleep(options.idle * 1000);
  const idleRss = rssMb(handle.pid);
  process.stderr.write(`  idle RSS after ${options.idle} s: ${fmt(idleRss)} MB\n`);

  for (const route of server.routes) {
    const answer = await httpGet(base + route.path, { headers: route.headers });
    if (answer.status !== 200) {
      throw new Error(
        `${server.key} ${route.path} answered ${answer.status}: ${answer.body.slice(0, 300)}`,
      );
    }
  }

  const pinned = options.pin && pin(handle.pid, '0') && pin(process.pid, '1');
  const routes = [];
  try {
    for (const route of server.routes) {
      const url = base + route.path;
      await runLoad({
        url,
        headers: route.headers,
        connections: levels[0],
        durationS: options.warmup,
      });
      if (server.clara) claraVariant.mark(handle.pid, `${server.key}-${route.path}`);
      const max = await maxLoad({
        url,
        headers: route.headers,
        levels,
        durationS: options.duration,
        serverPid: handle.pid,
      });
      for (const run of max.runs) describeRun(route, run);
      let half = null;
      if (!route.maxOnly) {
        half = await runLoad({
          url,
          headers: route.headers,
          connections: options.fixedConnections,
          durationS: options.duration,
          rate: max.best.rps / 2,
          serverPid: handle.pid,
        });
        describeRun(route, half);
      }
      routes.push({ ...route, headers: undefined, max, half });
      // The next profile holds the next warm-up (or the idle end), not this route.
      if (server.clara) claraVariant.mark(handle.pid, `${server.key}-between-routes`);
    }
  } finally {
    if (pinned) pin(process.pid, '0-1');
  }
  const loadedRss = rssMb(handle.pid);
  await stopProcess(handle);
  return { key: server.key, label: server.label, startsMs, idleRss, loadedRss, pinned, routes };
}

function describeRun(route, run) {
  const kind = run.targetRate ? `fixed ${fmtInt(run.targetRate)}/s` : `max c=${run.connections}`;
  const problems =
    run.unexpected || run.errors || run.timeouts
      ? `  (!! ${run.unexpected} non-200 [first ${run.firstUnexpected}], ${run.errors} errors, ${run.timeouts} timeouts)`
      : '';
  process.stderr.write(
    `  ${route.label.padEnd(38)} ${kind.padEnd(16)} ${fmtInt(run.rps).padStart(7)} req/s  p50 ${fmt(run.p50, 2)} ms  p99 ${fmt(run.p99, 2)} ms  server CPU ${fmtInt(run.serverCpuUsPerRequest)} µs/req (${fmtInt(100 * run.serverCpuShare)} % of a core)${problems}\n`,
  );
}

function report(results, { machine, seconds, recheck }) {
  const anchor = results.find((r) => r.key === 'anchor');
  const anchorBest = anchor?.routes.find((r) => r.key === 'live').max.best;
  const anchorRps = anchorBest?.rps;
  const anchorCpu = anchorBest?.serverCpuUsPerRequest;
  const anchorHalfP99 = anchor?.routes.find((r) => r.key === 'live').half?.p99;
  const out = [];
  out.push(`\n# bench:http — ${new Date().toISOString()}`);
  out.push(`machine: ${machine}`);
  if (claraVariant.description) out.push(`Clara variant: ${claraVariant.description}`);
  out.push(
    `load: ${options.duration} s per phase after a ${options.warmup} s warm-up; max = best of c=${levels.join('/')} keep-alive connections; half load = fixed rate at 50 % of that max with c=${options.fixedConnections}; ${results.some((r) => r.pinned) ? 'server pinned to CPU 0, load generator to CPU 1' : 'not pinned'}; total ${fmtInt(seconds)} s`,
  );

  if (recheck && anchorRps) {
    out.push(
      `drift check: the anchor measured again at the end did ${fmtInt(recheck.rps)} req/s (${fmtInt((100 * recheck.rps) / anchorRps)} % of its first run), ${fmtInt(recheck.serverCpuUsPerRequest)} µs CPU/req (first: ${fmtInt(anchorCpu)})`,
    );
  }
  out.push('\n## Start and memory\n');
  out.push(
    table(
      [
        'server',
        'fresh start ms',
        `restart ms (median of ${options.restarts})`,
        'idle RSS MB',
        'RSS after load MB',
        '×anchor RSS',
      ],
      results.map((r) => [
        r.label,
        fmtInt(r.startsMs[0]),
        fmtInt(median(r.startsMs.slice(1))),
        fmt(r.idleRss),
        fmt(r.loadedRss),
        anchor ? fmt(r.idleRss / anchor.idleRss, 2) : '–',
      ]),
    ),
  );

  out.push('\n## Throughput and latency\n');
  const rows = [];
  for (const r of results) {
    for (const route of r.routes) {
      const best = route.max.best;
      rows.push([
        r.label,
        route.label,
        String(best.connections),
        fmtInt(best.rps),
        fmt(best.p50, 2),
        fmt(best.p99, 2),
        anchorRps ? fmt(best.rps / anchorRps, 2) : '–',
        fmtInt(best.serverCpuUsPerRequest),
        fmtInt(1e6 / best.serverCpuUsPerRequest),
        anchorCpu ? fmt(anchorCpu / best.serverCpuUsPerRequest, 2) : '–',
        route.half ? fmtInt(route.half.rps) : '–',
        route.half ? fmt(route.half.p50, 2) : '–',
        route.half ? fmt(route.half.p99, 2) : '–',
      ]);
    }
  }
  out.push(
    table(
      [
        'server',
        'route',
        'c',
        'max req/s',
        'p50 ms',
        'p99 ms',
        '×anchor req/s',
        'server CPU µs/req',
        'CPU-bound req/s (1e6/CPU µs)',
        '×anchor (CPU-bound)',
        'half-load req/s',
        'p50 ms',
        'p99 ms',
      ],
      rows,
    ),
  );

  out.push('\n## Targets (reported, not enforced)\n');
  const targetRows = [];
  for (const r of results.filter((x) => x.key !== 'anchor' && x.key !== 'nest')) {
    const authRoute = r.routes.find((x) => x.key === 'auth');
    const restart = median(r.startsMs.slice(1));
    if (anchorRps) {
      const ratio = authRoute.max.best.rps / anchorRps;
      targetRows.push([
        r.label,
        `${authRoute.label} ≥ ${TARGETS.authThroughputRatio}× anchor req/s`,
        `${fmt(ratio, 2)}×`,
        passMiss(ratio >= TARGETS.authThroughputRatio),
      ]);
      // The same comparison from CPU time per request: what one core could serve, which
      // does not depend on how much of the shared machine the server got during the run.
      const cpuRatio = anchorCpu / authRoute.max.best.serverCpuUsPerRequest;
      targetRows.push([
        r.label,
        `${authRoute.label} ≥ ${TARGETS.authThroughputRatio}× anchor, from CPU µs/req`,
        `${fmt(cpuRatio, 2)}×`,
        passMiss(cpuRatio >= TARGETS.authThroughputRatio),
      ]);
    }
    for (const route of r.routes) {
      targetRows.push([
        r.label,
        `${route.label} p99 < ${TARGETS.halfLoadP99Ms} ms at half load`,
        `${fmt(route.half.p99, 2)} ms${anchorHalfP99 ? ` (anchor: ${fmt(anchorHalfP99, 2)} ms)` : ''}`,
        passMiss(route.half.p99 < TARGETS.halfLoadP99Ms),
      ]);
    }
    targetRows.push([
      r.label,
      `restart → first 200 ≤ ${TARGETS.startMs} ms`,
      `${fmtInt(restart)} ms`,
      passMiss(restart <= TARGETS.startMs),
    ]);
    targetRows.push([
      r.label,
      `fresh start (migrations) → first 200 ≤ ${TARGETS.startMs} ms`,
      `${fmtInt(r.startsMs[0])} ms`,
      passMiss(r.startsMs[0] <= TARGETS.startMs),
    ]);
    targetRows.push([
      r.label,
      `idle RSS ≤ ${TARGETS.idleRssMb} MB`,
      `${fmt(r.idleRss)} MB`,
      passMiss(r.idleRss <= TARGETS.idleRssMb),
    ]);
  }
  out.push(table(['server', 'target', 'measured', 'result'], targetRows));

  const problems = results.flatMap((r) =>
    r.routes.flatMap((route) =>
      [...route.max.runs, route.half]
        .filter(Boolean)
        .filter((run) => run.unexpected || run.errors || run.timeouts)
        .map(
          (run) =>
            `${r.label} ${route.label} c=${run.connections}: ${run.unexpected} non-200, ${run.errors} errors, ${run.timeouts} timeouts`,
        ),
    ),
  );
  if (problems.length) out.push(`\nWARNING — failed requests during load:\n${problems.join('\n')}`);
  process.stdout.write(`${out.join('\n')}\n`);

  if (options.json) {
    writeFileSync(
      options.json,
      JSON.stringify({ machine, options, targets: TARGETS, results }, null, 2),
    );
    process.stderr.write(`\nraw results written to ${options.json}\n`);
  }
}
