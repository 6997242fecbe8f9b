#!/usr/bin/env node
// `npm start`: builds Clara and runs both services on the embedded default (SQLite under
// ./data, worker inside the training service). Ctrl-C stops both.
import { spawn, spawnSync } from 'node:child_process';

const services = [
  ['training', 'dist/apps/training/apps/training/src/main.js'],
  ['datasets', 'dist/apps/datasets/apps/datasets/src/main.js'],
];

for (const app of ['training', 'datasets', 'cli']) {
  const build = spawnSync('npx', ['nest', 'build', app], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
// Migrate once up front so the two services never start on a half-migrated file.
const migrate = spawnSync('node', ['dist/apps/cli/apps/cli/src/main.js', 'migrate'], {
  stdio: 'inherit',
});
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

const children = services.map(([name, entry]) => {
  const child = spawn(process.execPath, ['--enable-source-maps', entry], { stdio: 'inherit' });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${name} service exited (${signal ?? code}); stopping Clara`);
      stop(code ?? 1);
    }
  });
  return child;
});

let stopping = false;
function stop(code = 0) {
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  Promise.all(
    children.map((c) => (c.exitCode === null ? new Promise((r) => c.on('exit', r)) : null)),
  ).then(() => process.exit(code));
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
