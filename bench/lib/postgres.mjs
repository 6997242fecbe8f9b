// A throw-away PostgreSQL database for a benchmark, on the test backend server.
//
// Uses the server test/backends/start.sh runs (its URL is a superuser's): an already running
// one is reused and left running; otherwise this starts one and stops it again at clean-up.
// Either way the benchmark gets its own fresh database, dropped at clean-up.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import pg from 'pg';

import { ROOT } from './clara.mjs';
import { onCleanup } from './proc.mjs';

const STATE_ENV = join(ROOT, 'test/backends/.state/env');

function urlFromState() {
  if (!existsSync(STATE_ENV)) return null;
  const match = readFileSync(STATE_ENV, 'utf8').match(/^export TEST_POSTGRES_URL=(\S+)$/m);
  return match ? match[1] : null;
}

async function reachable(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Returns { url, adminUrl, name, serverStartedHere } for a fresh database. `superuserUrl`
 * (optional) skips the test backends and uses that server instead.
 */
export async function freshDatabase(prefix, superuserUrl) {
  let adminUrl = superuserUrl || urlFromState();
  let serverStartedHere = false;
  if (!adminUrl || !(await reachable(adminUrl))) {
    if (superuserUrl) throw new Error('the given PostgreSQL URL does not answer');
    process.stderr.write('starting PostgreSQL with test/backends/start.sh postgres…\n');
    execFileSync('bash', [join(ROOT, 'test/backends/start.sh'), 'postgres'], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    serverStartedHere = true;
    onCleanup(() => {
      execFileSync('bash', [join(ROOT, 'test/backends/stop.sh'), 'postgres'], {
        cwd: ROOT,
        stdio: ['ignore', 'inherit', 'inherit'],
      });
    });
    adminUrl = urlFromState();
    if (!adminUrl || !(await reachable(adminUrl))) throw new Error('PostgreSQL did not come up');
  }

  const name = `${prefix}_${Date.now()}_${process.pid}`.replace(/[^a-z0-9_]/g, '_');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  onCleanup(async () => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await client.end();
    }
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), adminUrl, name, serverStartedHere };
}

/** A connected client for `url`; closed at clean-up if the caller has not closed it. */
export async function connect(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let ended = false;
  const end = client.end.bind(client);
  client.end = async () => {
    if (ended) return;
    ended = true;
    await end();
  };
  onCleanup(() => client.end());
  return client;
}
