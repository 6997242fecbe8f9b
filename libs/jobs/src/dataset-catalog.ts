import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { ServiceUnavailableError } from '@clara/common';

export interface DatasetVersionSummary {
  status: string;
  record_format: string;
  splits: { train: number; validation: number };
  checksum: string | null;
}

/**
 * What training needs from the Datasets feature: does a version exist and is it ready, and
 * its records as the trainer's JSONL. Bound by the composition root: to the datasets lib's
 * reader when both share a database (embedded), or to {@link HttpDatasetCatalog}.
 */
export interface DatasetCatalog {
  describe(datasetId: string, version: number): Promise<DatasetVersionSummary | null>;
  /** Writes one split to `absolutePath` (whole or not at all); returns the record count. */
  writeJsonl(
    datasetId: string,
    version: number,
    split: 'train' | 'validation',
    absolutePath: string,
  ): Promise<number>;
}

export const DATASET_CATALOG = Symbol('DATASET_CATALOG');

/** The Datasets service over HTTP, with a service token, for deployments apart from it. */
export class HttpDatasetCatalog implements DatasetCatalog {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {}

  private url(datasetId: string, version: number, suffix = ''): string {
    const id = encodeURIComponent(datasetId);
    return `${this.baseUrl.replace(/\/$/, '')}/api/datasets/datasets/${id}/versions/${version}${suffix}`;
  }

  private async get(url: string): Promise<Response> {
    try {
      return await fetch(url, {
        headers: this.token ? { authorization: `Bearer ${this.token}` } : {},
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new ServiceUnavailableError(
        'datasets_unavailable',
        `The Datasets service did not answer: ${(error as Error).message}`,
      );
    }
  }

  async describe(datasetId: string, version: number): Promise<DatasetVersionSummary | null> {
    const res = await this.get(this.url(datasetId, version));
    if (res.status === 404) return null;
    if (!res.ok)
      throw new ServiceUnavailableError(
        'datasets_unavailable',
        `The Datasets service answered ${res.status}`,
      );
    const body = (await res.json()) as {
      status: string;
      record_format: string;
      checksum: string | null;
      statistics?: { records?: { train?: number; validation?: number } };
      splits?: { train: number; validation: number };
    };
    return {
      status: body.status,
      record_format: body.record_format,
      checksum: body.checksum,
      splits: body.splits ?? {
        train: body.statistics?.records?.train ?? 0,
        validation: body.statistics?.records?.validation ?? 0,
      },
    };
  }

  async writeJsonl(
    datasetId: string,
    version: number,
    split: 'train' | 'validation',
    absolutePath: string,
  ): Promise<number> {
    const res = await this.get(
      this.url(datasetId, version, `/files/${split}-00000-of-00001.jsonl?metadata=false`),
    );
    if (!res.ok || !res.body)
      throw new ServiceUnavailableError(
        'datasets_unavailable',
        `Export of ${split} answered ${res.status}`,
      );
    const partial = `${absolutePath}.${randomBytes(4).toString('hex')}.partial`;
    let lines = 0;
    try {
      const counted = async function* (source: AsyncIterable<Uint8Array>) {
        for await (const chunk of source) {
          for (const byte of chunk) if (byte === 10) lines++;
          yield chunk;
        }
      };
      await pipeline(Readable.fromWeb(res.body as never), counted, createWriteStream(partial));
      await rename(partial, absolutePath);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    return lines;
  }
}
