// Small helpers for the corpus benchmark (kept here so it does not depend on other benches' internals).
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function build(apps) {
  for (const app of apps) {
    process.stderr.write(`building ${app}…\n`);
    execFileSync(join(ROOT, 'node_modules/.bin/nest'), ['build', app], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
}

export function machineLine() {
  return `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`;
}

export function makeTempDirSafe(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** `--name value`, `--no-name`; numbers stay numbers; dashed names become camelCase. */
export function parseArgsSafe(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const raw = arg.slice(2);
    if (raw.startsWith('no-')) {
      out[camel(raw.slice(3))] = false;
      continue;
    }
    const key = camel(raw);
    if (!(key in defaults)) throw new Error(`unknown option --${raw}`);
    const value = argv[++i];
    out[key] = typeof defaults[key] === 'number' ? Number(value) : value;
  }
  return out;
}

function camel(name) {
  return name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
}
