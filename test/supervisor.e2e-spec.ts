import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { type TestApp } from './support/apps.js';
import { hs256Token } from './support/tokens.js';
import { type JobBody, startTrainingApp, waitForJob, writeTrainFile } from './support/training.js';

const JOBS = '/api/training/jobs';

interface EventBody {
  seq: number;
  type: string;
  data: Record<string, unknown>;
}

/** The worker supervising real trainer processes (fixture trainers that speak the protocol). */
describe('trainer supervision', () => {
  let t: TestApp;
  let alice: string;
  let trainFile: string;

  beforeAll(async () => {
    t = await startTrainingApp('sqlite', { CLARA_WORKER_SLOTS: '4', CLARA_WORKER_GPUS: '0,1,2,3' });
    trainFile = writeTrainFile(t.config.dataDir);
    alice = await hs256Token({ sub: 'alice', roles: ['trainer'] });
  });
  afterAll(() => t.close());

  const run = async (
    behaviour: string,
    extra: Record<string, unknown> = {},
    until = ['succeeded', 'failed', 'cancelled'],
  ) => {
    const res = await t.app.inject({
      method: 'POST',
      url: JOBS,
      headers: { authorization: `Bearer ${alice}` },
      payload: {
        base_model: `fixture/${behaviour}`,
        data: { train_file: trainFile },
        gpus: 0,
        ...extra,
      },
    });
    expect(res.statusCode).toBe(201);
    const job = await waitForJob(
      t.app.inject.bind(t.app),
      alice,
      res.json<JobBody>().id,
      until,
      30_000,
    );
    const events = (
      await t.app.inject({
        method: 'GET',
        url: `${JOBS}/${job.id}/events?limit=1000`,
        headers: { authorization: `Bearer ${alice}` },
      })
    ).json<{ data: EventBody[] }>().data;
    return { job, events };
  };

  it('maps a crash to a failed job with the exit code, keeping the events before it', async () => {
    const { job, events } = await run('crash');
    expect(job).toMatchObject({
      status: 'failed',
      error: { code: 'trainer_crashed', exit_code: 17 },
    });
    expect(events.some((e) => e.type === 'progress')).toBe(true);
    expect(
      events.some((e) => e.type === 'log' && String(e.data.line).includes('Segmentation fault')),
    ).toBe(true);
  });

  it('keeps garbage on stdout as log lines and still succeeds', async () => {
    const { job, events } = await run('garbage');
    expect(job.status).toBe('succeeded');
    const stdoutLines = events
      .filter((e) => e.type === 'log' && e.data.stream === 'stdout')
      .map((e) => e.data.line);
    expect(stdoutLines).toEqual([
      'this is not json',
      '{"type":"metric"}',
      '{"type":"unknown","x":1}',
      '[1,2,3]',
      '{not json at all',
    ]);
    expect(events.filter((e) => e.type === 'metric')).toHaveLength(1);
  });

  it('SIGKILLs a trainer that ignores SIGTERM once the grace period is over', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: JOBS,
      headers: { authorization: `Bearer ${alice}` },
      payload: { base_model: 'fixture/ignore-sigterm', data: { train_file: trainFile }, gpus: 0 },
    });
    const id = res.json<JobBody>().id;
    for (let i = 0; i < 200; i++) {
      const job = (
        await t.app.inject({
          method: 'GET',
          url: `${JOBS}/${id}`,
          headers: { authorization: `Bearer ${alice}` },
        })
      ).json<{
        progress: unknown;
      }>();
      if (job.progress) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const started = Date.now();
    await t.app.inject({
      method: 'POST',
      url: `${JOBS}/${id}/cancel`,
      headers: { authorization: `Bearer ${alice}` },
    });
    const job = await waitForJob(
      t.app.inject.bind(t.app),
      alice,
      id,
      ['cancelled', 'failed'],
      15_000,
    );
    expect(job).toMatchObject({ status: 'cancelled', error: { exit_code: null } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // the 1 s grace period was honoured
    const log = (
      await t.app.inject({
        method: 'GET',
        url: `${JOBS}/${id}/logs`,
        headers: { authorization: `Bearer ${alice}` },
      })
    ).json<{ text: string }>();
    expect(log.text).toContain('ignoring SIGTERM');
  });

  it('enforces the time limit the same way and fails the job with the reason', async () => {
    const { job, events } = await run('slow', {
      time_limit_seconds: 1,
      hyperparameters: { max_steps: 1000 },
    });
    expect(job).toMatchObject({
      status: 'failed',
      error: { code: 'time_limit_exceeded', exit_code: 5 },
    });
    expect(events.some((e) => e.type === 'checkpoint')).toBe(true);
  });

  it('sets CUDA_VISIBLE_DEVICES to the assigned GPUs (empty for CPU jobs) and keeps secrets out of the trainer', async () => {
    const gpu = await run('success', { gpus: 2 });
    const cpu = await run('success', { gpus: 0 });
    const visible = (events: EventBody[]) =>
      events.find((e) => e.type === 'status' && e.data.phase === 'validating')!.data;
    expect(gpu.job.assigned_gpus).toHaveLength(2);
    expect(visible(gpu.events).cuda_visible_devices).toBe(
      (gpu.job.assigned_gpus as number[]).join(','),
    );
    expect(visible(cpu.events).cuda_visible_devices).toBe('');
    expect(visible(cpu.events).secrets_visible).toEqual([]);
  });

  it('maps documented trainer exit codes to failure reasons', async () => {
    const { job } = await run('fail-data');
    expect(job.error).toMatchObject({ code: 'data_error', exit_code: 3 });
  });

  it('fails a job clearly when the trainer program does not exist', async () => {
    const other = await startTrainingApp('sqlite', {
      CLARA_TRAINER_COMMAND: JSON.stringify(['/nonexistent/python', '-m', 'clara_trainer']),
    });
    try {
      const file = writeTrainFile(other.config.dataDir);
      const res = await other.app.inject({
        method: 'POST',
        url: JOBS,
        headers: { authorization: `Bearer ${alice}` },
        payload: { base_model: 'org/model', data: { train_file: file }, gpus: 0 },
      });
      const job = await waitForJob(
        other.app.inject.bind(other.app),
        alice,
        res.json<JobBody>().id,
        ['failed'],
      );
      expect(job.error).toMatchObject({
        code: 'trainer_not_found',
        message: expect.stringContaining('/nonexistent/python'),
      });
    } finally {
      await other.close();
    }
  });
});
