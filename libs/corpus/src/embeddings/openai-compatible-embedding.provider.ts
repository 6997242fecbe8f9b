import { setTimeout as sleep } from 'node:timers/promises';

import { DomainError, ServiceUnavailableError } from '@clara/common';

import type { EmbeddingProvider } from './embedding-provider.js';

export interface OpenAiCompatibleOptions {
  /** Base URL, e.g. `http://127.0.0.1:11434/v1`; `/embeddings` is appended. */
  url: string;
  model: string;
  apiKey?: string;
  dimensions: number;
  batchSize: number;
  timeoutMs: number;
  maxRetries: number;
  /** First back-off delay in milliseconds (doubles per retry, with jitter). */
  backoffMs?: number;
}

interface EmbeddingsResponse {
  data?: { index?: number; embedding?: unknown }[];
}

/**
 * Any `/v1/embeddings` endpoint (Ollama, vLLM, TEI, OpenAI): batches requests, retries
 * network errors, 429 and 5xx with exponential back-off, and says clearly what went wrong.
 */
export class OpenAiCompatibleEmbeddingProvider implements EmbeddingProvider {
  readonly name: string;
  readonly dimensions: number;
  private readonly endpoint: string;

  constructor(private readonly options: OpenAiCompatibleOptions) {
    this.name = `openai-compatible:${options.model}`;
    this.dimensions = options.dimensions;
    const base = options.url.replace(/\/+$/, '');
    this.endpoint = base.endsWith('/embeddings') ? base : `${base}/embeddings`;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += this.options.batchSize) {
      out.push(...(await this.embedBatch(texts.slice(i, i + this.options.batchSize))));
    }
    return out;
  }

  private async embedBatch(input: string[]): Promise<Float32Array[]> {
    const backoff = this.options.backoffMs ?? 250;
    let lastProblem = '';
    for (let attempt = 0; attempt <= this.options.maxRetries; attempt++) {
      if (attempt > 0) await sleep(backoff * 2 ** (attempt - 1) * (0.75 + Math.random() / 2));
      let response: Response;
      try {
        response = await fetch(this.endpoint, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
          },
          body: JSON.stringify({ model: this.options.model, input }),
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
      } catch (error) {
        lastProblem = `request failed: ${(error as Error).message}`;
        continue;
      }
      if (response.status === 429 || response.status >= 500) {
        lastProblem = `HTTP ${response.status}`;
        await response.body?.cancel();
        continue;
      }
      if (!response.ok) {
        const detail = (await response.text()).slice(0, 300);
        throw new DomainError(
          502,
          'embedding_provider_failed',
          `the embedding endpoint refused the request (HTTP ${response.status}): ${detail}`,
          { store: 'embeddings' },
        );
      }
      return this.parse((await response.json()) as EmbeddingsResponse, input.length);
    }
    throw new ServiceUnavailableError(
      'embedding_provider_unavailable',
      `the embedding endpoint ${this.endpoint} did not answer after ${this.options.maxRetries + 1} attempts (${lastProblem})`,
      { store: 'embeddings' },
    );
  }

  private parse(body: EmbeddingsResponse, expected: number): Float32Array[] {
    const fail = (why: string) =>
      new DomainError(502, 'embedding_provider_failed', `the embedding endpoint ${why}`, {
        store: 'embeddings',
      });
    if (!Array.isArray(body.data) || body.data.length !== expected) {
      throw fail(`returned ${body.data?.length ?? 'no'} embeddings for ${expected} inputs`);
    }
    const ordered = [...body.data].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    return ordered.map((item) => {
      const vector = item.embedding;
      if (!Array.isArray(vector) || !vector.every((v) => typeof v === 'number')) {
        throw fail('returned an embedding that is not a list of numbers');
      }
      if (vector.length !== this.dimensions) {
        throw fail(
          `returned ${vector.length}-dimensional embeddings; CLARA_EMBEDDING_DIMENSIONS is ${this.dimensions}`,
        );
      }
      return Float32Array.from(vector);
    });
  }
}
