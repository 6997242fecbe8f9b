import { randomBytes } from 'node:crypto';
import type { ReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { Inject, Injectable, Logger } from '@nestjs/common';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';

import type { Split } from '../domain/record-format.js';
import { EXPORT_LAYOUT, type ExportFormat } from './file-names.js';

/** One export file of one version: what its bytes depend on besides the records. */
export interface ExportKey {
  datasetId: string;
  versionId: string;
  split: Split;
  format: ExportFormat;
  metadata: boolean;
}

export interface KeptFile {
  size: number;
  body: ReadStream;
}

/** Ids are ours (UUIDs), never a client's string, but a path is only built from a safe one. */
const SAFE_ID = /^[0-9a-f-]{36}$/;
const TEMP_SUFFIX = '.tmp';
const READ_CHUNK_BYTES = 1 << 20;

/**
 * Export files kept on disk once written, `<dataDir>/datasets/exports/<layout>/<dataset>/
 * <version>/<split>.<format>.<meta|plain>`. A version is immutable, so a kept file is valid
 * for as long as its version exists; the layout folder changes whenever the encoders' bytes
 * do (`EXPORT_LAYOUT`). A file is written beside its name and renamed into place only when
 * complete and flushed, so a reader never sees part of one; anything else in the folder is
 * a leftover of a crash and is removed at start.
 */
@Injectable()
export class ExportCache {
  private readonly logger = new Logger(ExportCache.name);
  readonly enabled: boolean;
  /** The folder of every layout; only `layoutRoot` is current. */
  readonly root: string;
  readonly layoutRoot: string;

  constructor(@Inject(CLARA_CONFIG) config: ClaraConfig) {
    this.enabled = config.datasets.exportCache;
    this.root = join(config.dataDir, 'datasets', 'exports');
    this.layoutRoot = join(this.root, EXPORT_LAYOUT);
  }

  pathOf(key: ExportKey): string {
    if (!SAFE_ID.test(key.datasetId) || !SAFE_ID.test(key.versionId)) {
      throw new Error(`not a dataset or version id: ${key.datasetId}/${key.versionId}`);
    }
    const variant = key.metadata ? 'meta' : 'plain';
    return join(
      this.layoutRoot,
      key.datasetId,
      key.versionId,
      `${key.split}.${key.format}.${variant}`,
    );
  }

  /** The kept file, opened (so a concurrent delete cannot pull it away mid-download), or null. */
  async open(key: ExportKey): Promise<KeptFile | null> {
    if (!this.enabled) return null;
    let handle;
    try {
      handle = await open(this.pathOf(key), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    try {
      const { size } = await handle.stat();
      return { size, body: handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES }) };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Sizes in bytes of the kept files among `keys` (absent ones are left out). */
  async sizes(keys: ExportKey[]): Promise<Map<ExportKey, number>> {
    const sizes = new Map<ExportKey, number>();
    if (!this.enabled) return sizes;
    for (const key of keys) {
      try {
        sizes.set(key, (await stat(this.pathOf(key))).size);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    return sizes;
  }

  /**
   * Passes `chunks` through unchanged and keeps a copy: the file takes its name once the
   * last chunk has gone through, and is dropped if the consumer stops early (a client that
   * hangs up) or the source fails. Keeping is best effort: a full disk costs the copy, not
   * the download. `finished`, when given, learns whether the file was kept (after the
   * flush and rename, which the consumer does not wait for).
   */
  async *keep(
    key: ExportKey,
    chunks: AsyncIterable<Buffer>,
    finished?: (kept: boolean) => void,
  ): AsyncGenerator<Buffer> {
    if (!this.enabled) {
      yield* chunks;
      finished?.(false);
      return;
    }
    const path = this.pathOf(key);
    const temp = `${path}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`;
    let file: Awaited<ReturnType<typeof open>> | null = null;
    try {
      await mkdir(dirname(path), { recursive: true });
      file = await open(temp, 'wx');
    } catch (error) {
      this.logger.warn(`not keeping ${path}: ${(error as Error).message}`);
    }
    let writing: Promise<unknown> = Promise.resolve();
    let failed = file === null;
    const write = (chunk: Buffer) =>
      (writing = writing
        .then(() => (failed ? undefined : writeAll(file!, chunk)))
        .catch((error: unknown) => {
          if (!failed) this.logger.warn(`not keeping ${path}: ${(error as Error).message}`);
          failed = true;
        }));
    let complete = false;
    try {
      for await (const chunk of chunks) {
        // The disk write of this chunk overlaps with sending it; the next one waits for it.
        const written = write(chunk);
        yield chunk;
        await written;
      }
      complete = true;
    } finally {
      const settle = this.settle(file, temp, path, complete && !failed, () => writing);
      if (complete) void settle.then(finished);
      else await settle;
    }
  }

  /** Flushes and names a complete file, or removes an incomplete one. Never throws. */
  private async settle(
    file: Awaited<ReturnType<typeof open>> | null,
    temp: string,
    path: string,
    complete: boolean,
    pending: () => Promise<unknown>,
  ): Promise<boolean> {
    if (!file) return false;
    try {
      await pending();
      if (complete) await file.sync();
      await file.close();
      if (complete) {
        await rename(temp, path);
        return true;
      }
    } catch (error) {
      // A dataset deleted meanwhile takes its folder with it: nothing to keep.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.logger.warn(`not keeping ${path}: ${(error as Error).message}`);
      }
      await file.close().catch(() => undefined);
    }
    await rm(temp, { force: true });
    return false;
  }

  async removeDataset(datasetId: string): Promise<void> {
    if (!SAFE_ID.test(datasetId)) return;
    await rm(join(this.layoutRoot, datasetId), { recursive: true, force: true });
  }

  /**
   * Removes what no reader may use: other layouts' folders, files left half-written by a
   * crash, and the folders of datasets that no longer exist (`exists` says which do).
   * Returns how many entries it removed.
   */
  async sweep(exists: (datasetId: string) => Promise<boolean>): Promise<number> {
    let removed = 0;
    for (const layout of await entries(this.root)) {
      if (layout === EXPORT_LAYOUT) continue;
      await rm(join(this.root, layout), { recursive: true, force: true });
      removed++;
    }
    for (const datasetId of await entries(this.layoutRoot)) {
      const folder = join(this.layoutRoot, datasetId);
      if (!SAFE_ID.test(datasetId) || !(await exists(datasetId))) {
        await rm(folder, { recursive: true, force: true });
        removed++;
        continue;
      }
      for (const versionId of await entries(folder)) {
        for (const name of await entries(join(folder, versionId))) {
          if (!name.endsWith(TEMP_SUFFIX)) continue;
          await rm(join(folder, versionId, name), { force: true });
          removed++;
        }
      }
    }
    return removed;
  }
}

async function entries(folder: string): Promise<string[]> {
  try {
    return await readdir(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

async function writeAll(file: Awaited<ReturnType<typeof open>>, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await file.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}
