import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

import { describe, expect, it } from '@jest/globals';
import { jwtVerify } from 'jose';
import { DEVELOPMENT_JWT_SECRET } from '@clara/config';

import { WorkerProcess } from './support/worker-process.js';

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, '../dist/apps/cli/apps/cli/src/main.js');

/** The CLI and the standalone worker, run as a user runs them: real processes, real exit codes. */
describe('developer CLI', () => {
  const cli = (args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, [CLI, ...args], {
      env: {
        PATH: process.env.PATH,
        CLARA_DATA_DIR: mkdtempSync(join(tmpdir(), 'clara-cli-')),
        ...env,
      },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({
        code: error.code,
        stdout: error.stdout,
        stderr: error.stderr,
      }),
    );

  it('mints a development token that the services accept', async () => {
    const { code, stdout } = await cli([
      'token',
      '--role',
      'trainer',
      '--role',
      'analyst',
      '--sub',
      'alice',
      '--ttl',
      '2h',
    ]);
    expect(code).toBe(0);
    const { payload, protectedHeader } = await jwtVerify(
      stdout.trim(),
      new TextEncoder().encode(DEVELOPMENT_JWT_SECRET),
      {
        issuer: 'clara-development',
        audience: 'clara',
      },
    );
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload).toMatchObject({
      sub: 'alice',
      realm_access: { roles: ['trainer', 'analyst'] },
    });
    expect(payload.exp! - payload.iat!).toBe(7200);
  });

  it('refuses unknown roles and production', async () => {
    expect((await cli(['token', '--role', 'root'])).code).toBe(64);
    const production = await cli(['token', '--role', 'admin'], {
      CLARA_ENVIRONMENT: 'production',
      CLARA_JWT_SECRET: 'p'.repeat(40),
      CLARA_ALLOW_SQLITE_IN_PRODUCTION: 'true',
    });
    expect(production.code).toBe(64);
    expect(production.stderr).toContain('production');
  });

  it('prints the effective configuration with secrets redacted', async () => {
    const { code, stdout } = await cli(['config'], {
      CLARA_JWT_SECRET: 'very-secret-value-123',
      DATABASE_URL: 'postgres://clara:hunter2@db:5432/clara',
    });
    expect(code).toBe(0);
    const printed = JSON.parse(stdout) as {
      auth: { jwtSecret: string };
      database: { url: string };
    };
    expect(printed.auth.jwtSecret).toBe('[redacted]');
    expect(printed.database.url).toBe('postgres://clara:[redacted]@db:5432/clara');
    expect(stdout).not.toContain('hunter2');
  });

  it('stops on invalid configuration with every bad key and exit code 78', async () => {
    const { code, stderr } = await cli(['config'], {
      CLARA_ENVIRONMENT: 'production',
      TRAINING_PORT: 'x',
    });
    expect(code).toBe(78);
    expect(stderr).toContain('http.trainingPort (TRAINING_PORT)');
    expect(stderr).toContain('auth.jwtSecret');
  });

  it('applies migrations once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'clara-migrate-'));
    const first = await cli(['migrate'], { CLARA_DATA_DIR: dataDir });
    const second = await cli(['migrate'], { CLARA_DATA_DIR: dataDir });
    expect(first.stdout).toMatch(/^sqlite: applied /);
    expect(second.stdout).toBe('sqlite: up to date\n');
  });
});

describe('standalone worker process', () => {
  const freePort = () =>
    new Promise<number>((resolvePort) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolvePort(port));
      });
    });

  it('serves its health port, registers, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const worker = new WorkerProcess('health-check', {
      CLARA_DATA_DIR: mkdtempSync(join(tmpdir(), 'clara-worker-')),
      WORKER_HEALTH_PORT: String(port),
      CLARA_WORKER_GPUS: 'none',
    });
    try {
      await worker.ready();
      expect(await (await fetch(`http://127.0.0.1:${port}/health/live`)).json()).toEqual({
        status: 'ok',
      });
      const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({
        status: 'ok',
        details: { database: { status: 'up' } },
      });
      await worker.stop('SIGTERM');
      // Nest re-raises the signal after its shutdown hooks have run.
      expect(worker.child.exitCode === 0 || worker.child.signalCode === 'SIGTERM').toBe(true);
      expect(worker.output).toContain('worker health-check stopped');
    } finally {
      await worker.stop('SIGKILL');
    }
  });
});
