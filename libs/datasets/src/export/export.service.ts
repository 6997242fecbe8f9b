import { Readable } from 'node:stream';

import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';
import type { DataSource } from 'typeorm';

import { type RecordFormat, type Split, SPLITS } from '../domain/record-format.js';
import type { DatasetVersionEntity } from '../storage/dataset.entities.js';
import { DatasetsRepository } from '../storage/datasets.repository.js';
import { sqliteHandle } from '../storage/sql.js';
import { EncodeSlots } from './encode-slots.js';
import { ExportCache, type ExportKey } from './export-cache.js';
import {
  CONTENT_TYPES,
  EXPORT_FORMATS,
  EXPORT_LAYOUT,
  type ExportFormat,
  exportFileName,
} from './file-names.js';
import { recordPages, storedRecords } from './record-pages.js';
import { csvChunks, jsonlChunks, parquetChunks, type RecordSource } from './record-writers.js';

export interface ExportFile {
  fileName: string;
  contentType: string;
  etag: string;
  records: number;
  /** Known when the file was kept from an earlier export (then sent with Content-Length). */
  size: number | null;
  body: Readable;
}

/**
 * One split of a ready version as JSONL, CSV or Parquet: streamed from the kept file when
 * there is one, otherwise encoded from the stored records while a copy is kept for the
 * next download (`ExportCache`).
 */
@Injectable()
export class ExportService {
  /** Exports encoding at once (downloads without a kept file, and preparation). */
  private readonly encodeSlots: EncodeSlots;

  constructor(
    private readonly repository: DatasetsRepository,
    private readonly cache: ExportCache,
    @Inject(CLARA_CONFIG) private readonly config: ClaraConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {
    this.encodeSlots = new EncodeSlots(config.datasets.exportMaxEncodes);
  }

  /** A strong ETag: the content checksum plus everything else that shapes the bytes. */
  etagOf(version: DatasetVersionEntity, split: Split, format: ExportFormat, metadata: boolean) {
    return `"${version.checksum}.${split}.${format}.${metadata ? 'meta' : 'plain'}.${EXPORT_LAYOUT}"`;
  }

  async file(
    version: DatasetVersionEntity,
    split: Split,
    format: ExportFormat,
    metadata: boolean,
  ): Promise<ExportFile> {
    const key = keyOf(version, split, format, metadata);
    const describe = (size: number | null, body: Readable): ExportFile => ({
      fileName: exportFileName(split, format),
      contentType: CONTENT_TYPES[format],
      etag: this.etagOf(version, split, format, metadata),
      records: split === 'train' ? version.trainCount : version.validationCount,
      size,
      body,
    });
    const kept = await this.cache.open(key);
    if (kept) return describe(kept.size, kept.body);
    const release = await this.encodeSlots.acquire();
    try {
      // Often the encode this one waited for was of the same file.
      const keptMeanwhile = await this.cache.open(key);
      if (keptMeanwhile) {
        release();
        return describe(keptMeanwhile.size, keptMeanwhile.body);
      }
    } catch (error) {
      release();
      throw error;
    }
    let settled: Promise<unknown> = Promise.resolve();
    const body = Readable.from(
      this.cache.keep(key, this.chunks(version, split, format, metadata), (kept) => {
        settled = kept;
      }),
      { objectMode: false },
    );
    // The slot is held until the copy is named (or dropped), so a download waiting for it
    // finds the file; a stream that never started gives it back when it is closed.
    body.once('close', () => void settled.then(release, release));
    return describe(null, body);
  }

  /**
   * Writes the kept files of a ready version that are missing: `formats` for both splits,
   * metadata included (the default download). Resolves once they are on disk; `stopped`
   * abandons the file being written (nothing of it stays).
   */
  async prepare(
    version: DatasetVersionEntity,
    formats: readonly ExportFormat[],
    stopped: () => boolean = () => false,
  ): Promise<number> {
    let written = 0;
    for (const split of SPLITS) {
      for (const format of formats) {
        if (stopped()) return written;
        const key = keyOf(version, split, format, true);
        const release = await this.encodeSlots.acquire();
        let settled: Promise<boolean> = Promise.resolve(false);
        try {
          // Kept already (by a download, or an earlier start of this preparation)?
          if ((await this.cache.sizes([key])).size > 0) continue;
          const copy = this.cache.keep(key, this.chunks(version, split, format, true), (kept) => {
            settled = kept;
          });
          for await (const _chunk of copy) {
            if (stopped()) break;
          }
          if (await settled) written++;
        } finally {
          release();
        }
      }
    }
    return written;
  }

  /** The kept files' sizes for a version's default (metadata included) downloads. */
  async keptSizes(version: DatasetVersionEntity): Promise<Map<string, number>> {
    const keys = SPLITS.flatMap((split) =>
      EXPORT_FORMATS.map((format) => keyOf(version, split, format, true)),
    );
    const sizes = await this.cache.sizes(keys);
    return new Map([...sizes].map(([key, size]) => [exportFileName(key.split, key.format), size]));
  }

  chunks(
    version: DatasetVersionEntity,
    split: Split,
    format: ExportFormat,
    metadata: boolean,
  ): AsyncGenerator<Buffer> {
    const { exportPageRows, parquetRowGroupRows, parquetZstdLevel } = this.config.datasets;
    const pages = () => recordPages(this.repository, version.id, split, exportPageRows);
    const recordFormat: RecordFormat = version.recordFormat;
    switch (format) {
      case 'jsonl':
        return jsonlChunks(this.encoderSource(version, split) ?? pages(), metadata);
      case 'csv':
        return csvChunks(recordFormat, this.encoderSource(version, split) ?? pages(), metadata);
      case 'parquet':
        return parquetChunks(
          recordFormat,
          this.encoderSource(version, split) ?? pages(),
          metadata,
          {
            rowGroupRows: parquetRowGroupRows,
            zstdLevel: parquetZstdLevel,
            keyValues: {
              'clara.dataset_id': version.datasetId,
              'clara.dataset_version': String(version.version),
              'clara.checksum': version.checksum ?? '',
              'clara.split': split,
            },
          },
        );
    }
  }

  /**
   * The embedded SQLite file, which the encoder workers read themselves; on PostgreSQL the
   * records are read here (`undefined`).
   */
  private encoderSource(version: DatasetVersionEntity, split: Split): RecordSource | undefined {
    const { type, database } = this.dataSource.options;
    if (type !== 'better-sqlite3' || typeof database !== 'string' || database === ':memory:') {
      return undefined;
    }
    return storedRecords(sqliteHandle(this.dataSource), database, version.id, split);
  }
}

function keyOf(
  version: DatasetVersionEntity,
  split: Split,
  format: ExportFormat,
  metadata: boolean,
): ExportKey {
  return { datasetId: version.datasetId, versionId: version.id, split, format, metadata };
}
