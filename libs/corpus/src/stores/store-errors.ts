import { DomainError, ServiceUnavailableError } from '@clara/common';

import type { StoreRole } from '../domain/corpus.types.js';
import type { CorpusStore } from './store.interfaces.js';

const ROLE_NAMES: Record<StoreRole, string> = {
  relational: 'relational/keyword store',
  vector: 'vector store',
  graph: 'graph store',
  documents: 'documents store',
};

/** A store call that failed, naming the store; the HTTP answer is 503 or 502. */
export class StoreFailure extends DomainError {
  constructor(
    readonly store: StoreRole,
    readonly adapter: string,
    readonly unavailable: boolean,
    cause: unknown,
  ) {
    const reason = describe(cause);
    super(
      unavailable ? 503 : 502,
      unavailable ? 'store_unavailable' : 'store_failed',
      `${ROLE_NAMES[store]} (${adapter}) ${unavailable ? 'is unavailable' : 'failed'}: ${reason}`,
      { store, adapter },
    );
    this.cause = cause;
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const message = error.message.split('\n')[0].slice(0, 300);
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'ServiceUnavailable',
  'SessionExpired',
  '57P01', // PostgreSQL admin shutdown
  '57P03', // cannot connect now
  '08006',
  '08001',
  '08003',
]);

/** Network trouble, timeouts and "server is shutting down" mean unavailable; the rest failed. */
export function isUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    const { code, name, message, statusCode, scope } = e as {
      code?: unknown;
      name?: unknown;
      message?: unknown;
      statusCode?: unknown;
      scope?: unknown;
    };
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
    // nano marks connection-level failures (refused, reset, closed) with scope `socket`.
    if (scope === 'socket') return true;
    if (name === 'TimeoutError' || name === 'AbortError' || name === 'ChromaConnectionError') {
      return true;
    }
    if (typeof statusCode === 'number' && (statusCode >= 500 || statusCode === 429)) return true;
    if (
      typeof message === 'string' &&
      /fetch failed|connect ECONNREFUSED|socket hang up|other side closed|SocketError|Connection terminated|timeout|Failed to connect|Could not connect|server is not reachable|Pool is closed|Connection (was )?closed/i.test(
        message,
      )
    ) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Runs one store call, turning any failure into a {@link StoreFailure} naming the store. */
export async function inStore<T>(store: CorpusStore, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof StoreFailure || error instanceof ServiceUnavailableError) throw error;
    if (error instanceof DomainError && error.status < 500) throw error;
    throw new StoreFailure(store.role, store.adapter, isUnavailable(error), error);
  }
}

/** Fails with a `TimeoutError` (which counts as unavailable) when `promise` takes too long. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`${what} did not answer within ${ms} ms`);
      error.name = 'TimeoutError';
      reject(error);
    }, ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
