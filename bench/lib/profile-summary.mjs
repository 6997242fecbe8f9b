#!/usr/bin/env node
// Summarises a .cpuprofile: self time by package (node_modules/<pkg>, clara:<lib>, node:…)
// and by function, and — with --match REGEX — inclusive time of the matching functions.
//
//   node bench/lib/profile-summary.mjs FILE.cpuprofile [--top 25] [--match 'verify|find']
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args[0];
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
if (!file) {
  process.stderr.write('usage: profile-summary.mjs FILE.cpuprofile [--top N] [--match REGEX]\n');
  process.exit(64);
}
const top = Number(option('top', 25));
const match = option('match', null);

const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);

const selfTime = new Map();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i + 1] ?? 0;
  total += dt;
  selfTime.set(profile.samples[i], (selfTime.get(profile.samples[i]) ?? 0) + dt);
}

function packageOf(url, name) {
  if (!url) return `(${name})`;
  const pkg = url.match(/node_modules\/((@[^/]+\/)?[^/]+)/);
  if (pkg) return pkg[1];
  const clara = url.match(/\/dist\/apps\/[^/]+\/(libs|apps)\/([^/]+)/);
  if (clara) return `clara:${clara[1]}/${clara[2]}`;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/').slice(0, 2).join('/')}`;
  return url;
}
const functionKey = (n) =>
  `${n.callFrame.functionName || '(anonymous)'} ${(n.callFrame.url || '').replace(/.*\/(node_modules|dist)\//, '')}:${n.callFrame.lineNumber + 1}`;

const byPackage = new Map();
const byFunction = new Map();
const inclusive = new Map();
const pattern = match ? new RegExp(match) : null;
for (const [id, dt] of selfTime) {
  const n = nodes.get(id);
  const pkg = packageOf(n.callFrame.url, n.callFrame.functionName);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + dt);
  byFunction.set(functionKey(n), (byFunction.get(functionKey(n)) ?? 0) + dt);
  if (pattern) {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const key = functionKey(nodes.get(cur));
      if (!seen.has(key) && pattern.test(key)) {
        seen.add(key);
        inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
      }
    }
  }
}

const idle = selfTime.size
  ? [...selfTime]
      .filter(([id]) => nodes.get(id).callFrame.functionName === '(idle)')
      .reduce((s, [, dt]) => s + dt, 0)
  : 0;
const busy = total - idle;
const list = (map) =>
  [...map]
    .filter(([key]) => key !== '((idle))' && !key.startsWith('(idle)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, dt]) => `${((100 * dt) / busy).toFixed(1).padStart(6)} %  ${key}`)
    .join('\n');

process.stdout.write(
  `${file}\nprofiled ${(total / 1e6).toFixed(2)} s, busy ${(busy / 1e6).toFixed(2)} s (${((100 * busy) / total).toFixed(0)} %); shares below are of the busy time\n\n` +
    `self time by package\n${list(byPackage)}\n\nself time by function\n${list(byFunction)}\n` +
    (pattern ? `\ninclusive time of functions matching /${match}/\n${list(inclusive)}\n` : ''),
);
