import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { type TestApp } from './support/apps.js';
import { hs256Token } from './support/tokens.js';
import { type JobBody, startTrainingApp, waitForJob, writeTrainFile } from './support/training.js';

interface SseMessage {
  id?: string;
  event?: string;
  data: { seq: number; type: string; data: Record<string, unknown> };
}

/** Reads a text/event-stream until the server ends it; returns every message, in order. */
async function readStream(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; contentType: string; messages: SseMessage[] }> {
  const res = await fetch(url, { headers });
  const messages: SseMessage[] = [];
  let buffer = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const message: Partial<SseMessage> = {};
      for (const line of block.split('\n')) {
        const [field, ...rest] = line.split(':');
        const value = rest.join(':').replace(/^ /, '');
        if (field === 'id') message.id = value;
        if (field === 'event') message.event = value;
        if (field === 'data') message.data = JSON.parse(value) as SseMessage['data'];
      }
      if (message.data && message.event !== 'keepalive') messages.push(message as SseMessage);
    }
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', messages };
}

describe('live job events (Server-Sent Events)', () => {
  let t: TestApp;
  let base: string;
  let alice: string;
  let trainFile: string;

  beforeAll(async () => {
    t = await startTrainingApp('sqlite', { CLARA_WORKER_SLOTS: '1' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    trainFile = writeTrainFile(t.config.dataDir);
    alice = await hs256Token({ sub: 'alice', roles: ['trainer'] });
  });
  afterAll(() => t.close());

  const post = async (url: string, body?: object) =>
    (
      await t.app.inject({
        method: 'POST',
        url,
        headers: { authorization: `Bearer ${alice}` },
        ...(body ? { payload: body } : {}),
      })
    ).json<JobBody>();

  it('delivers every event in order to a client connected before the job started, then ends', async () => {
    // Occupy the only slot so the job under test waits in the queue while we connect.
    const blocker = await post('/api/training/jobs', {
      base_model: 'fixture/slow',
      data: { train_file: trainFile },
      gpus: 0,
      hyperparameters: { max_steps: 400 },
    });
    await waitForJob(t.app.inject.bind(t.app), alice, blocker.id, ['running']);
    const job = await post('/api/training/jobs', {
      base_model: 'fixture/success',
      data: { train_file: trainFile },
      gpus: 0,
      hyperparameters: { max_steps: 6 },
    });
    expect(job.status).toBe('queued');

    const streaming = readStream(`${base}/api/training/jobs/${job.id}/events/stream`, {
      authorization: `Bearer ${alice}`,
    });
    await new Promise((r) => setTimeout(r, 300));
    await post(`/api/training/jobs/${blocker.id}/cancel`);
    const { status, contentType, messages } = await streaming;

    expect(status).toBe(200);
    expect(contentType).toContain('text/event-stream');
    expect(messages.map((m) => m.data.seq)).toEqual(messages.map((_, i) => i + 1));
    expect(messages.map((m) => m.id)).toEqual(messages.map((m) => String(m.data.seq)));
    expect(messages[0]).toMatchObject({ event: 'status', data: { data: { status: 'queued' } } });
    expect(messages.filter((m) => m.event === 'progress').map((m) => m.data.data.step)).toEqual([
      1, 2, 3, 4, 5, 6,
    ]);
    expect(messages.at(-1)).toMatchObject({
      event: 'status',
      data: { data: { status: 'succeeded' } },
    });

    // What the stream delivered is exactly the stored history.
    const history = (
      await t.app.inject({
        method: 'GET',
        url: `/api/training/jobs/${job.id}/events?limit=1000`,
        headers: { authorization: `Bearer ${alice}` },
      })
    ).json<{ data: { seq: number }[] }>().data;
    expect(messages.map((m) => m.data.seq)).toEqual(history.map((e) => e.seq));

    // Reconnecting with Last-Event-ID resumes right after it, missing nothing.
    const resumed = await readStream(`${base}/api/training/jobs/${job.id}/events/stream`, {
      authorization: `Bearer ${alice}`,
      'last-event-id': '5',
    });
    expect(resumed.messages.map((m) => m.data.seq)).toEqual(
      history.filter((e) => e.seq > 5).map((e) => e.seq),
    );
  });

  it('requires a token like every other route', async () => {
    const res = await fetch(
      `${base}/api/training/jobs/0190a6c1-7b7a-7000-8000-000000000000/events/stream`,
    );
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
  });
});
