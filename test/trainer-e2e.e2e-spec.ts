import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { list as listTar } from 'tar';

import { TrainingAppModule } from '../apps/training/src/training-app.module.js';
import { startTestApp, type TestApp } from './support/apps.js';
import { hs256Token } from './support/tokens.js';
import { type JobBody, waitForJob } from './support/training.js';

const REPO = resolve(import.meta.dirname, '..');
const PYTHON = join(REPO, '.venv/bin/python');

/**
 * End to end with the real Python trainer: a job submitted over HTTP against a tiny
 * Llama model built locally is claimed by the embedded worker, fine-tuned on CPU with
 * LoRA, streams events, and ends `succeeded` with a downloadable adapter.
 */
describe('training API → worker → real Python trainer (CPU, tiny model)', () => {
  let t: TestApp;
  let token: string;
  let modelDir: string;

  beforeAll(async () => {
    if (!existsSync(PYTHON))
      throw new Error('no .venv: run `bash test/setup/python-venv.sh` (the test command does)');
    t = await startTestApp({
      service: 'training',
      engine: 'sqlite',
      env: {
        CLARA_WORKER_GPUS: 'none',
        CLARA_WORKER_HEARTBEAT_MS: '500',
        CLARA_WORKER_POLL_MS: '200',
      },
      rootModule: (config) => TrainingAppModule.forRoot(config),
    });
    token = await hs256Token({ sub: 'alice', roles: ['trainer'] });
    modelDir = join(t.config.dataDir, 'models', 'tiny-llama');
    execFileSync(PYTHON, ['-m', 'clara_trainer.testing.make_tiny_model', modelDir], {
      env: { ...process.env, PYTHONPATH: join(REPO, 'apps/trainer') },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    mkdirSync(join(t.config.dataDir, 'files'), { recursive: true });
    const records = Array.from({ length: 24 }, (_, i) => ({
      messages: [
        { role: 'user', content: `Wie lautet die Regel ${i % 4}?` },
        { role: 'assistant', content: `Die Regel ${i % 4} lautet: Abstand halten.` },
      ],
    }));
    writeFileSync(
      join(t.config.dataDir, 'files', 'chat.jsonl'),
      records.map((r) => JSON.stringify(r)).join('\n') + '\n',
    );
  }, 120_000);
  afterAll(() => t?.close());

  it('fine-tunes and serves the adapter', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/training/jobs',
      headers: { authorization: `Bearer ${token}` },
      payload: {
        name: 'tiny-e2e',
        base_model: modelDir,
        method: 'lora',
        record_format: 'chat',
        data: { train_file: 'files/chat.jsonl' },
        gpus: 0,
        hyperparameters: {
          max_steps: 8,
          batch_size: 4,
          max_seq_length: 64,
          lora_r: 4,
          lora_alpha: 8,
          learning_rate: 0.01,
          save_steps: 4,
        },
      },
    });
    expect(res.statusCode).toBe(201);
    const id = res.json<JobBody>().id;
    const job = await waitForJob(
      t.app.inject.bind(t.app),
      token,
      id,
      ['succeeded', 'failed', 'cancelled'],
      240_000,
    );
    const get = (url: string) =>
      t.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    if (job.status !== 'succeeded') {
      throw new Error(
        `job ended ${job.status}: ${JSON.stringify(job.error)}\n${(await get(`/api/training/jobs/${id}/logs?tail=40`)).json<{ text: string }>().text}`,
      );
    }
    expect(job).toMatchObject({
      progress: { step: 8, total_steps: 8 },
      last_metrics: { loss: expect.any(Number) },
    });

    const events = (await get(`/api/training/jobs/${id}/events?limit=1000`)).json<{
      data: { type: string; data: Record<string, unknown> }[];
    }>().data;
    const types = new Set(events.map((e) => e.type));
    for (const type of ['status', 'progress', 'metric', 'checkpoint', 'artifact'])
      expect(types).toContain(type);
    expect(events.find((e) => e.type === 'status' && e.data.data)?.data.data).toMatchObject({
      train_records: 24,
    });

    const metrics = (await get(`/api/training/jobs/${id}/metrics`)).json<{
      points: { step: number; loss?: number }[];
    }>();
    expect(metrics.points.filter((p) => p.loss !== undefined).length).toBeGreaterThanOrEqual(4);

    const archive = await get(`/api/training/jobs/${id}/artifacts/adapter`);
    expect(archive.statusCode).toBe(200);
    const entries: string[] = [];
    await pipeline(
      Readable.from(archive.rawPayload),
      listTar({ onReadEntry: (e) => entries.push(e.path) }),
    );
    expect(entries).toEqual(
      expect.arrayContaining([
        './adapter_model.safetensors',
        './adapter_config.json',
        './training_summary.json',
      ]),
    );
  }, 300_000);
});
