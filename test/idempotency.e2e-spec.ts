import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Body, Controller, Post } from '@nestjs/common';
import { ForTrainers } from '@clara/auth';
import { newId } from '@clara/common';
import { loadConfig } from '@clara/config';
import { canonicalJson, Idempotent, IdempotencyRepository } from '@clara/platform';
import type { LightMyRequestResponse } from 'fastify';

import { DatasetsTestApp, multipart, PREFIX } from './datasets/support/datasets-app.js';
import { startTestApp, type TestApp } from './support/apps.js';
import { type Engine, testEngines } from './support/databases.js';
import { hs256Token } from './support/tokens.js';

const CHAT_TEMPLATE = {
  messages: [
    { role: 'user', content: 'Was steht in „{{ title }}“?' },
    { role: 'assistant', content: '{{ text }}' },
  ],
};

const DOCUMENTS = [
  {
    id: 'idem-1',
    title: 'Stellplätze',
    text: 'Für jede Wohnung sind zwei Fahrradstellplätze herzustellen.',
  },
  {
    id: 'idem-2',
    title: 'Brandschutz',
    text: 'Ein Treppenhaus braucht an der obersten Stelle einen Rauchabzug.',
  },
  {
    id: 'idem-3',
    title: 'Abstandsflächen',
    text: 'Vor Außenwänden sind Abstandsflächen von Gebäuden freizuhalten.',
  },
];

interface Problem {
  status: number;
  code: string;
  request_id?: string;
  errors?: { field: string; in?: string }[];
}

const replayed = (res: LightMyRequestResponse) => res.headers['idempotent-replayed'];

describe.each(testEngines())('Idempotency-Key on the datasets service (%s)', (engine) => {
  let app: DatasetsTestApp;

  beforeAll(async () => {
    app = await DatasetsTestApp.onEngine(engine);
    const res = await app.call('POST', '/documents', 'trainer', { documents: DOCUMENTS });
    expect(res.statusCode).toBe(201);
  }, 60_000);
  afterAll(() => app.close());

  const post = (url: string, key: string | undefined, body: object, role = 'trainer' as const) =>
    app.call('POST', url, role, body, key === undefined ? {} : { 'idempotency-key': key });
  const postAs = (role: 'trainer' | 'admin', url: string, key: string, body: object) =>
    app.call('POST', url, role, body, { 'idempotency-key': key });
  const count = async (table: string, where = '1 = 1') => {
    const rows: { n: number | string }[] = await app.dataSource.query(
      `SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`,
    );
    return Number(rows[0].n);
  };
  const uniqueKey = () => `key-${newId()}`;
  const waitForVersions = async (datasetId: string) => {
    for (let i = 0; i < 400; i++) {
      if (
        (await count('dataset_versions', `dataset_id = '${datasetId}' AND status = 'building'`)) ===
        0
      ) {
        return;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('builds did not finish');
  };
  const waitForTasks = async () => {
    for (let i = 0; i < 400; i++) {
      if ((await count('corpus_ingest_tasks', `state IN ('queued', 'running')`)) === 0) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('ingest tasks did not finish');
  };

  it('replays a dataset create: same status and bytes, nothing new, with Idempotent-Replayed', async () => {
    const key = uniqueKey();
    const body = { name: 'idem-replay', description: 'first', record_format: 'chat' };
    const first = await post('/datasets', key, body);
    expect(first.statusCode).toBe(201);
    expect(replayed(first)).toBeUndefined();
    const before = await count('datasets');

    // The same body with its members in another order is the same request.
    const again = await post('/datasets', key, {
      record_format: 'chat',
      description: 'first',
      name: 'idem-replay',
    });
    expect(again.statusCode).toBe(201);
    expect(replayed(again)).toBe('true');
    expect(again.headers['content-type']).toMatch(/^application\/json/);
    expect(again.body).toBe(first.body);
    expect(await count('datasets')).toBe(before);
    expect(await count('idempotency_keys', `idempotency_key = '${key}'`)).toBe(1);
  });

  it('refuses the same key with a different body (409 idempotency_key_reused)', async () => {
    const key = uniqueKey();
    expect(
      (await post('/datasets', key, { name: 'idem-a', record_format: 'chat' })).statusCode,
    ).toBe(201);
    const before = await count('datasets');
    const other = await post('/datasets', key, { name: 'idem-b', record_format: 'chat' });
    expect(other.statusCode).toBe(409);
    expect(other.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(other.json<Problem>().code).toBe('idempotency_key_reused');
    expect(await count('datasets')).toBe(before);
  });

  it('keeps keys per caller: another user may use the same key', async () => {
    const key = uniqueKey();
    const mine = await postAs('trainer', '/datasets', key, {
      name: 'idem-mine',
      record_format: 'chat',
    });
    const theirs = await postAs('admin', '/datasets', key, {
      name: 'idem-theirs',
      record_format: 'text',
    });
    expect(mine.statusCode).toBe(201);
    expect(theirs.statusCode).toBe(201);
    expect(replayed(theirs)).toBeUndefined();
    expect(theirs.json<{ created_by: string }>().created_by).toBe('root');
    // …and each replays their own.
    const mineAgain = await postAs('trainer', '/datasets', key, {
      name: 'idem-mine',
      record_format: 'chat',
    });
    expect(mineAgain.body).toBe(mine.body);
  });

  it('refuses a malformed key with 400 naming the header, and creates nothing', async () => {
    const before = await count('datasets');
    for (const key of ['has space', 'x'.repeat(256), 'ümlaut', '']) {
      const res = await post('/datasets', key, {
        name: `idem-bad-${before}`,
        record_format: 'chat',
      });
      expect(res.statusCode).toBe(400);
      expect(res.json<Problem>().errors).toEqual([
        expect.objectContaining({ field: 'Idempotency-Key', in: 'header' }),
      ]);
    }
    expect(await count('datasets')).toBe(before);
    // The longest allowed key and every allowed character are fine.
    const longest = `A-z_0.9:${'k'.repeat(247)}`;
    const ok = await post('/datasets', longest, { name: 'idem-longest', record_format: 'chat' });
    expect(ok.statusCode).toBe(201);
  });

  it('stores a 4xx and replays it, even after the cause went away', async () => {
    expect(
      (await post('/datasets', undefined, { name: 'idem-taken', record_format: 'chat' }))
        .statusCode,
    ).toBe(201);
    const key = uniqueKey();
    const body = { name: 'idem-taken', record_format: 'chat' };
    const refused = await post('/datasets', key, body);
    expect(refused.statusCode).toBe(409);
    expect(refused.json<Problem>().code).toBe('dataset_name_taken');

    const taken = await app.call('GET', '/datasets?limit=100', 'analyst');
    const id = taken
      .json<{ data: { id: string; name: string }[] }>()
      .data.find((d) => d.name === 'idem-taken')!.id;
    expect((await app.call('DELETE', `/datasets/${id}`, 'admin')).statusCode).toBe(204);

    const again = await post('/datasets', key, body);
    expect(again.statusCode).toBe(409);
    expect(replayed(again)).toBe('true');
    expect(again.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(again.json()).toEqual(refused.json());
    expect(again.json<Problem>().request_id).toBe(refused.headers['x-request-id']);
    expect(await count('datasets', `name = 'idem-taken'`)).toBe(0);

    // A validation failure is a 4xx too.
    const vkey = uniqueKey();
    const invalid = await post('/datasets', vkey, { name: 'idem-invalid', record_format: 'bogus' });
    expect(invalid.statusCode).toBe(400);
    const invalidAgain = await post('/datasets', vkey, {
      name: 'idem-invalid',
      record_format: 'bogus',
    });
    expect(replayed(invalidAgain)).toBe('true');
    expect(invalidAgain.json()).toEqual(invalid.json());
  });

  it('builds one version for concurrent duplicates, and replays the 202', async () => {
    const datasetId = await app.createDataset('idem-build', 'chat');
    const key = uniqueKey();
    const spec = {
      source: { type: 'documents', document_ids: DOCUMENTS.map((d) => d.id) },
      template: CHAT_TEMPLATE,
    };
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => post(`/datasets/${datasetId}/versions`, key, spec)),
    );
    const created = answers.filter((a) => a.statusCode === 202 && replayed(a) === undefined);
    expect(created).toHaveLength(1);
    for (const a of answers) {
      if (a.statusCode === 202) expect(a.body).toBe(created[0].body);
      else
        expect(a.json<Problem>()).toMatchObject({
          status: 409,
          code: 'idempotency_request_in_progress',
        });
    }
    expect(await count('dataset_versions', `dataset_id = '${datasetId}'`)).toBe(1);

    const again = await post(`/datasets/${datasetId}/versions`, key, spec);
    expect(again.statusCode).toBe(202);
    expect(replayed(again)).toBe('true');
    expect(again.body).toBe(created[0].body);
    expect(await count('dataset_versions', `dataset_id = '${datasetId}'`)).toBe(1);

    // The path is part of the request: the same key on another dataset is a different request.
    const otherId = await app.createDataset('idem-build-other', 'chat');
    const elsewhere = await post(`/datasets/${otherId}/versions`, key, spec);
    expect(elsewhere.json<Problem>().code).toBe('idempotency_key_reused');
    await waitForVersions(datasetId);
  });

  it('makes one dataset from concurrent duplicate creates', async () => {
    const key = uniqueKey();
    const body = { name: 'idem-race', record_format: 'text' };
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => post('/datasets', key, body)),
    );
    expect(answers.filter((a) => a.statusCode === 201 && replayed(a) === undefined)).toHaveLength(
      1,
    );
    expect(answers.every((a) => a.statusCode === 201 || a.statusCode === 409)).toBe(true);
    expect(await count('datasets', `name = 'idem-race'`)).toBe(1);
  });

  it('replays a JSON ingest without starting a second task', async () => {
    const key = uniqueKey();
    const body = {
      documents: [{ id: 'idem-bg', text: 'Ein Dokument für eine Hintergrundaufgabe.' }],
      background: true,
    };
    const first = await post('/documents', key, body);
    expect(first.statusCode).toBe(202);
    const tasks = await count('corpus_ingest_tasks');
    const again = await post('/documents', key, body);
    expect(again.statusCode).toBe(202);
    expect(replayed(again)).toBe('true');
    expect(again.body).toBe(first.body);
    expect(await count('corpus_ingest_tasks')).toBe(tasks);
    await waitForTasks();
  });

  it('replays an upload (a new multipart boundary each time) without a second task', async () => {
    const key = uniqueKey();
    const upload = () => {
      const form = multipart(
        { background: 'true' },
        { name: 'idem.jsonl', content: '{"id":"idem-up","text":"Hochgeladen."}\n' },
      );
      return app.t.app.inject({
        method: 'POST',
        url: `${PREFIX}/documents/upload`,
        headers: {
          authorization: `Bearer ${app.t.tokens.trainer}`,
          'idempotency-key': key,
          ...form.headers,
        },
        payload: form.payload,
      });
    };
    const first = await upload();
    expect(first.statusCode).toBe(202);
    const tasks = await count('corpus_ingest_tasks');
    const again = await upload();
    expect(again.statusCode).toBe(202);
    expect(replayed(again)).toBe('true');
    expect(again.body).toBe(first.body);
    expect(await count('corpus_ingest_tasks')).toBe(tasks);
    await waitForTasks();
  });

  it('replays a version import without a second version', async () => {
    const datasetId = await app.createDataset('idem-import', 'text');
    const key = uniqueKey();
    const importFile = () => {
      const form = multipart(
        {},
        { name: 'data.jsonl', content: '{"text":"eins"}\n{"text":"zwei"}\n' },
      );
      return app.t.app.inject({
        method: 'POST',
        url: `${PREFIX}/datasets/${datasetId}/versions/import`,
        headers: {
          authorization: `Bearer ${app.t.tokens.trainer}`,
          'idempotency-key': key,
          ...form.headers,
        },
        payload: form.payload,
      });
    };
    const first = await importFile();
    expect(first.statusCode).toBe(201);
    const again = await importFile();
    expect(again.statusCode).toBe(201);
    expect(replayed(again)).toBe('true');
    expect(again.body).toBe(first.body);
    expect(await count('dataset_versions', `dataset_id = '${datasetId}'`)).toBe(1);
  });

  it('lets an expired key be used again, and purges expired keys', async () => {
    const key = uniqueKey();
    const body = { documents: [{ id: 'idem-exp', text: 'Abgelaufen.' }], background: true };
    const first = await post('/documents', key, body);
    expect(first.statusCode).toBe(202);
    await waitForTasks();
    await app.dataSource.query(
      `UPDATE idempotency_keys SET expires_at = '2000-01-01T00:00:00.000Z' WHERE idempotency_key = '${key}'`,
    );
    const tasks = await count('corpus_ingest_tasks');
    const second = await post('/documents', key, body);
    expect(second.statusCode).toBe(202);
    expect(replayed(second)).toBeUndefined();
    expect(second.body).not.toBe(first.body);
    expect(await count('corpus_ingest_tasks')).toBe(tasks + 1);
    await waitForTasks();

    await app.dataSource.query(
      `UPDATE idempotency_keys SET expires_at = '2000-01-01T00:00:00.000Z' WHERE idempotency_key = '${key}'`,
    );
    expect(await app.t.app.get(IdempotencyRepository).purgeExpired(true)).toBeGreaterThanOrEqual(1);
    expect(await count('idempotency_keys', `idempotency_key = '${key}'`)).toBe(0);
  });

  it('documents the header on every create route it guards, and only there', async () => {
    const doc = (await app.t.app.inject({ method: 'GET', url: '/docs-json' })).json<{
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>;
    }>();
    const guarded = Object.entries(doc.paths)
      .flatMap(([path, ops]) =>
        Object.entries(ops)
          .filter(([, op]) =>
            (op.parameters ?? []).some((p) => p.in === 'header' && p.name === 'Idempotency-Key'),
          )
          .map(([method]) => `${method.toUpperCase()} ${path}`),
      )
      .sort();
    expect(guarded).toEqual([
      `POST ${PREFIX}/datasets`,
      `POST ${PREFIX}/datasets/{id}/versions`,
      `POST ${PREFIX}/datasets/{id}/versions/import`,
      `POST ${PREFIX}/documents`,
      `POST ${PREFIX}/documents/upload`,
    ]);
  });
});

/** Handlers that fail on demand or wait, to pin down the in-progress and 5xx rules. */
@Controller('idempotency-fixtures')
class IdempotencyFixtureController {
  static failures = 0;
  static gate: Promise<void> = Promise.resolve();
  static calls = 0;

  @Post('flaky')
  @ForTrainers()
  @Idempotent()
  flaky(@Body() body: Record<string, unknown>): { id: string; body: Record<string, unknown> } {
    IdempotencyFixtureController.calls++;
    if (IdempotencyFixtureController.failures > 0) {
      IdempotencyFixtureController.failures--;
      throw new Error('the store is down');
    }
    return { id: newId(), body };
  }

  @Post('slow')
  @ForTrainers()
  @Idempotent()
  async slow(): Promise<{ id: string }> {
    IdempotencyFixtureController.calls++;
    await IdempotencyFixtureController.gate;
    return { id: newId() };
  }

  @Post('plain')
  @ForTrainers()
  plain(): { id: string } {
    IdempotencyFixtureController.calls++;
    return { id: newId() };
  }
}

describe.each(testEngines())('Idempotency-Key rules on the platform (%s)', (engine: Engine) => {
  let t: TestApp;
  let trainer: string;

  beforeAll(async () => {
    t = await startTestApp({ engine, controllers: [IdempotencyFixtureController] });
    trainer = await hs256Token({ sub: 'alice', roles: ['trainer'] });
  });
  afterAll(() => t.close());

  const post = (path: string, key: string, body: object = {}) =>
    t.app.inject({
      method: 'POST',
      url: `/api/training/idempotency-fixtures/${path}`,
      headers: { authorization: `Bearer ${trainer}`, 'idempotency-key': key },
      payload: body,
    });

  it('gives the key up after a 5xx, so a retry runs again', async () => {
    IdempotencyFixtureController.failures = 1;
    IdempotencyFixtureController.calls = 0;
    const key = `flaky-${newId()}`;
    const failed = await post('flaky', key, { a: 1 });
    expect(failed.statusCode).toBe(500);
    const retried = await post('flaky', key, { a: 1 });
    expect(retried.statusCode).toBe(201);
    expect(replayed(retried)).toBeUndefined();
    const replay = await post('flaky', key, { a: 1 });
    expect(replayed(replay)).toBe('true');
    expect(replay.body).toBe(retried.body);
    expect(IdempotencyFixtureController.calls).toBe(2);
  });

  it('answers 409 idempotency_request_in_progress while the first request runs', async () => {
    let open!: () => void;
    IdempotencyFixtureController.gate = new Promise<void>((resolve) => (open = resolve));
    IdempotencyFixtureController.calls = 0;
    const key = `slow-${newId()}`;
    const first = post('slow', key);
    // Let the first request claim the key and reach its handler.
    for (let i = 0; i < 200 && IdempotencyFixtureController.calls === 0; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const during = await post('slow', key);
    expect(during.statusCode).toBe(409);
    expect(during.json<Problem>().code).toBe('idempotency_request_in_progress');
    expect(during.headers['retry-after']).toBe('1');
    open();
    const done = await first;
    expect(done.statusCode).toBe(201);
    const after = await post('slow', key);
    expect(after.body).toBe(done.body);
    expect(replayed(after)).toBe('true');
    expect(IdempotencyFixtureController.calls).toBe(1);
  });

  it('ignores the header on routes without @Idempotent()', async () => {
    IdempotencyFixtureController.calls = 0;
    const key = `plain-${newId()}`;
    const a = await post('plain', key);
    const b = await post('plain', key);
    expect(a.body).not.toBe(b.body);
    expect(replayed(b)).toBeUndefined();
    expect(IdempotencyFixtureController.calls).toBe(2);
  });

  it('fingerprints canonical JSON: member order does not matter, values and array order do', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null, u: undefined } })).toBe(
      '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}',
    );
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }));
  });

  it('reads its time to live from CLARA_IDEMPOTENCY_TTL_HOURS (24 h by default)', () => {
    expect(t.config.idempotency.ttlHours).toBe(24);
    const config = loadConfig({
      env: { CLARA_ENVIRONMENT: 'testing', CLARA_IDEMPOTENCY_TTL_HOURS: '0.5' },
    });
    expect(config.idempotency.ttlHours).toBe(0.5);
  });
});
