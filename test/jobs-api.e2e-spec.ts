import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { list as listTar } from 'tar';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { type TestApp } from './support/apps.js';
import { testEngines } from './support/databases.js';
import { hs256Token } from './support/tokens.js';
import { type JobBody, startTrainingApp, waitForJob, writeTrainFile } from './support/training.js';

const JOBS = '/api/training/jobs';

describe.each(testEngines())('training jobs API on %s', (engine) => {
  let t: TestApp;
  let alice: string; // trainer
  let carol: string; // another trainer
  let bob: string; // analyst
  let root: string; // admin
  let trainFile: string;

  beforeAll(async () => {
    t = await startTrainingApp(engine);
    trainFile = writeTrainFile(t.config.dataDir);
    [alice, carol, bob, root] = await Promise.all([
      hs256Token({ sub: 'alice', roles: ['trainer'] }),
      hs256Token({ sub: 'carol', roles: ['trainer'] }),
      hs256Token({ sub: 'bob', roles: ['analyst'] }),
      hs256Token({ sub: 'root', roles: ['admin'] }),
    ]);
  });
  afterAll(() => t.close());

  const call = (
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    token: string,
    body?: object,
    headers: Record<string, string> = {},
  ) =>
    t.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}`, ...headers },
      ...(body ? { payload: body } : {}),
    });

  const spec = (overrides: Record<string, unknown> = {}) => ({
    base_model: 'fixture/success',
    data: { train_file: trainFile },
    gpus: 0,
    hyperparameters: { max_steps: 4 },
    ...overrides,
  });

  /** Waits until the trainer has really started (its SIGTERM handler is then in place). */
  const waitForProgress = async (id: string, step: number) => {
    for (let i = 0; i < 400; i++) {
      const job = (await call('GET', `${JOBS}/${id}`, bob)).json<{
        progress: { step: number } | null;
      }>();
      if ((job.progress?.step ?? 0) >= step) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`job ${id} made no progress`);
  };

  const create = async (overrides: Record<string, unknown> = {}, token = alice) => {
    const res = await call('POST', JOBS, token, spec(overrides));
    expect(res.statusCode).toBe(201);
    return res.json<JobBody>();
  };

  describe('create', () => {
    it('queues a job with resolved defaults and runs it to success', async () => {
      const job = await create({
        name: 'first-run',
        method: 'lora',
        priority: 5,
        metadata: { team: 'support' },
      });
      expect(job).toMatchObject({
        object: 'training.job',
        name: 'first-run',
        owner: 'alice',
        method: 'lora',
        record_format: 'chat',
        gpus: 0,
        priority: 5,
        metadata: { team: 'support' },
        hyperparameters: {
          max_steps: 4,
          learning_rate: 0.0002,
          lora_r: 16,
          lora_alpha: 32,
          epochs: 3,
        },
      });
      expect(job.hyperparameters).not.toHaveProperty('quantization_bits');
      const done = await waitForJob(t.app.inject.bind(t.app), bob, job.id, ['succeeded', 'failed']);
      expect(done).toMatchObject({
        status: 'succeeded',
        attempts: 1,
        progress: { step: 4, total_steps: 4 },
        last_metrics: { loss: 0.5 },
        error: null,
        adapter_url: `${JOBS}/${job.id}/artifacts/adapter`,
      });
      expect(done.worker_id).toEqual(expect.any(String));
      expect(done.started_at).toEqual(expect.any(String));
      expect(done.finished_at).toEqual(expect.any(String));
    });

    it('names every invalid field in one problem', async () => {
      const res = await call('POST', JOBS, alice, {
        base_model: 'fixture/success',
        method: 'full-finetune',
        data: { train_file: '../../etc/passwd' },
        hyperparameters: {
          learning_rate: -1,
          lora_r: 0,
          target_modules: ['q_proj; rm -rf /'],
          surprise: 1,
        },
        gpus: -1,
        unknown_top_level: true,
      });
      expect(res.statusCode).toBe(400);
      const fields = res.json<{ errors: { field: string }[] }>().errors.map((e) => e.field);
      expect(fields).toEqual(
        expect.arrayContaining([
          'method',
          'data.train_file',
          'hyperparameters.learning_rate',
          'hyperparameters.lora_r',
          'hyperparameters.target_modules',
          'hyperparameters.surprise',
          'gpus',
          'unknown_top_level',
        ]),
      );
    });

    it('refuses data outside the data folder and files that do not exist', async () => {
      for (const train_file of ['/etc/passwd', 'files/../../secret.jsonl', 'files/missing.jsonl']) {
        const res = await call('POST', JOBS, alice, spec({ data: { train_file } }));
        expect(res.statusCode).toBe(400);
        expect(res.json()).toMatchObject({
          errors: [expect.objectContaining({ field: 'data.train_file' })],
        });
      }
    });

    it('refuses base models that are neither hub ids nor allowed local folders', async () => {
      for (const base_model of ['--help', '/etc', 'a/b/c', 'org/../x']) {
        const res = await call('POST', JOBS, alice, spec({ base_model }));
        expect(res.statusCode).toBe(400);
        expect(res.json()).toMatchObject({
          errors: [expect.objectContaining({ field: 'base_model' })],
        });
      }
    });

    it('refuses QLoRA settings on a LoRA job, QLoRA on CPU, and more GPUs than any worker has', async () => {
      const quant = await call(
        'POST',
        JOBS,
        alice,
        spec({ hyperparameters: { quantization_bits: 4 } }),
      );
      expect(quant.json()).toMatchObject({
        status: 400,
        errors: [{ field: 'hyperparameters.quantization_bits' }],
      });
      const cpu = await call('POST', JOBS, alice, spec({ method: 'qlora', gpus: 0 }));
      expect(cpu.json()).toMatchObject({ status: 422, code: 'qlora_needs_gpu' });
      const greedy = await call('POST', JOBS, alice, spec({ gpus: 8 }));
      expect(greedy.statusCode).toBe(422);
      expect(greedy.json()).toMatchObject({ code: 'not_enough_gpus', errors: [{ field: 'gpus' }] });
      expect(greedy.json<{ detail: string }>().detail).toContain('largest has 2');
    });

    it('honours Idempotency-Key: the same job again, never two', async () => {
      const headers = { 'idempotency-key': `create-once-${engine}` };
      const [a, b] = await Promise.all([
        call('POST', JOBS, alice, spec({ name: 'idem' }), headers),
        call('POST', JOBS, alice, spec({ name: 'idem' }), headers),
      ]);
      expect(a.statusCode).toBe(201);
      expect(b.statusCode).toBe(201);
      expect(a.json<JobBody>().id).toBe(b.json<JobBody>().id);
      expect([a.headers['idempotent-replayed'], b.headers['idempotent-replayed']]).toContain(
        'true',
      );
      const other = await call('POST', JOBS, alice, spec({ name: 'different' }), headers);
      expect(other.json()).toMatchObject({ status: 409, code: 'idempotency_key_reused' });
      // Keys are per owner: carol's identical key is her own.
      const carols = await call('POST', JOBS, carol, spec({ name: 'idem' }), headers);
      expect(carols.json<JobBody>().id).not.toBe(a.json<JobBody>().id);
    });

    it('lets only trainers and admins create', async () => {
      expect((await call('POST', JOBS, bob, spec())).statusCode).toBe(403);
      expect((await call('POST', JOBS, root, spec())).statusCode).toBe(201);
    });
  });

  describe('read', () => {
    it('lists newest first with filters and cursor pages, separate from the id route', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await create({ name: `page-${i}` }, carol)).id);
      const first = await call('GET', `${JOBS}?owner=carol&limit=2`, bob);
      const page = first.json<{ data: JobBody[]; next_cursor: string; has_more: boolean }>();
      expect(page.data.map((j) => j.owner)).toEqual(['carol', 'carol']);
      expect(page.has_more).toBe(true);
      const second = await call(
        'GET',
        `${JOBS}?owner=carol&limit=2&cursor=${page.next_cursor}`,
        bob,
      );
      const all = [...page.data, ...second.json<{ data: JobBody[] }>().data].map((j) => j.id);
      expect(all.slice(0, 3)).toEqual([...ids].reverse());
      const filtered = await call('GET', `${JOBS}?status=failed,cancelled&owner=carol`, bob);
      expect(
        filtered
          .json<{ data: JobBody[] }>()
          .data.every((j) => ['failed', 'cancelled'].includes(j.status)),
      ).toBe(true);
      expect((await call('GET', `${JOBS}?status=bogus`, bob)).statusCode).toBe(400);
      expect((await call('GET', `${JOBS}/not-a-uuid`, bob)).statusCode).toBe(404);
      expect(
        (await call('GET', `${JOBS}/0190a6c1-7b7a-7000-8000-000000000000`, bob)).json(),
      ).toMatchObject({ code: 'job_not_found' });
    });

    it('serves events, metrics, checkpoints, artifacts, logs and the adapter archive', async () => {
      const job = await create({ hyperparameters: { max_steps: 4 } });
      await waitForJob(t.app.inject.bind(t.app), bob, job.id, ['succeeded']);
      const events = (await call('GET', `${JOBS}/${job.id}/events?limit=1000`, bob)).json<{
        data: { seq: number; type: string; data: Record<string, unknown> }[];
      }>().data;
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(events[0]).toMatchObject({ type: 'status', data: { status: 'queued' } });
      expect(events.some((e) => e.type === 'status' && e.data.status === 'running')).toBe(true);
      expect(events.at(-1)).toMatchObject({
        type: 'status',
        data: { status: 'succeeded', exit_code: 0 },
      });
      expect(events.filter((e) => e.type === 'progress').map((e) => e.data.step)).toEqual([
        1, 2, 3, 4,
      ]);
      expect(
        events.some((e) => e.type === 'log' && String(e.data.line).includes('step 2 done')),
      ).toBe(true);

      const paged = (
        await call('GET', `${JOBS}/${job.id}/events?after=2&limit=3&type=metric`, bob)
      ).json<{ data: { seq: number; type: string }[]; has_more: boolean }>();
      expect(paged.data.every((e) => e.type === 'metric' && e.seq > 2)).toBe(true);

      const metrics = (await call('GET', `${JOBS}/${job.id}/metrics`, bob)).json<{
        metrics: string[];
        points: { step: number; loss: number }[];
      }>();
      expect(metrics.metrics).toEqual(['grad_norm', 'learning_rate', 'loss', 'tokens_per_second']);
      expect(metrics.points.map((p) => p.loss)).toEqual([2, 1, 2 / 3, 0.5]);

      const checkpoints = (await call('GET', `${JOBS}/${job.id}/checkpoints`, bob)).json<
        { step: number; path: string }[]
      >();
      expect(checkpoints).toEqual([
        expect.objectContaining({ step: 2, path: expect.stringContaining('checkpoint-2') }),
      ]);
      const artifacts = (await call('GET', `${JOBS}/${job.id}/artifacts`, bob)).json<
        { kind: string }[]
      >();
      expect(artifacts).toEqual([
        expect.objectContaining({
          kind: 'adapter',
          download_url: `${JOBS}/${job.id}/artifacts/adapter`,
        }),
      ]);

      const log = (await call('GET', `${JOBS}/${job.id}/logs?tail=2`, bob)).json<{
        text: string;
        size: number;
      }>();
      expect(log.text).toBe('step 3 done\nstep 4 done\n');
      const head = (await call('GET', `${JOBS}/${job.id}/logs?offset=0&length=16`, bob)).json<{
        text: string;
        next_offset: number;
      }>();
      expect(head).toMatchObject({ text: 'fixture trainer ', next_offset: 16 });

      const archive = await call('GET', `${JOBS}/${job.id}/artifacts/adapter`, bob);
      expect(archive.statusCode).toBe(200);
      expect(archive.headers['content-type']).toContain('application/gzip');
      expect(archive.headers['content-disposition']).toContain('adapter.tar.gz');
      const entries: string[] = [];
      await pipeline(
        Readable.from(archive.rawPayload),
        listTar({ onReadEntry: (e) => entries.push(e.path) }),
      );
      expect(entries).toEqual(
        expect.arrayContaining(['./adapter_config.json', './adapter_model.safetensors']),
      );
    });
  });

  describe('cancel, retry, delete', () => {
    it('cancels a queued job at once and a running one through cancelling', async () => {
      const running = await create({
        base_model: 'fixture/slow',
        hyperparameters: { max_steps: 400 },
        gpus: 2,
      });
      await waitForProgress(running.id, 2);
      const queued = await create({
        base_model: 'fixture/slow',
        gpus: 1,
        hyperparameters: { max_steps: 400 },
      });
      const waiting = (await call('GET', `${JOBS}/${queued.id}`, bob)).json<JobBody>();
      expect(waiting).toMatchObject({ status: 'queued', queue_position: expect.any(Number) });
      const listed = (await call('GET', `${JOBS}?status=queued`, bob)).json<{ data: JobBody[] }>()
        .data;
      expect(listed.find((j) => j.id === queued.id)?.queue_position).toBe(waiting.queue_position);

      expect((await call('POST', `${JOBS}/${queued.id}/cancel`, bob)).statusCode).toBe(403);
      expect((await call('POST', `${JOBS}/${queued.id}/cancel`, carol)).json()).toMatchObject({
        status: 403,
        code: 'not_owner',
      });
      const cancelledQueued = await call('POST', `${JOBS}/${queued.id}/cancel`, alice);
      expect(cancelledQueued.json()).toMatchObject({
        status: 'cancelled',
        error: { code: 'cancelled' },
      });

      const cancelling = await call('POST', `${JOBS}/${running.id}/cancel`, root);
      expect(['cancelling', 'cancelled']).toContain(cancelling.json<JobBody>().status);
      const ended = await waitForJob(t.app.inject.bind(t.app), bob, running.id, [
        'cancelled',
        'failed',
      ]);
      expect(ended).toMatchObject({
        status: 'cancelled',
        error: { code: 'cancelled', exit_code: 5 },
      });
      const events = (await call('GET', `${JOBS}/${running.id}/events?limit=1000`, bob)).json<{
        data: { type: string; data: Record<string, unknown> }[];
      }>().data;
      expect(events.some((e) => e.type === 'checkpoint')).toBe(true);
      expect((await call('POST', `${JOBS}/${running.id}/cancel`, alice)).json()).toMatchObject({
        status: 409,
        code: 'job_state_conflict',
      });
    });

    it('retries a failed job as a new job, and deletes finished jobs (admin only) with their run folder', async () => {
      const failed = await create({ base_model: 'fixture/fail-data' });
      const ended = await waitForJob(t.app.inject.bind(t.app), bob, failed.id, ['failed']);
      expect(ended.error).toMatchObject({
        code: 'data_error',
        message: 'line 3: invalid JSON',
        exit_code: 3,
      });

      const retry = await call('POST', `${JOBS}/${failed.id}/retry`, alice);
      expect(retry.statusCode).toBe(201);
      expect(retry.json()).toMatchObject({
        retry_of: failed.id,
        base_model: 'fixture/fail-data',
        owner: 'alice',
        status: 'queued',
      });

      const runDir = join(t.config.dataDir, 'runs', failed.id);
      expect(existsSync(runDir)).toBe(true);
      expect((await call('DELETE', `${JOBS}/${failed.id}`, alice)).statusCode).toBe(403);
      expect((await call('DELETE', `${JOBS}/${failed.id}`, root)).statusCode).toBe(204);
      expect(existsSync(runDir)).toBe(false);
      expect((await call('GET', `${JOBS}/${failed.id}`, bob)).statusCode).toBe(404);

      const active = await create({
        base_model: 'fixture/slow',
        hyperparameters: { max_steps: 400 },
      });
      expect((await call('DELETE', `${JOBS}/${active.id}`, root)).json()).toMatchObject({
        status: 409,
      });
      await call('POST', `${JOBS}/${active.id}/cancel`, alice);
      await waitForJob(t.app.inject.bind(t.app), bob, active.id, ['cancelled']);
    });
  });

  describe('status and workers', () => {
    it('reports the queue and the embedded worker', async () => {
      const status = (await call('GET', '/api/training/status', bob)).json<
        Record<string, unknown>
      >();
      expect(status).toMatchObject({
        active_jobs: expect.any(Number),
        queued_jobs: expect.any(Number),
        max_concurrent_jobs: 2,
      });
      expect(status.worker_status).toEqual([
        expect.objectContaining({ status: 'active', gpus: [0, 1], slots: 2 }),
      ]);
      expect((await call('GET', '/api/training/workers', bob)).statusCode).toBe(403);
      const workers = (await call('GET', '/api/training/workers', root)).json<
        { id: string; host: string }[]
      >();
      expect(workers).toHaveLength(1);
    });
  });
});
