import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { ServiceProbes } from '@clara/platform';

import { type CorpusApp, PREFIX, startCorpusApp } from './support/corpus-app.js';
import {
  dropCouchDatabase,
  dropNeo4jNamespace,
  testServers,
  uniqueNamespace,
} from './support/corpus-stores.js';
import { TcpSwitch } from './support/tcp-switch.js';

type Role = 'vector' | 'graph' | 'documents';

const servers = testServers();
const cases: { role: Role; server: string; env: (url: string) => Record<string, string> }[] = [];
if (servers.chroma)
  cases.push({ role: 'vector', server: servers.chroma, env: (url) => ({ CHROMA_URL: url }) });
if (servers.neo4j) {
  const { user, password } = servers.neo4j;
  cases.push({
    role: 'graph',
    server: servers.neo4j.url,
    env: (url) => ({
      NEO4J_URL: url.replace(/^http/, 'bolt'),
      NEO4J_USER: user,
      NEO4J_PASSWORD: password,
    }),
  });
}
if (servers.couchdb)
  cases.push({ role: 'documents', server: servers.couchdb, env: (url) => ({ COUCHDB_URL: url }) });

/**
 * A store server that goes away makes ingest and search answer 503 naming that store,
 * `/health/ready` report it down, and nothing half-written; when it comes back the same
 * process recovers without a restart. The server sits behind a TCP relay the test
 * switches off and on.
 */
// Without servers only the suite below runs (CLARA_REQUIRE_SERVERS=1 makes that an error).
if (cases.length > 0)
  describe.each(cases.map((c) => [c.role, c] as const))('%s store outage', (role, c) => {
    let t: CorpusApp;
    let relay: TcpSwitch;
    const namespace = uniqueNamespace();

    beforeAll(async () => {
      const upstream = new URL(c.server);
      relay = new TcpSwitch({ host: upstream.hostname, port: Number(upstream.port) });
      const port = await relay.start();
      upstream.host = `127.0.0.1:${port}`;
      t = await startCorpusApp('embedded', {
        ...c.env(upstream.toString().replace(/\/$/, '')),
        CLARA_CORPUS_NAMESPACE: namespace,
        CLARA_STORE_TIMEOUT_MS: '3000',
      });
      relay.restore();
      const seed = await call('POST', '/documents', {
        documents: [{ id: 'seed-doc', text: 'Rauchmelder im Flur sind Pflicht.' }],
      });
      expect(seed.statusCode).toBe(201);
    }, 60_000);
    afterAll(async () => {
      await t.close();
      await relay.stop();
      if (role === 'graph') await dropNeo4jNamespace(servers.neo4j!, namespace);
      if (role === 'documents') await dropCouchDatabase(servers.couchdb!, namespace);
    });

    const call = (method: 'GET' | 'POST', url: string, payload?: object) =>
      t.app.inject({
        method,
        url: url.startsWith('/health') ? url : `${PREFIX}${url}`,
        headers: { authorization: `Bearer ${t.tokens.trainer}` },
        ...(payload ? { payload } : {}),
      });
    const doc = {
      id: 'outage-doc',
      text: 'Ein Dokument über Rauchmelder in Schlafräumen.',
      relations: [{ type: 'cites', target: 'x' }],
    };

    it('answers 503 naming the store while it is down, writing nothing anywhere', async () => {
      relay.down();
      const ingest = await call('POST', '/documents', { documents: [doc] });
      expect(ingest.statusCode).toBe(503);
      expect(ingest.json()).toMatchObject({
        code: 'store_unavailable',
        store: role,
        document_id: 'outage-doc',
      });
      expect(ingest.json<{ detail: string }>().detail).toContain(
        `${role === 'documents' ? 'documents' : role} store`,
      );

      // Readiness names the role that is down. (The HTTP status of /health/ready when a
      // check fails is the platform's; see the note in docs/corpus.md.)
      const ready = await call('GET', '/health/ready');
      expect(ready.statusCode).not.toBe(200);
      const check = t.app
        .get(ServiceProbes)
        .readinessChecks()
        .find(([name]) => name === `corpus_${role}`)!;
      await expect(check[1]()).rejects.toThrow();

      if (role === 'documents') {
        // Search does not read the documents store; reading a document does.
        expect((await call('POST', '/search', { query: 'Rauchmelder' })).statusCode).toBe(200);
        const read = await call('GET', '/documents/seed-doc');
        expect(read.statusCode).toBe(503);
        expect(read.json()).toMatchObject({ code: 'store_unavailable', store: role });
      } else {
        const search = await call('POST', '/search', { query: 'Rauchmelder' });
        expect(search.statusCode).toBe(503);
        expect(search.json()).toMatchObject({ code: 'store_unavailable', store: role });
      }
      relay.restore();
      expect((await call('GET', '/documents/outage-doc')).statusCode).toBe(404);
      const hits = (await call('POST', '/search', { query: 'Rauchmelder Schlafräumen' })).json<{
        data: { document_id: string }[];
      }>().data;
      expect(hits.map((h) => h.document_id)).not.toContain('outage-doc');
    });

    it('recovers without a restart once the store is back', async () => {
      relay.restore();
      const ingest = await call('POST', '/documents', { documents: [doc] });
      expect(ingest.statusCode).toBe(201);
      expect((await call('GET', '/health/ready')).statusCode).toBe(200);
      const hits = (await call('POST', '/search', { query: 'Rauchmelder Schlafräumen' })).json<{
        data: { document_id: string }[];
      }>().data;
      expect(hits.map((h) => h.document_id)).toContain('outage-doc');
      expect((await call('GET', '/documents/outage-doc')).statusCode).toBe(200);
    });
  });

/** Runs without any server: a configured store that never answers. */
describe('unreachable store at start', () => {
  let t: CorpusApp;
  let relay: TcpSwitch;

  beforeAll(async () => {
    relay = new TcpSwitch({ host: '127.0.0.1', port: 1 });
    const port = await relay.start();
    t = await startCorpusApp('embedded', {
      CHROMA_URL: `http://127.0.0.1:${port}`,
      CLARA_STORE_TIMEOUT_MS: '2000',
    });
  }, 60_000);
  afterAll(async () => {
    await t.close();
    await relay.stop();
  });

  it('starts anyway, and ingest and search answer 503 naming the vector store', async () => {
    const headers = { authorization: `Bearer ${t.tokens.trainer}` };
    const ingest = await t.app.inject({
      method: 'POST',
      url: `${PREFIX}/documents`,
      headers,
      payload: { documents: [{ id: 'x', text: 'Kein Vektorspeicher.' }] },
    });
    expect(ingest.statusCode).toBe(503);
    expect(ingest.json()).toMatchObject({
      code: 'store_unavailable',
      store: 'vector',
      adapter: 'chroma',
    });
    const search = await t.app.inject({
      method: 'POST',
      url: `${PREFIX}/search`,
      headers,
      payload: { query: 'Vektor' },
    });
    expect(search.json()).toMatchObject({ status: 503, store: 'vector' });
    const list = await t.app.inject({ method: 'GET', url: `${PREFIX}/documents`, headers });
    expect(list.json()).toMatchObject({ data: [] });
  });
});
