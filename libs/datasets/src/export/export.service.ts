import { Readable } from 'node:stream';

import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';
import type { DataSource } from 'typeorm';

import type { RecordFormat, Split } from '../domain/record-format.js';
import type { DatasetVersionEntity } from '../storage/dataset.entities.js';
import { DatasetsRepository } from '../storage/datasets.repository.js';
import { CONTENT_TYPES, type ExportFormat, exportFileName } from './file-names.js';
import { sqliteHandle } from '../storage/sql.js';
import { recordPages, storedRecords } from './record-pages.js';
import { csvChunks, jsonlChunks, parquetChunks, type RecordSource } from './record-writers.js';

/** Bumped when the bytes an export produces for the same records change. */
export const EXPORT_LAYOUT = 'v2';

export interface ExportFile {
  fileName: string;
  contentType: string;
  etag: string;
  records: number;
  body: Readable;
}

/** Streams one split of a ready version as JSONL, CSV or Parquet. */
@Injectable()
export class ExportService {
  constructor(
    private readonly repository: DatasetsRepository,
    @Inject(CLARA_CONFIG) private readonly config: ClaraConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  /** A strong ETag: the content checksum plus everything else that shapes the bytes. */
  etagOf(version: DatasetVersionEntity, split: Split, format: ExportFormat, metadata: boolean) {
    return `"${version.checksum}.${split}.${format}.${metadata ? 'meta' : 'plain'}.${EXPORT_LAYOUT}"`;
  }

  file(
    version: DatasetVersionEntity,
    split: Split,
    format: ExportFormat,
    metadata: boolean,
  ): ExportFile {
    return {
      fileName: exportFileName(split, format),
      contentType: CONTENT_TYPES[format],
      etag: this.etagOf(version, split, format, metadata),
      records: split === 'train' ? version.trainCount : version.validationCount,
      body: Readable.from(this.chunks(version, split, format, metadata), { objectMode: false }),
    };
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
