import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { HashingEmbeddingProvider } from './hashing-embedding.provider.js';
import { OpenAiCompatibleEmbeddingProvider } from './openai-compatible-embedding.provider.js';

/** A tiny local `/v1/embeddings` endpoint whose behaviour each test scripts. */
describe('OpenAiCompatibleEmbeddingProvider', () => {
  let server: Server;
  let url: string;
  const requests: { auth?: string; body: { model: string; input: string[] } }[] = [];
  let script: ((input: string[]) => { status: number; body: unknown })[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      req.on('end', () => {
        const body = JSON.parse(raw) as { model: string; input: string[] };
        requests.push({ auth: req.headers.authorization, body });
        const step = script.shift() ?? ((input: string[]) => ok(input));
        const { status, body: reply } = step(body.input);
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const ok = (input: string[]) => ({
    status: 200,
    body: { data: input.map((_, index) => ({ index, embedding: [index, 1, 0] })).reverse() },
  });
  const provider = (
    extra: Partial<ConstructorParameters<typeof OpenAiCompatibleEmbeddingProvider>[0]> = {},
  ) =>
    new OpenAiCompatibleEmbeddingProvider({
      url,
      model: 'test-model',
      apiKey: 'sk-test',
      dimensions: 3,
      batchSize: 2,
      timeoutMs: 2000,
      maxRetries: 2,
      backoffMs: 5,
      ...extra,
    });

  it('batches inputs, sends the model and key, and orders results by index', async () => {
    requests.length = 0;
    script = [];
    const vectors = await provider().embed(['a', 'b', 'c']);
    expect(requests.map((r) => r.body.input)).toEqual([['a', 'b'], ['c']]);
    expect(requests[0]).toMatchObject({ auth: 'Bearer sk-test', body: { model: 'test-model' } });
    expect(vectors.map((v) => Array.from(v))).toEqual([
      [0, 1, 0],
      [1, 1, 0],
      [0, 1, 0],
    ]);
  });

  it('retries 429 and 5xx with back-off, then succeeds', async () => {
    script = [() => ({ status: 429, body: {} }), () => ({ status: 503, body: {} })];
    const [vector] = await provider().embed(['x']);
    expect(Array.from(vector)).toEqual([0, 1, 0]);
  });

  it('gives up with a 503 naming the endpoint after the retries', async () => {
    script = [0, 1, 2].map(() => () => ({ status: 500, body: {} }));
    await expect(provider().embed(['x'])).rejects.toMatchObject({
      status: 503,
      code: 'embedding_provider_unavailable',
      message: expect.stringContaining('/v1/embeddings'),
    });
  });

  it('fails clearly on a refused request and on a wrong dimension', async () => {
    script = [() => ({ status: 401, body: { error: 'bad key' } })];
    await expect(provider().embed(['x'])).rejects.toMatchObject({
      status: 502,
      message: expect.stringContaining('HTTP 401'),
    });
    script = [];
    await expect(provider({ dimensions: 4 }).embed(['x'])).rejects.toMatchObject({
      message: expect.stringContaining('CLARA_EMBEDDING_DIMENSIONS is 4'),
    });
  });

  it('reports an unreachable endpoint as unavailable', async () => {
    const gone = new OpenAiCompatibleEmbeddingProvider({
      url: 'http://127.0.0.1:1/v1',
      model: 'm',
      dimensions: 3,
      batchSize: 8,
      timeoutMs: 500,
      maxRetries: 1,
      backoffMs: 1,
    });
    await expect(gone.embed(['x'])).rejects.toMatchObject({ status: 503 });
  });
});

describe('HashingEmbeddingProvider', () => {
  const hashing = new HashingEmbeddingProvider(256);
  const cos = (a: Float32Array, b: Float32Array) => a.reduce((sum, v, i) => sum + v * b[i], 0);

  it('is deterministic, unit length, and lexical (shared word parts score higher)', () => {
    const a = hashing.embedOne('Brandschutzverordnung für Gebäude');
    expect(Array.from(a)).toEqual(
      Array.from(hashing.embedOne('Brandschutzverordnung für Gebäude')),
    );
    expect(cos(a, a)).toBeCloseTo(1, 5);
    const related = cos(a, hashing.embedOne('Brandschutz in Gebäuden'));
    const unrelated = cos(a, hashing.embedOne('Fahrradstellplätze am Bahnhof'));
    expect(related).toBeGreaterThan(unrelated + 0.2);
    expect(Array.from(hashing.embedOne('der die das'))).toEqual(new Array(256).fill(0));
  });
});
