// How the benchmarks build, configure and start Clara's deployables.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { onCleanup } from './proc.mjs';

/** The repository root (bench/lib/../..). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export const FIXTURE_TRAINER = join(ROOT, 'test/fixtures/trainers/fixture-trainer.mjs');

const snapshots = new Map();

/**
 * dist/apps/<app>/apps/<app>/src/main.js, as `nest build <app>` writes it (swc builder) — or
 * the same file in this run's snapshot of the build (see snapshot()).
 */
export function mainOf(app) {
  return join(snapshots.get(app) ?? join(ROOT, 'dist/apps', app), 'apps', app, 'src/main.js');
}

/**
 * Copies the built apps to dist/.bench-<pid>/ and runs them from there, so that a rebuild by
 * someone else working in the same tree (tests rebuild the CLI, for instance) cannot swap
 * files under a process that is starting. Removed at clean-up; node_modules still resolve
 * from the repository root.
 */
export function snapshot(apps) {
  const base = join(ROOT, 'dist', `.bench-${process.pid}`);
  onCleanup(() => rmSync(base, { recursive: true, force: true }));
  for (const app of apps) {
    const target = join(base, app);
    cpSync(join(ROOT, 'dist/apps', app), target, { recursive: true });
    snapshots.set(app, target);
  }
}

/** `nest build <app>` for each app, so the numbers belong to the code in this tree. */
export function build(apps) {
  for (const app of apps) {
    process.stderr.write(`building ${app}…\n`);
    execFileSync(join(ROOT, 'node_modules/.bin/nest'), ['build', app], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
}

// Variables that configure Clara (libs/config/src/env-mapping.ts) or its tests: none of the
// caller's may leak into a benchmark's services.
const CLARA_VARIABLE =
  /^(CLARA_|TRAINING_PORT$|DATASETS_PORT$|WORKER_HEALTH_PORT$|DATABASE_URL$|DATABASE_POOL_SIZE$|CHROMA_|NEO4J_|COUCHDB_|TEST_)/;

/** The environment for a Clara process: the caller's minus Clara's variables, plus `vars`. */
export function claraEnv(vars) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!CLARA_VARIABLE.test(key) && key !== 'NODE_OPTIONS') env[key] = value;
  }
  return {
    ...env,
    CLARA_ENVIRONMENT: 'development',
    CLARA_LOG_LEVEL: 'warn',
    ...vars,
  };
}

/** A development HS256 token from the CLI (`token --role <role> --sub bench`). */
export function mintToken(env, role) {
  return execFileSync(
    process.execPath,
    [mainOf('cli'), 'token', '--role', role, '--sub', 'bench', '--ttl', '2h'],
    { cwd: ROOT, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  ).trim();
}

/** `cli migrate` against the configured database. */
export function migrate(env) {
  return execFileSync(process.execPath, [mainOf('cli'), 'migrate'], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/** One line about the machine and how busy it is, printed with every result. */
export function machineLine() {
  const cpuList = cpus();
  const [one, five] = loadavg();
  return `${cpuList.length} × ${cpuList[0]?.model ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; load average ${one.toFixed(2)} (1 min) / ${five.toFixed(2)} (5 min) at start`;
}

/** Parses `--name value` / `--flag` arguments against defaults (numbers stay numbers). */
export function parseArgs(argv, defaults) {
  const options = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const key = arg.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (key.startsWith('no') && key.length > 2) {
      const positive = key[2].toLowerCase() + key.slice(3);
      if (typeof defaults[positive] === 'boolean') {
        options[positive] = false;
        continue;
      }
    }
    if (!(key in defaults)) throw new Error(`unknown option ${arg}`);
    if (typeof defaults[key] === 'boolean') {
      options[key] = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new Error(`${arg} needs a value`);
    options[key] = typeof defaults[key] === 'number' ? Number(value) : value;
    if (typeof defaults[key] === 'number' && !Number.isFinite(options[key])) {
      throw new Error(`${arg} needs a number`);
    }
  }
  return options;
}

const PROFILE_PRELOAD = join(ROOT, 'bench/lib/cpu-profile-preload.mjs');

/**
 * How to start a Clara process with the variant options every benchmark accepts:
 * `--node-args "--max-semi-space-size=2"` (node flags), `--env KEY=VALUE,KEY=VALUE` (extra
 * Clara settings) and `--profile DIR` (CPU profiles, see cpu-profile-preload.mjs).
 */
export function variant({ nodeArgs = '', env = '', profile = '' }) {
  const profileDir = profile ? resolve(profile) : '';
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const extraEnv = Object.fromEntries(
    env
      .split(',')
      .filter(Boolean)
      .map((pair) => {
        const at = pair.indexOf('=');
        if (at < 1) throw new Error(`--env wants KEY=VALUE pairs, got ${pair}`);
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
  );
  return {
    extraEnv,
    description: [
      nodeArgs && `node ${nodeArgs}`,
      env && `env ${env}`,
      profile && `profiling to ${profileDir}`,
    ]
      .filter(Boolean)
      .join('; '),
    args: (main) => [
      ...nodeArgs.split(' ').filter(Boolean),
      ...(profileDir ? ['--import', PROFILE_PRELOAD] : []),
      main,
    ],
    env: (vars) => ({
      ...vars,
      ...extraEnv,
      ...(profileDir ? { BENCH_CPU_PROFILE_DIR: profileDir } : {}),
    }),
    /** Starts a new CPU profile named `label` in the process (writes the previous one). */
    mark(pid, label) {
      if (!profileDir) return;
      writeFileSync(join(profileDir, 'label'), label);
      process.kill(pid, 'SIGWINCH');
    },
  };
}
