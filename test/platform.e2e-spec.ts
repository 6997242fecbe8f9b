import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { ServiceProbes } from '@clara/platform';

import { type TestApp, startTestApp } from './support/apps.js';
import { testEngines } from './support/databases.js';
import { FixtureController } from './support/fixture.controller.js';
import { hs256Token, unsignedToken } from './support/tokens.js';

const PREFIX = '/api/training';

describe.each(testEngines())('platform on %s', (engine) => {
  let t: TestApp;
  let admin: string;
  let trainer: string;
  let analyst: string;

  beforeAll(async () => {
    t = await startTestApp({ engine, controllers: [FixtureController] });
    [admin, trainer, analyst] = await Promise.all([
      hs256Token({ sub: 'root', roles: ['admin'] }),
      hs256Token({ sub: 'alice', roles: ['trainer'] }),
      hs256Token({ sub: 'bob', roles: ['analyst'] }),
    ]);
  });
  afterAll(() => t.close());

  const call = (
    method: 'GET' | 'POST',
    url: string,
    token?: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) =>
    t.app.inject({
      method,
      url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      ...(body !== undefined ? { payload: body as object } : {}),
    });

  const auditFor = async (requestId: string) => {
    const res = await call('GET', `${PREFIX}/audit?request_id=${requestId}`, admin);
    expect(res.statusCode).toBe(200);
    return res.json<{ data: Record<string, unknown>[] }>().data;
  };

  describe('health, metrics, docs', () => {
    it('serves liveness and readiness without a token', async () => {
      expect((await call('GET', '/health/live')).json()).toEqual({ status: 'ok' });
      const ready = await call('GET', '/health/ready');
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toMatchObject({ status: 'ok', details: { database: { status: 'up' } } });
    });

    it('answers 503 problem+json naming the check that is down, and recovers', async () => {
      const probes = t.app.get(ServiceProbes);
      probes.addReadinessCheck('vector_store', () =>
        Promise.reject(new Error('connection refused')),
      );
      try {
        const res = await call('GET', '/health/ready');
        expect(res.statusCode).toBe(503);
        expect(res.headers['content-type']).toContain('application/problem+json');
        expect(res.json()).toMatchObject({
          status: 503,
          details: {
            database: { status: 'up' },
            vector_store: { status: 'down', message: 'connection refused' },
          },
        });
      } finally {
        probes.removeReadinessCheck('vector_store');
      }
      expect((await call('GET', '/health/ready')).statusCode).toBe(200);
    });

    it('exposes Prometheus metrics with per-route request counts', async () => {
      await call('GET', '/health/live');
      const res = await call('GET', '/metrics');
      expect(res.headers['content-type']).toContain('text/plain');
      expect(res.body).toMatch(
        /clara_http_requests_total\{method="GET",route="\/health\/live",status="200"\} \d+/,
      );
      expect(res.body).toContain('clara_http_request_duration_seconds_bucket');
      expect(res.body).toContain('clara_process_resident_memory_bytes');
    });

    it('serves the OpenAPI document with bearer security and Swagger UI', async () => {
      const doc = (await call('GET', '/docs-json')).json<{
        components: { securitySchemes: Record<string, unknown> };
        paths: Record<string, Record<string, { security?: unknown[] }>>;
      }>();
      expect(doc.components.securitySchemes.bearer).toMatchObject({
        type: 'http',
        scheme: 'bearer',
      });
      expect(doc.paths[`${PREFIX}/audit`].get.security).toEqual([{ bearer: [] }]);
      expect(doc.paths[`${PREFIX}/status`]).toBeDefined();
      const ui = await call('GET', '/docs');
      expect(ui.statusCode).toBe(200);
      expect(ui.body).toContain('Swagger UI');
    });

    it('reports the service status to any role', async () => {
      const res = await call('GET', `${PREFIX}/status`, analyst);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        service: 'training',
        environment: 'testing',
        database: engine,
      });
    });
  });

  describe('request ids', () => {
    it('echoes a client request id and puts it on every log line of the request', async () => {
      const res = await call('GET', '/api/training/fixtures/boom', analyst, undefined, {
        'x-request-id': 'req-echo-123',
      });
      expect(res.headers['x-request-id']).toBe('req-echo-123');
      const lines = t.logs.lines.filter((l) => l.request_id === 'req-echo-123');
      expect(lines.length).toBeGreaterThanOrEqual(2);
      expect(lines.some((l) => l.msg === 'request failed')).toBe(true);
    });

    it('generates one when absent and replaces unsafe ones', async () => {
      const generated = await call('GET', '/health/live');
      expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const unsafe = await call('GET', '/health/live', undefined, undefined, {
        'x-request-id': 'bad id\nwith newline',
      });
      expect(unsafe.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  describe('problem+json', () => {
    it('400 names every bad field, nested ones by path', async () => {
      const res = await call('POST', `${PREFIX}/fixtures/items`, trainer, {
        name: 'x',
        settings: { level: 99 },
        extra: 1,
      });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      const problem = res.json<{ errors: { field: string; in: string }[] }>();
      expect(problem).toMatchObject({
        status: 400,
        code: 'validation_failed',
        title: 'Bad Request',
        request_id: res.headers['x-request-id'],
      });
      expect(problem.errors.map((e) => e.field).sort()).toEqual([
        'extra',
        'name',
        'settings.level',
      ]);
      expect(problem.errors.every((e) => e.in === 'body')).toBe(true);
    });

    it('400 for malformed JSON', async () => {
      const res = await call('POST', `${PREFIX}/fixtures/items`, trainer, '{"name":', {
        'content-type': 'application/json',
      });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
    });

    it('404 for an unknown route', async () => {
      const res = await call('GET', `${PREFIX}/nothing-here`, analyst);
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({
        status: 404,
        type: expect.stringContaining('/problems/'),
        request_id: expect.any(String),
      });
    });

    it('500 says nothing internal and carries the request id the log line has', async () => {
      const res = await call('GET', `${PREFIX}/fixtures/boom`, analyst);
      expect(res.statusCode).toBe(500);
      expect(res.body).not.toContain('hunter2');
      expect(res.body).not.toContain('at ');
      const problem = res.json<{ request_id: string; code: string }>();
      expect(problem.code).toBe('internal_error');
      const logged = t.logs.lines.find(
        (l) => l.request_id === problem.request_id && l.level === 50,
      );
      expect(logged).toBeDefined();
    });
  });

  describe('audit', () => {
    it('records a successful mutation with subject, roles, resource and request id', async () => {
      const res = await call(
        'POST',
        `${PREFIX}/fixtures/items`,
        trainer,
        { name: 'first', settings: { level: 2 } },
        { 'x-request-id': `audit-ok-${engine}` },
      );
      expect(res.statusCode).toBe(201);
      const [entry] = await auditFor(`audit-ok-${engine}`);
      expect(entry).toMatchObject({
        service: 'training',
        subject: 'alice',
        roles: ['trainer'],
        action: 'fixture.create',
        resource_type: 'fixture',
        resource_id: res.json<{ id: string }>().id,
        outcome: 'success',
        status_code: 201,
        method: 'POST',
        path: `${PREFIX}/fixtures/items`,
        request_id: `audit-ok-${engine}`,
        client_address: expect.any(String),
      });
    });

    it('records a 401 (no subject) and a 403 (who was refused)', async () => {
      await call('GET', `${PREFIX}/audit`, undefined, undefined, {
        'x-request-id': `audit-401-${engine}`,
      });
      await call('GET', `${PREFIX}/audit`, analyst, undefined, {
        'x-request-id': `audit-403-${engine}`,
      });
      expect(await auditFor(`audit-401-${engine}`)).toEqual([
        expect.objectContaining({
          subject: null,
          outcome: 'denied',
          status_code: 401,
          action: 'audit.list',
        }),
      ]);
      expect(await auditFor(`audit-403-${engine}`)).toEqual([
        expect.objectContaining({
          subject: 'bob',
          roles: ['analyst'],
          outcome: 'denied',
          status_code: 403,
        }),
      ]);
    });

    it('records a failed mutation and does not record reads', async () => {
      await call(
        'POST',
        `${PREFIX}/fixtures/items`,
        trainer,
        {},
        { 'x-request-id': `audit-bad-${engine}` },
      );
      await call('GET', `${PREFIX}/fixtures/items/abc`, analyst, undefined, {
        'x-request-id': `audit-read-${engine}`,
      });
      expect(await auditFor(`audit-bad-${engine}`)).toEqual([
        expect.objectContaining({ outcome: 'failure', status_code: 400 }),
      ]);
      expect(await auditFor(`audit-read-${engine}`)).toEqual([]);
    });

    it('is admin-only, paginated newest first, filterable, and cannot be changed through the API', async () => {
      for (let i = 0; i < 3; i++)
        await call('POST', `${PREFIX}/fixtures/items`, trainer, {
          name: `n${i}`,
          settings: { level: 1 },
        });
      const first = await call('GET', `${PREFIX}/audit?limit=2&subject=alice`, admin);
      const page = first.json<{
        data: { occurred_at: string; subject: string }[];
        next_cursor: string;
        has_more: boolean;
      }>();
      expect(page.data).toHaveLength(2);
      expect(page.has_more).toBe(true);
      expect(page.data.every((e) => e.subject === 'alice')).toBe(true);
      expect(page.data[0].occurred_at >= page.data[1].occurred_at).toBe(true);
      const second = await call(
        'GET',
        `${PREFIX}/audit?limit=2&subject=alice&cursor=${page.next_cursor}`,
        admin,
      );
      expect(second.json<{ data: unknown[] }>().data.length).toBeGreaterThan(0);
      expect((await call('GET', `${PREFIX}/audit?cursor=garbage`, admin)).json()).toMatchObject({
        status: 400,
        errors: [{ field: 'cursor' }],
      });
      for (const method of ['DELETE', 'PUT', 'PATCH'] as const) {
        const res = await t.app.inject({
          method,
          url: `${PREFIX}/audit`,
          headers: { authorization: `Bearer ${admin}` },
        });
        expect(res.statusCode).toBe(404);
      }
    });
  });

  describe('HS256 tokens', () => {
    const status = (token?: string) => call('GET', `${PREFIX}/status`, token);

    it.each([
      ['no token', undefined, 'missing_token'],
      ['garbage', 'not-a-jwt', 'invalid_token'],
      ['alg none', unsignedToken({ roles: ['admin'] }), 'algorithm_not_allowed'],
    ])('refuses %s with 401', async (_name, token, code) => {
      const res = await status(token);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ status: 401, code });
    });

    it('refuses a tampered token', async () => {
      const token = await hs256Token({ roles: ['analyst'] });
      const [h, p, s] = token.split('.');
      const forged = Buffer.from(
        JSON.stringify({
          ...JSON.parse(Buffer.from(p, 'base64url').toString()),
          realm_access: { roles: ['admin'] },
        }),
      ).toString('base64url');
      expect((await status(`${h}.${forged}.${s}`)).json()).toMatchObject({
        code: 'invalid_signature',
      });
    });

    it('refuses a token signed with another secret', async () => {
      const res = await status(
        await hs256Token({ roles: ['admin'] }, 'another-secret-another-secret-0000'),
      );
      expect(res.json()).toMatchObject({ status: 401, code: 'invalid_signature' });
    });

    it('refuses an expired token (beyond the clock tolerance), accepts one within it', async () => {
      expect(
        (await status(await hs256Token({ roles: ['analyst'], expiresIn: -120 }))).json(),
      ).toMatchObject({ code: 'token_expired' });
      expect(
        (await status(await hs256Token({ roles: ['analyst'], expiresIn: -5 }))).statusCode,
      ).toBe(200);
    });

    it('refuses a wrong issuer or audience', async () => {
      expect(
        (await status(await hs256Token({ roles: ['analyst'], iss: 'evil' }))).json(),
      ).toMatchObject({ code: 'invalid_token_claims' });
      expect(
        (await status(await hs256Token({ roles: ['analyst'], aud: 'other-app' }))).json(),
      ).toMatchObject({ code: 'invalid_token_claims' });
    });

    it('403 for a valid token without a Clara role; unknown roles are ignored', async () => {
      const res = await status(
        await hs256Token({ roles: ['offline_access', 'uma_authorization'] }),
      );
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ code: 'no_role' });
    });

    it('reads roles from realm_access, resource_access.<client> and roles', async () => {
      expect(
        (await status(await hs256Token({ roles: ['analyst'], roleClaim: 'roles' }))).statusCode,
      ).toBe(200);
      expect(
        (await status(await hs256Token({ roles: ['analyst'], roleClaim: 'realm_access' })))
          .statusCode,
      ).toBe(200);
      // No client id is configured in this app, so client roles grant nothing here.
      expect(
        (await status(await hs256Token({ roles: ['analyst'], roleClaim: 'resource_access' })))
          .statusCode,
      ).toBe(403);
    });

    it('closes a route that declares no roles, even for admins', async () => {
      const res = await call('POST', `${PREFIX}/fixtures/undeclared`, admin);
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ code: 'route_not_declared' });
    });

    it('enforces roles per route: trainers create, analysts do not', async () => {
      const body = { name: 'ok', settings: { level: 1 } };
      expect((await call('POST', `${PREFIX}/fixtures/items`, trainer, body)).statusCode).toBe(201);
      expect((await call('POST', `${PREFIX}/fixtures/items`, admin, body)).statusCode).toBe(201);
      const denied = await call('POST', `${PREFIX}/fixtures/items`, analyst, body);
      expect(denied.statusCode).toBe(403);
      expect(denied.json()).toMatchObject({
        code: 'insufficient_role',
        required_roles: ['trainer', 'admin'],
      });
    });
  });
});
