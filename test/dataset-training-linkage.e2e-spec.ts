import { createHash } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { DatasetsAppModule } from '../apps/datasets/src/datasets-app.module.js';
import { multipart } from './corpus/support/corpus-app.js';
import { startTestApp, type TestApp } from './support/apps.js';
import { createTestDatabase, type TestDatabase, testEngines } from './support/databases.js';
import { hs256Token } from './support/tokens.js';
import { type JobBody, startTrainingApp, waitForJob } from './support/training.js';

interface EventBody {
  type: string;
  data: Record<string, unknown>;
}

/**
 * A dataset version feeds a training job: both services on one database (the embedded
 * deployment), the job API checks the version, the worker hands the trainer exactly that
 * version's records, and lineage leads from the version to the job.
 */
describe.each(testEngines())('dataset version → training job on %s', (engine) => {
  let database: TestDatabase;
  let datasets: TestApp;
  let training: TestApp;
  let trainer: string;
  let admin: string;
  let datasetId: string;

  const records = Array.from({ length: 12 }, (_, i) => ({
    messages: [
      { role: 'user', content: `Frage ${i}: "Gilt § ${i}"?\nBitte kurz.` },
      { role: 'assistant', content: `Ja, Abschnitt ${i} gilt für Gebäude über ${i * 3} m Höhe.` },
    ],
  }));

  beforeAll(async () => {
    database = await createTestDatabase(engine);
    datasets = await startTestApp({
      service: 'datasets',
      database,
      rootModule: (c) => DatasetsAppModule.forRoot(c),
    });
    training = await startTrainingApp(engine, { ...database.env });
    [trainer, admin] = await Promise.all([
      hs256Token({ sub: 'alice', roles: ['trainer'] }),
      hs256Token({ sub: 'root', roles: ['admin'] }),
    ]);

    const created = await datasets.app.inject({
      method: 'POST',
      url: '/api/datasets/datasets',
      headers: { authorization: `Bearer ${trainer}` },
      payload: { name: `bauordnung-${engine}`, record_format: 'chat' },
    });
    expect(created.statusCode).toBe(201);
    datasetId = created.json<{ id: string }>().id;
    const body = multipart(
      {},
      { name: 'records.jsonl', content: records.map((r) => JSON.stringify(r)).join('\n') + '\n' },
    );
    const imported = await datasets.app.inject({
      method: 'POST',
      url: `/api/datasets/datasets/${datasetId}/versions/import`,
      headers: { authorization: `Bearer ${trainer}`, ...body.headers },
      payload: body.payload,
    });
    expect(imported.statusCode).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await training?.close();
    await datasets?.close();
    await database?.drop();
  });

  const createJob = (data: object, extra: object = {}) =>
    training.app.inject({
      method: 'POST',
      url: '/api/training/jobs',
      headers: { authorization: `Bearer ${trainer}` },
      payload: { base_model: 'fixture/success', gpus: 0, data, ...extra },
    });

  it('refuses unknown versions and a record format that does not match', async () => {
    const unknown = await createJob({ dataset_id: datasetId, dataset_version: 9 });
    expect(unknown.json()).toMatchObject({
      status: 422,
      code: 'dataset_version_not_found',
      errors: [{ field: 'data.dataset_version' }],
    });
    const mismatch = await createJob(
      { dataset_id: datasetId, dataset_version: 1 },
      { record_format: 'alpaca' },
    );
    expect(mismatch.json()).toMatchObject({ status: 400, errors: [{ field: 'record_format' }] });
    const both = await createJob({
      dataset_id: datasetId,
      dataset_version: 1,
      train_file: 'files/x.jsonl',
    });
    expect(both.json()).toMatchObject({
      status: 400,
      errors: expect.arrayContaining([expect.objectContaining({ field: 'data.dataset_id' })]),
    });
  });

  it('trains on exactly that version: the trainer receives its records, and lineage shows the job', async () => {
    const res = await createJob({ dataset_id: datasetId, dataset_version: 1 });
    expect(res.statusCode).toBe(201);
    const created = res.json<JobBody>();
    expect(created).toMatchObject({
      record_format: 'chat',
      data: { dataset_id: datasetId, dataset_version: 1 },
    });
    const job = await waitForJob(training.app.inject.bind(training.app), trainer, created.id, [
      'succeeded',
      'failed',
    ]);
    expect(job.status).toBe('succeeded');

    const events = (
      await training.app.inject({
        method: 'GET',
        url: `/api/training/jobs/${job.id}/events?limit=1000`,
        headers: { authorization: `Bearer ${trainer}` },
      })
    ).json<{ data: EventBody[] }>().data;
    const seen = events.find((e) => e.type === 'status' && e.data.phase === 'validating')!.data;
    const exported = await datasets.app.inject({
      method: 'GET',
      url: `/api/datasets/datasets/${datasetId}/versions/1/files/train-00000-of-00001.jsonl?metadata=false`,
      headers: { authorization: `Bearer ${trainer}` },
    });
    const split = (
      await datasets.app.inject({
        method: 'GET',
        url: `/api/datasets/datasets/${datasetId}/versions/1`,
        headers: { authorization: `Bearer ${trainer}` },
      })
    ).json<{
      splits: { train: number };
      checksum: string;
    }>();
    expect(seen).toMatchObject({
      record_format: 'chat',
      dataset: { dataset_id: datasetId, version: 1 },
      train_lines: split.splits.train,
      train_sha256: createHash('sha256').update(exported.rawPayload).digest('hex'),
    });
    expect(events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          data: expect.objectContaining({ phase: 'dataset_ready', checksum: split.checksum }),
        }),
      ]),
    );

    const lineage = await datasets.app.inject({
      method: 'GET',
      url: `/api/datasets/datasets/${datasetId}/versions/1/jobs`,
      headers: { authorization: `Bearer ${trainer}` },
    });
    expect(JSON.stringify(lineage.json())).toContain(job.id);
  });

  it('refuses to delete a dataset while a job on it is queued or running', async () => {
    const res = await createJob(
      { dataset_id: datasetId, dataset_version: 1 },
      { base_model: 'fixture/slow', hyperparameters: { max_steps: 400 } },
    );
    const id = res.json<JobBody>().id;
    await waitForJob(training.app.inject.bind(training.app), trainer, id, ['running']);
    const refused = await datasets.app.inject({
      method: 'DELETE',
      url: `/api/datasets/datasets/${datasetId}`,
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(refused.statusCode).toBe(409);
    await training.app.inject({
      method: 'POST',
      url: `/api/training/jobs/${id}/cancel`,
      headers: { authorization: `Bearer ${trainer}` },
    });
    await waitForJob(training.app.inject.bind(training.app), trainer, id, ['cancelled']);
  });

  it('fetches the version over HTTP with a service token when the training side is deployed apart', async () => {
    await datasets.app.listen({ port: 0, host: '127.0.0.1' });
    const url = (await datasets.app.getUrl()).replace('[::1]', '127.0.0.1');
    const serviceToken = await hs256Token({ sub: 'svc-training', roles: ['analyst'] });
    // Its own database: nothing is shared with the datasets service but HTTP.
    const apart = await startTrainingApp(engine, {
      CLARA_DATASETS_URL: url,
      CLARA_DATASETS_TOKEN: serviceToken,
    });
    try {
      const res = await apart.app.inject({
        method: 'POST',
        url: '/api/training/jobs',
        headers: { authorization: `Bearer ${trainer}` },
        payload: {
          base_model: 'fixture/success',
          gpus: 0,
          data: { dataset_id: datasetId, dataset_version: 1 },
        },
      });
      expect(res.statusCode).toBe(201);
      const job = await waitForJob(
        apart.app.inject.bind(apart.app),
        trainer,
        res.json<JobBody>().id,
        ['succeeded', 'failed'],
      );
      expect(job.status).toBe('succeeded');
      const events = (
        await apart.app.inject({
          method: 'GET',
          url: `/api/training/jobs/${job.id}/events?limit=1000`,
          headers: { authorization: `Bearer ${trainer}` },
        })
      ).json<{ data: EventBody[] }>().data;
      const seen = events.find((e) => e.type === 'status' && e.data.phase === 'validating')!.data;
      expect(seen).toMatchObject({
        train_lines: expect.any(Number),
        dataset: { dataset_id: datasetId, version: 1 },
      });
      expect(seen.train_lines).toBeGreaterThan(0);
      const unknown = await apart.app.inject({
        method: 'POST',
        url: '/api/training/jobs',
        headers: { authorization: `Bearer ${trainer}` },
        payload: {
          base_model: 'fixture/success',
          gpus: 0,
          data: { dataset_id: datasetId, dataset_version: 7 },
        },
      });
      expect(unknown.json()).toMatchObject({ status: 422, code: 'dataset_version_not_found' });
    } finally {
      await apart.close();
    }
  });
});
