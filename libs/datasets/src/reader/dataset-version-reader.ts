import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { Inject, Injectable } from '@nestjs/common';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';

import type { RecordFormat, Split } from '../domain/record-format.js';
import type { VersionStatus } from '../storage/dataset.entities.js';
import { DatasetsRepository } from '../storage/datasets.repository.js';
import { recordPages } from '../export/record-pages.js';
import { jsonlChunks } from '../export/record-writers.js';

export interface DatasetVersionDescription {
  dataset_id: string;
  version: number;
  status: VersionStatus;
  record_format: RecordFormat;
  splits: Record<Split, number>;
  /** sha256 content checksum (null until the version is ready). */
  checksum: string | null;
}

/**
 * What the training side needs from a dataset version, in the same process and database
 * (the embedded mode): whether it exists and is ready, and its records as the trainer's
 * JSONL (format fields only, metadata stripped).
 */
@Injectable()
export class DatasetVersionReader {
  constructor(
    private readonly repository: DatasetsRepository,
    @Inject(CLARA_CONFIG) private readonly config: ClaraConfig,
  ) {}

  async describe(datasetId: string, version: number): Promise<DatasetVersionDescription | null> {
    const v = await this.repository.getVersion(datasetId, version);
    if (!v) return null;
    return {
      dataset_id: v.datasetId,
      version: v.version,
      status: v.status,
      record_format: v.recordFormat,
      splits: { train: v.trainCount, validation: v.validationCount },
      checksum: v.checksum,
    };
  }

  /**
   * Writes one split of a ready version to `absolutePath` as JSONL and returns the number of
   * records. The file appears whole or not at all (written beside it, then renamed).
   */
  async writeJsonl(
    datasetId: string,
    version: number,
    split: Split,
    absolutePath: string,
  ): Promise<number> {
    const v = await this.repository.getVersion(datasetId, version);
    if (!v || v.status !== 'ready') {
      throw new Error(`dataset ${datasetId} version ${version} is not ready`);
    }
    const partial = `${absolutePath}.${randomBytes(4).toString('hex')}.partial`;
    try {
      await pipeline(
        Readable.from(
          jsonlChunks(
            recordPages(this.repository, v.id, split, this.config.datasets.exportPageRows),
            false,
          ),
        ),
        createWriteStream(partial),
      );
      await rename(partial, absolutePath);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    return split === 'train' ? v.trainCount : v.validationCount;
  }
}
