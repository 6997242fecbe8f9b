import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { newId } from '@clara/common';
import { LessThanOrEqual, type Repository } from 'typeorm';

import { IdempotencyKeyEntity } from './idempotency-key.entity.js';

/** Whose key on which route: the unique scope of one `Idempotency-Key`. */
export interface IdempotencyScope {
  subject: string;
  service: string;
  /** Method and route template, e.g. `POST /api/datasets/datasets/:id/versions`. */
  route: string;
  key: string;
}

/** What a request with a key may do: run (it claimed the key) or not, and why. */
export type IdempotencyClaim =
  | { outcome: 'claimed'; id: string }
  | { outcome: 'replay'; statusCode: number; body: string | null }
  | { outcome: 'reused' }
  | { outcome: 'in_progress' };

/** Expired keys are deleted at most this often per process, on the way to a claim. */
const PURGE_INTERVAL_MS = 60_000;

/**
 * Every query on `idempotency_keys`. Each step is one statement, atomic on its own (no
 * transaction: on SQLite the process shares one connection, so an async transaction would
 * take in other requests' statements). The claim is an INSERT that the unique index lets
 * exactly one request win.
 */
@Injectable()
export class IdempotencyRepository {
  private lastPurge = 0;

  constructor(
    @InjectRepository(IdempotencyKeyEntity)
    private readonly keys: Repository<IdempotencyKeyEntity>,
  ) {}

  async claim(
    scope: IdempotencyScope,
    fingerprint: string,
    requestId: string | null,
    ttlMs: number,
  ): Promise<IdempotencyClaim> {
    await this.purgeExpired();
    // A second round only when the row in the way had expired and was deleted.
    for (let round = 0; round < 3; round++) {
      const now = Date.now();
      const id = newId();
      await this.keys
        .createQueryBuilder()
        .insert()
        .into(IdempotencyKeyEntity)
        .values({
          id,
          ...scope,
          fingerprint,
          state: 'in_progress',
          statusCode: null,
          responseBody: null,
          requestId,
          createdAt: iso(now),
          completedAt: null,
          expiresAt: iso(now + ttlMs),
        })
        .orIgnore()
        .execute();
      const row = await this.keys.findOneBy({ ...scope });
      if (!row) continue;
      if (row.id === id) return { outcome: 'claimed', id };
      if (row.expiresAt <= iso(now)) {
        await this.keys.delete({ id: row.id, expiresAt: LessThanOrEqual(iso(now)) });
        continue;
      }
      if (row.fingerprint !== fingerprint) return { outcome: 'reused' };
      if (row.state === 'in_progress') return { outcome: 'in_progress' };
      return { outcome: 'replay', statusCode: row.statusCode ?? 200, body: row.responseBody };
    }
    return { outcome: 'in_progress' };
  }

  /** Stores the response of a claimed key; it is replayed until `ttlMs` from now. */
  async complete(
    id: string,
    statusCode: number,
    body: string | null,
    ttlMs: number,
  ): Promise<void> {
    const now = Date.now();
    await this.keys.update(
      { id, state: 'in_progress' },
      {
        state: 'done',
        statusCode,
        responseBody: body,
        completedAt: iso(now),
        expiresAt: iso(now + ttlMs),
      },
    );
  }

  /** Gives a claimed key up (the request failed on the server side): a retry runs again. */
  async release(id: string): Promise<void> {
    await this.keys.delete({ id, state: 'in_progress' });
  }

  /** Deletes expired keys, at most once a minute (`force` for tests and operators). */
  async purgeExpired(force = false): Promise<number> {
    const now = Date.now();
    if (!force && now - this.lastPurge < PURGE_INTERVAL_MS) return 0;
    this.lastPurge = now;
    const result = await this.keys.delete({ expiresAt: LessThanOrEqual(iso(now)) });
    return result.affected ?? 0;
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
