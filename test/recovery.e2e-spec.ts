import { afterEach, describe, expect, it } from '@jest/globals';

import { TrainingAppModule } from '../apps/training/src/training-app.module.js';
import { startTestApp, type TestApp } from './support/apps.js';
import { testEngines } from './support/databases.js';
import { hs256Token } from './support/tokens.js';
import { fixtureWorkerEnv, type JobBody, waitForJob, writeTrainFile } from './support/training.js';
import { WorkerProcess } from './support/worker-process.js';

const JOBS = '/api/training/jobs';

interface EventBody {
  type: string;
  data: Record<string, unknown>;
}

/**
 * Standalone worker processes dying and stopping under a running job: kill -9 (lease
 * expiry → requeue → resume from checkpoint elsewhere), attempts exhausted, and a clean
 * SIGTERM shutdown that hands the job back.
 */
describe.each(testEngines())('job recovery with real worker processes on %s', (engine) => {
  let t: TestApp;
  const workers: WorkerProcess[] = [];
  let token: string;

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop('SIGKILL')));
    await t.close();
  });

  const start = async (maxAttempts: number) => {
    const env = fixtureWorkerEnv({
      CLARA_JOB_LEASE_SECONDS: '2',
      CLARA_JOB_MAX_ATTEMPTS: String(maxAttempts),
      CLARA_WORKER_GPUS: '0',
    });
    t = await startTestApp({
      service: 'training',
      engine,
      env: { ...env, CLARA_WORKER_EMBEDDED: 'false' },
      rootModule: (config) => TrainingAppModule.forRoot(config),
    });
    token = await hs256Token({ sub: 'alice', roles: ['admin'] });
    return { ...env, ...t.database.env };
  };

  const worker = async (id: string, env: Record<string, string>) => {
    const w = new WorkerProcess(id, env);
    workers.push(w);
    await w.ready();
    return w;
  };

  const submitSlowJob = async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: JOBS,
      headers: { authorization: `Bearer ${token}` },
      payload: {
        base_model: 'fixture/slow',
        data: { train_file: writeTrainFile(t.config.dataDir) },
        gpus: 1,
        hyperparameters: { max_steps: 40 },
      },
    });
    expect(res.statusCode).toBe(201);
    return res.json<JobBody>().id;
  };

  const events = async (id: string) =>
    (
      await t.app.inject({
        method: 'GET',
        url: `${JOBS}/${id}/events?limit=1000`,
        headers: { authorization: `Bearer ${token}` },
      })
    ).json<{
      data: EventBody[];
    }>().data;

  const waitForCheckpoint = async (id: string) => {
    for (let i = 0; i < 400; i++) {
      const job = (
        await t.app.inject({
          method: 'GET',
          url: `${JOBS}/${id}`,
          headers: { authorization: `Bearer ${token}` },
        })
      ).json<{
        progress: { step: number } | null;
      }>();
      if ((job.progress?.step ?? 0) >= 7) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('no checkpoint');
  };

  it('re-queues the job of a kill -9ed worker and resumes it on another worker from its checkpoint', async () => {
    const env = await start(3);
    const a = await worker('worker-a', env);
    const id = await submitSlowJob();
    await waitForCheckpoint(id);
    await a.stop('SIGKILL');
    await worker('worker-b', env);
    const job = await waitForJob(
      t.app.inject.bind(t.app),
      token,
      id,
      ['succeeded', 'failed'],
      40_000,
    );
    expect(job).toMatchObject({
      status: 'succeeded',
      worker_id: 'worker-b',
      attempts: 2,
      resume_checkpoint: expect.stringContaining('checkpoint-5'),
    });
    const history = await events(id);
    expect(history).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          type: 'status',
          data: expect.objectContaining({ status: 'queued', reason: 'worker_lost' }),
        }),
        expect.objectContaining({
          type: 'status',
          data: expect.objectContaining({ phase: 'resumed', from_step: 5 }),
        }),
      ]),
    );
    // After the resume, progress continues from step 6: nothing was trained twice from scratch.
    const resumedAt = history.findIndex((e) => e.data.phase === 'resumed');
    expect(history.slice(resumedAt).find((e) => e.type === 'progress')?.data.step).toBe(6);
  });

  it('fails the job with the reason once its attempts are used up', async () => {
    const env = await start(1);
    const a = await worker('worker-a', env);
    const id = await submitSlowJob();
    await waitForCheckpoint(id);
    await a.stop('SIGKILL');
    // No other worker: the training service's own sweeper must notice the expired lease.
    const job = await waitForJob(
      t.app.inject.bind(t.app),
      token,
      id,
      ['failed', 'succeeded'],
      20_000,
    );
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'worker_lost' } });
  });

  it('on SIGTERM a worker checkpoints, hands the job back, and another worker resumes it', async () => {
    const env = await start(1);
    const a = await worker('worker-a', env);
    const id = await submitSlowJob();
    await waitForCheckpoint(id);
    await a.stop('SIGTERM');
    const handedBack = (
      await t.app.inject({
        method: 'GET',
        url: `${JOBS}/${id}`,
        headers: { authorization: `Bearer ${token}` },
      })
    ).json<JobBody>();
    expect(handedBack).toMatchObject({ status: 'queued', attempts: 0, worker_id: null });
    const workersAfter = (
      await t.app.inject({
        method: 'GET',
        url: '/api/training/workers',
        headers: { authorization: `Bearer ${token}` },
      })
    ).json<{ id: string; status: string }[]>();
    expect(workersAfter).toEqual([expect.objectContaining({ id: 'worker-a', status: 'offline' })]);
    await worker('worker-b', env);
    // max_attempts is 1: a clean hand-back did not use up the job's only attempt.
    const job = await waitForJob(
      t.app.inject.bind(t.app),
      token,
      id,
      ['succeeded', 'failed'],
      30_000,
    );
    expect(job).toMatchObject({ status: 'succeeded', worker_id: 'worker-b', attempts: 1 });
    expect(job.resume_checkpoint).toEqual(expect.stringContaining('checkpoint-'));
  });
});
