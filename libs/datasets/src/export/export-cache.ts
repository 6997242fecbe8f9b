import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';

import type * as ZstdModule from '@toondepauw/node-zstd';

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
  /** Bytes as downloaded. */
  size: number;
  body: Readable;
}

/** Ids are ours (UUIDs), never a client's string, but a path is only built from a safe one. */
const SAFE_ID = /^[0-9a-f-]{36}$/;
const TEMP_SUFFIX = '.tmp';
const READ_CHUNK_BYTES = 1 << 20;
/**
 * JSONL and CSV are kept zstd-compressed (about 5× smaller): less disk, and far less to read
 * back when a large file is no longer in the page cache. Parquet is compressed already.
 */
const COMPRESSED: ReadonlySet<ExportFormat> = new Set(['jsonl', 'csv']);
const KEPT_ZSTD_LEVEL = 1;
const TRAILER_MAGIC = Buffer.from('CLARAZ01');
const TRAILER_BYTES = 16;

type ZstdCodec = typeof ZstdModule;
type ZstdEncoder = InstanceType<ZstdCodec['Encoder']>;
type ZstdDecoder = InstanceType<ZstdCodec['Decoder']>;
let codec: Promise<ZstdCodec | null> | undefined;

/** The native zstd binding, loaded on first use; null where no build exists (nothing kept). */
function zstd(): Promise<ZstdCodec | null> {
  codec ??= import('@toondepauw/node-zstd').catch(() => null);
  return codec;
}

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
    const found = await this.openHandle(key);
    if (!found) return null;
    const { handle, size, end } = found;
    if (!COMPRESSED.has(key.format)) {
      return { size, body: handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES }) };
    }
    const decoder = new (await zstd())!.Decoder();
    return { size, body: Readable.from(decodeFrames(handle, end, decoder)) };
  }

  /** Sizes in bytes, as downloaded, of the kept files among `keys` (absent ones left out). */
  async sizes(keys: ExportKey[]): Promise<Map<ExportKey, number>> {
    const sizes = new Map<ExportKey, number>();
    for (const key of keys) {
      const found = await this.openHandle(key);
      if (!found) continue;
      sizes.set(key, found.size);
      await found.handle.close();
    }
    return sizes;
  }

  /** The open file with its size as downloaded and where its frames end (compressed ones). */
  private async openHandle(
    key: ExportKey,
  ): Promise<{ handle: FileHandle; size: number; end: number } | null> {
    if (!this.enabled || (COMPRESSED.has(key.format) && !(await zstd()))) return null;
    let handle: FileHandle;
    try {
      handle = await open(this.pathOf(key), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    try {
      const { size } = await handle.stat();
      if (!COMPRESSED.has(key.format)) return { handle, size, end: size };
      const trailer = Buffer.alloc(TRAILER_BYTES);
      if (size >= TRAILER_BYTES) await handle.read(trailer, 0, TRAILER_BYTES, size - TRAILER_BYTES);
      if (!trailer.subarray(8).equals(TRAILER_MAGIC)) {
        // Not what this writer names into place (changed on disk): encode it again.
        this.logger.warn(`removing ${this.pathOf(key)}: not a kept export file`);
        await handle.close();
        await rm(this.pathOf(key), { force: true });
        return null;
      }
      return {
        handle,
        size: Number(trailer.readBigUInt64LE(0)),
        end: size - TRAILER_BYTES,
      };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /**
   * Passes `chunks` through unchanged and keeps a copy: the file takes its name once the
   * last chunk has gone through, and is dropped if the consumer stops early (a client that
   * hangs up) or the source fails. Keeping is best effort: a full disk costs the copy, not
   * the download. `settling`, when given, receives (as the generator ends) the promise of
   * whether the file was kept — the flush and rename, which the consumer does not wait for.
   */
  async *keep(
    key: ExportKey,
    chunks: AsyncIterable<Buffer>,
    settling?: (kept: Promise<boolean>) => void,
  ): AsyncGenerator<Buffer> {
    const writer = this.enabled ? await this.writer(key) : null;
    if (!writer) {
      try {
        yield* chunks;
      } finally {
        settling?.(Promise.resolve(false));
      }
      return;
    }
    let complete = false;
    try {
      for await (const chunk of chunks) {
        // This chunk is compressed and written while it is sent; the next one waits for it.
        const written = writer.write(chunk);
        yield chunk;
        await written;
      }
      complete = true;
    } finally {
      const settled = writer.finish(complete);
      settling?.(settled);
      if (!complete) await settled;
    }
  }

  private async writer(key: ExportKey): Promise<KeptFileWriter | null> {
    const path = this.pathOf(key);
    const compress = COMPRESSED.has(key.format);
    const codec = compress ? await zstd() : undefined;
    if (compress && !codec) return null;
    const temp = `${path}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`;
    try {
      await mkdir(dirname(path), { recursive: true });
      const file = await open(temp, 'wx');
      const encoder = codec ? new codec.Encoder(KEPT_ZSTD_LEVEL) : null;
      return new KeptFileWriter(file, temp, path, encoder, (message) =>
        this.logger.warn(`not keeping ${path}: ${message}`),
      );
    } catch (error) {
      this.logger.warn(`not keeping ${path}: ${(error as Error).message}`);
      return null;
    }
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

/**
 * Writes one kept file: JSONL and CSV as a run of zstd frames, one per chunk, each after its
 * length (u32 LE), then the total size as downloaded (u64 LE) and `TRAILER_MAGIC`; Parquet
 * (compressed already) as it is.
 */
class KeptFileWriter {
  private writing: Promise<void> = Promise.resolve();
  private failed = false;
  private bytes = 0;

  constructor(
    private readonly file: FileHandle,
    private readonly temp: string,
    private readonly path: string,
    private readonly encoder: ZstdEncoder | null,
    private readonly warn: (message: string) => void,
  ) {}

  write(chunk: Buffer): Promise<void> {
    this.bytes += chunk.length;
    this.writing = this.writing
      .then(async () => {
        if (this.failed || chunk.length === 0) return;
        if (!this.encoder) return writeAll(this.file, chunk);
        const frame = await this.encoder.encode(chunk);
        const length = Buffer.alloc(4);
        length.writeUInt32LE(frame.length);
        await writeAll(this.file, length);
        await writeAll(this.file, frame);
      })
      .catch((error: unknown) => {
        if (!this.failed) this.warn((error as Error).message);
        this.failed = true;
      });
    return this.writing;
  }

  /** Flushes and names a complete file, or removes an incomplete one. Never throws. */
  async finish(complete: boolean): Promise<boolean> {
    try {
      await this.writing;
      const keep = complete && !this.failed;
      if (keep && this.encoder) {
        const trailer = Buffer.alloc(TRAILER_BYTES);
        trailer.writeBigUInt64LE(BigInt(this.bytes));
        TRAILER_MAGIC.copy(trailer, 8);
        await writeAll(this.file, trailer);
      }
      if (keep) await this.file.sync();
      await this.file.close();
      if (keep) {
        await rename(this.temp, this.path);
        return true;
      }
    } catch (error) {
      // A dataset deleted meanwhile takes its folder with it: nothing to keep.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.warn((error as Error).message);
      await this.file.close().catch(() => undefined);
    }
    await rm(this.temp, { force: true });
    return false;
  }
}

/** A kept compressed file's frames, decoded; up to three are decoded at once (thread pool). */
async function* decodeFrames(
  handle: FileHandle,
  end: number,
  decoder: ZstdDecoder,
): AsyncGenerator<Buffer> {
  let offset = 0;
  const decoding: Promise<Buffer>[] = [];
  const readAhead = async () => {
    while (decoding.length < 3 && offset < end) {
      const length = Buffer.alloc(4);
      await handle.read(length, 0, 4, offset);
      const frame = Buffer.allocUnsafe(length.readUInt32LE(0));
      const { bytesRead } = await handle.read(frame, 0, frame.length, offset + 4);
      if (bytesRead !== frame.length) throw new Error('kept export file is truncated');
      offset += 4 + frame.length;
      const decoded = decoder.decode(frame);
      decoded.catch(() => undefined); // awaited below, unless the consumer stops first
      decoding.push(decoded);
    }
  };
  try {
    await readAhead();
    while (decoding.length > 0) {
      const chunk = await decoding.shift()!;
      await readAhead();
      yield chunk;
    }
  } finally {
    await handle.close();
  }
}

async function writeAll(file: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await file.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}
