import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { TrainingAppModule } from '../../apps/training/src/training-app.module.js';
import { startTestApp, type TestApp } from './apps.js';
import type { Engine } from './databases.js';

export const FIXTURE_TRAINER = resolve(
  import.meta.dirname,
  '../fixtures/trainers/fixture-trainer.mjs',
);

/** Worker settings for fast tests: the fixture trainer, two fake GPUs, quick loops. */
export function fixtureWorkerEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    CLARA_TRAINER_COMMAND: JSON.stringify([process.execPath, FIXTURE_TRAINER]),
    CLARA_WORKER_GPUS: '0,1',
    CLARA_WORKER_SLOTS: '2',
    CLARA_WORKER_HEARTBEAT_MS: '200',
    CLARA_WORKER_POLL_MS: '100',
    CLARA_WORKER_KILL_GRACE_SECONDS: '1',
    CLARA_JOB_LEASE_SECONDS: '5',
    ...overrides,
  };
}

export function startTrainingApp(
  engine: Engine,
  env: Record<string, string> = {},
): Promise<TestApp> {
  return startTestApp({
    service: 'training',
    engine,
    env: fixtureWorkerEnv(env),
    rootModule: (config) => TrainingAppModule.forRoot(config),
  });
}

/** Writes a small chat JSONL under the data folder; returns its data-relative path. */
export function writeTrainFile(dataDir: string, name = 'train.jsonl'): string {
  mkdirSync(join(dataDir, 'files'), { recursive: true });
  const record = {
    messages: [
      { role: 'user', content: 'Hallo?' },
      { role: 'assistant', content: 'Grüß Gott!' },
    ],
  };
  writeFileSync(join(dataDir, 'files', name), `${JSON.stringify(record)}\n`.repeat(4));
  return `files/${name}`;
}

export interface JobBody {
  id: string;
  status: string;
  [key: string]: unknown;
}

type Inject = TestApp['app']['inject'];

/** Polls a job until it reaches one of `statuses`. */
export async function waitForJob(
  inject: Inject,
  token: string,
  id: string,
  statuses: string[],
  timeoutMs = 20_000,
  url = '/api/training/jobs',
): Promise<JobBody> {
  const deadline = Date.now() + timeoutMs;
  let last: JobBody | undefined;
  while (Date.now() < deadline) {
    const res = await inject({
      method: 'GET',
      url: `${url}/${id}`,
      headers: { authorization: `Bearer ${token}` },
    });
    last = res.json<JobBody>();
    if (statuses.includes(last.status)) return last;
    await sleep(50);
  }
  throw new Error(
    `job ${id} did not reach ${statuses.join('/')} in ${timeoutMs} ms; last: ${JSON.stringify(last)}`,
  );
}
