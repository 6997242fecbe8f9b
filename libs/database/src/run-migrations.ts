import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import type { DataSource, Migration } from 'typeorm';

/** Arbitrary constant: the PostgreSQL advisory lock every Clara migrator takes. */
const MIGRATION_LOCK_KEY = 4_568_000;

/**
 * Applies pending migrations while holding an exclusive lock, so two processes starting
 * together (both services, several replicas) never run the same migration twice.
 */
export async function runMigrationsExclusively(dataSource: DataSource): Promise<Migration[]> {
  if (dataSource.options.type === 'postgres') {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      return await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
      await runner.release();
    }
  }
  const lockPath = `${String(dataSource.options.database)}.migrate.lock`;
  await acquireFileLock(lockPath);
  try {
    return await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    removeIfPresent(lockPath);
  }
}

async function acquireFileLock(path: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // The lock appears atomically with our pid already in it (hard link of a private file).
  const mine = `${path}.${process.pid}`;
  writeFileSync(mine, String(process.pid));
  try {
    for (;;) {
      try {
        linkSync(mine, path);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        // Someone else holds the lock.
        if (holderIsGone(path)) {
          removeIfPresent(path);
          continue;
        }
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for migration lock ${path}`, { cause: error });
        }
        await sleep(100);
      }
    }
  } finally {
    removeIfPresent(mine);
  }
}

function removeIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
/** A lock left by a process that died is stale and may be broken. */
function holderIsGone(path: string): boolean {
  try {
    const pid = Number(readFileSync(path, 'utf8'));
    if (!Number.isInteger(pid) || pid <= 0) return true;
    process.kill(pid, 0);
    return false;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOENT: released meanwhile, try again; ESRCH: the holder died; EPERM: alive.
    return code !== 'EPERM' && code !== 'ENOENT';
  }
}
