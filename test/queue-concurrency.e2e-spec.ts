import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JobsRepository, WorkerEntity } from '@clara/jobs';
import { DataSource } from 'typeorm';

import { TrainingAppModule } from '../apps/training/src/training-app.module.js';
import { startTestApp, type TestApp } from './support/apps.js';
import { testEngines } from './support/databases.js';
import { hs256Token } from './support/tokens.js';
import { fixtureWorkerEnv, writeTrainFile } from './support/training.js';
import { WorkerProcess } from './support/worker-process.js';

const JOB_COUNT = 240;
const WORKERS = 4;

interface JobRow {
  id: string;
  status: string;
  priority: number;
  gpus_required: number;
  worker_id: string;
  assigned_gpus: string | null;
  started_at: string;
  attempts: number;
}

const postgres = testEngines().filter((engine) => engine === 'postgres');

/**
 * Several worker processes racing over hundreds of short jobs on one PostgreSQL queue:
 * every job runs exactly once, priorities are respected, GPUs are never oversubscribed.
 */
(postgres.length ? describe : describe.skip)('queue concurrency on PostgreSQL', () => {
  let t: TestApp;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    // A long lease: creating the jobs takes a while on a loaded machine, and the placeholder
    // worker below must stay "alive" meanwhile.
    const env = fixtureWorkerEnv({
      CLARA_JOB_LEASE_SECONDS: '120',
      CLARA_WORKER_GPUS: '0,1',
      CLARA_WORKER_SLOTS: '2',
      CLARA_WORKER_POLL_MS: '50',
    });
    t = await startTestApp({
      service: 'training',
      engine: 'postgres',
      env: { ...env, CLARA_WORKER_EMBEDDED: 'false' },
      rootModule: (config) => TrainingAppModule.forRoot(config),
    });
    const token = await hs256Token({ sub: 'alice', roles: ['trainer'] });
    const trainFile = writeTrainFile(t.config.dataDir);

    // A registered worker is needed to accept jobs; the racing workers start after the queue is full.
    const now = new Date().toISOString();
    await t.app.get(JobsRepository).upsertWorker(
      Object.assign(new WorkerEntity(), {
        id: 'placeholder',
        host: 'test',
        gpus: '0,1',
        slots: 1,
        status: 'active',
        version: 'test',
        startedAt: now,
        lastHeartbeatAt: now,
      }),
    );
    for (let i = 0; i < JOB_COUNT; i++) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/training/jobs',
        headers: { authorization: `Bearer ${token}` },
        payload: {
          base_model: 'fixture/quick',
          data: { train_file: trainFile },
          gpus: i % 3,
          priority: ((i * 7) % 11) - 5,
        },
      });
      expect(res.statusCode).toBe(201);
    }
    await t.app
      .get(DataSource)
      .query(`UPDATE workers SET status = 'offline' WHERE id = 'placeholder'`);

    for (let i = 0; i < WORKERS; i++)
      workers.push(new WorkerProcess(`racer-${i}`, { ...env, ...t.database.env }));
    await Promise.all(workers.map((w) => w.ready()));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await t.close();
  });

  it("runs every job exactly once, in priority order, within each worker's GPUs", async () => {
    const db = t.app.get(DataSource);
    const deadline = Date.now() + 120_000;
    let rows: JobRow[] = [];
    while (Date.now() < deadline) {
      rows = await db.query<JobRow[]>(
        'SELECT id, status, priority, gpus_required, worker_id, assigned_gpus, started_at, attempts FROM jobs',
      );
      if (rows.every((r) => r.status === 'succeeded' || r.status === 'failed')) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(rows).toHaveLength(JOB_COUNT);
    const unfinished = rows.filter((r) => r.status !== 'succeeded');
    if (unfinished.length > 0) {
      // Say why: the workers' own logs around the stuck jobs.
      for (const w of workers) process.stderr.write(`--- ${w.id} ---\n${w.output.slice(-4000)}\n`);
    }
    expect(unfinished).toEqual([]);
    expect(rows.every((r) => r.attempts === 1)).toBe(true);
    expect(new Set(rows.map((r) => r.worker_id)).size).toBe(WORKERS); // they all took part

    // The fixture trainer logs each run's start and end: one of each per job, never more.
    const ledger = readFileSync(join(t.config.dataDir, 'fixture-ledger.log'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split(' '));
    const starts = ledger.filter((l) => l[1] === 'start');
    expect(starts).toHaveLength(JOB_COUNT);
    expect(new Set(starts.map((l) => l[0])).size).toBe(JOB_COUNT);
    const interval = new Map<string, { start: number; end: number; gpus: string }>();
    for (const [id, kind, time, gpus] of ledger) {
      const entry = interval.get(id) ?? { start: 0, end: 0, gpus: gpus ?? '' };
      if (kind === 'start') entry.start = Number(time);
      else entry.end = Number(time);
      interval.set(id, entry);
    }

    // No GPU of a worker ever ran two jobs at once, and each job got as many GPUs as it asked for.
    for (const row of rows)
      expect((row.assigned_gpus ?? '').split(',').filter(Boolean)).toHaveLength(row.gpus_required);
    for (const workerId of new Set(rows.map((r) => r.worker_id))) {
      const mine = rows.filter((r) => r.worker_id === workerId);
      for (const gpu of ['0', '1']) {
        const uses = mine
          .filter((r) => (r.assigned_gpus ?? '').split(',').includes(gpu))
          .map((r) => interval.get(r.id)!)
          .sort((a, b) => a.start - b.start);
        for (let i = 1; i < uses.length; i++)
          expect(uses[i].start).toBeGreaterThanOrEqual(uses[i - 1].end);
      }
    }

    // Priority: a job is never claimed after a lower-priority job that needed at least as many GPUs
    // (whenever the lower one fitted, the higher one fitted too). Claim times come from different
    // processes' clocks, so allow a little skew.
    const claimed = rows.map((r) => ({ ...r, at: Date.parse(r.started_at) }));
    let inversions = 0;
    for (const high of claimed) {
      for (const low of claimed) {
        if (
          high.priority > low.priority &&
          high.gpus_required <= low.gpus_required &&
          high.at > low.at + 25
        )
          inversions++;
      }
    }
    expect(inversions).toBe(0);
  }, 150_000);
});
