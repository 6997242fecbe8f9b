// Child processes, temp folders and clean-up for the benchmarks.
//
// Every process a benchmark starts goes through startProcess(): it is spawned in its own
// process group (so a stop also reaches anything it started), its output goes to a log file
// in a temp folder, and it is remembered so that cleanup() — called from `finally`, from
// SIGINT/SIGTERM and, as a last resort, synchronously on exit — stops it. Only processes this
// module started are ever signalled, always by their own id.
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const children = new Set();
const history = [];
const tempDirs = new Set();
const cleanupHooks = [];
let cleaning = null;
let handlersInstalled = false;

export { sleep };

/** A fresh folder under the OS temp folder, removed by cleanup(). */
export function makeTempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

/** An async function run by cleanup() before processes are stopped (e.g. drop a database). */
export function onCleanup(hook) {
  cleanupHooks.push(hook);
}

/**
 * Spawns `command args` (never through a shell) in its own process group.
 * Returns a handle: { child, pid, name, logPath, startedAt (performance.now()), exited }.
 */
export function startProcess(name, command, args, { env, cwd, logDir }) {
  installSignalHandlers();
  const logPath = join(logDir, `${name}.${Date.now()}.log`);
  const fd = openSync(logPath, 'a');
  const startedAt = performance.now();
  const child = spawn(command, args, {
    cwd,
    env,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const handle = { child, pid: child.pid, name, logPath, startedAt, exitCode: undefined };
  handle.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      handle.exitCode = code ?? signal;
      children.delete(handle);
      resolve({ code, signal });
    });
    child.once('error', (error) => {
      handle.exitCode = `spawn error: ${error.message}`;
      children.delete(handle);
      resolve({ code: null, signal: null, error });
    });
  });
  children.add(handle);
  history.push(handle);
  return handle;
}

/** SIGTERM to the process group, SIGKILL after `graceMs`; resolves when it has exited. */
export async function stopProcess(handle, graceMs = 8000) {
  if (handle.exitCode !== undefined) return;
  signalGroup(handle, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(handle, 'SIGKILL'), graceMs);
  await handle.exited;
  clearTimeout(timer);
  // Anything the process left in its group (it should have taken its children with it).
  signalGroup(handle, 'SIGKILL');
}

function signalGroup(handle, signal) {
  try {
    process.kill(-handle.pid, signal);
  } catch {
    // already gone
  }
}

export function logTail(handle, lines = 30) {
  try {
    return readFileSync(handle.logPath, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** GET url once; resolves { status, body } or rejects (connection refused, timeout). */
export function httpGet(url, { headers = {}, timeoutMs = 2000 } = {}) {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers, agent: false, timeout: timeoutMs }, (response) => {
      const chunks = [];
      response.on('data', (c) => chunks.push(c));
      response.on('end', () =>
        resolve({ status: response.statusCode, body: Buffer.concat(chunks).toString('utf8') }),
      );
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
  });
}

/** One HTTP request with a JSON body; resolves { status, body (parsed when JSON) }. */
export function httpJson(method, url, { headers = {}, body, timeoutMs = 10_000 } = {}) {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method,
        agent: false,
        timeout: timeoutMs,
        headers: {
          ...headers,
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': payload.length }
            : {}),
        },
      },
      (response) => {
        const chunks = [];
        response.on('data', (c) => chunks.push(c));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: response.statusCode, body: parsed });
        });
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
    request.end(payload);
  });
}

/**
 * Polls `url` every `intervalMs` until it answers 200; returns performance.now() of that
 * answer. Fails if the process exits first or `timeoutMs` passes.
 */
export async function waitFor200(url, handle, { timeoutMs = 30_000, intervalMs = 5 } = {}) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (handle && handle.exitCode !== undefined) {
      throw new Error(
        `${handle.name} exited (${handle.exitCode}) before answering:\n${logTail(handle)}`,
      );
    }
    try {
      const { status } = await httpGet(url, { timeoutMs: 500 });
      if (status === 200) return performance.now();
    } catch {
      // not listening yet
    }
    await sleep(intervalMs);
  }
  throw new Error(
    `${url} did not answer 200 within ${timeoutMs} ms${handle ? `:\n${logTail(handle)}` : ''}`,
  );
}

/** Resident set size of a process in MB (VmRSS from /proc/<pid>/status). */
export function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
  return match ? Number(match[1]) / 1024 : NaN;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Pins every thread of `pid` to the given CPU list (e.g. "0"); false if taskset is missing. */
export function pin(pid, cpus) {
  const result = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
  return result.status === 0;
}

/**
 * Processes whose command line mentions `needle` (e.g. a run's temp folder): the trainers a
 * worker spawned in their own process groups. Used to make sure none outlives a benchmark.
 */
export function pidsMentioning(needle) {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(needle)) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** Stops every process this module started, runs the hooks, removes the temp folders. */
export function cleanup() {
  cleaning ??= (async () => {
    await Promise.all([...children].map((handle) => stopProcess(handle, 5000)));
    for (const hook of cleanupHooks.splice(0).reverse()) {
      try {
        await hook();
      } catch (error) {
        process.stderr.write(`clean-up step failed: ${error.message}\n`);
      }
    }
    for (const dir of tempDirs) {
      for (const pid of pidsMentioning(dir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    removeTempDirs();
  })();
  return cleaning;
}

function removeTempDirs() {
  for (const dir of tempDirs) {
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
}

function installSignalHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping benchmark processes…\n`);
      const force = setTimeout(() => process.exit(130), 15_000);
      force.unref();
      void cleanup().finally(() => process.exit(130));
    });
  }
  // Last resort (e.g. process.exit from somewhere): no awaiting possible here.
  process.once('exit', () => {
    for (const handle of children) signalGroup(handle, 'SIGKILL');
    try {
      removeTempDirs();
    } catch {
      // best effort
    }
  });
}

/** Runs `main`, always cleaning up; exits non-zero on error. */
export async function runMain(main) {
  installSignalHandlers();
  let failed = false;
  try {
    await main();
  } catch (error) {
    failed = true;
    process.stderr.write(`\nbenchmark failed: ${error.stack ?? error}\n`);
    // The logs go with the temp folders: show the end of each before they do.
    for (const handle of history.slice(-12)) {
      process.stderr.write(
        `\n--- ${handle.name} (pid ${handle.pid}, exit ${handle.exitCode ?? 'running'}): last lines of its log\n${logTail(handle, 15)}\n`,
      );
    }
  } finally {
    await cleanup();
  }
  process.exit(failed ? 1 : 0);
}

let clockTicks;
/** CPU time (user + system, all threads) a process has used so far, in seconds. */
export function cpuSeconds(pid) {
  clockTicks ??= (() => {
    try {
      return Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
    } catch {
      return 100;
    }
  })();
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}
