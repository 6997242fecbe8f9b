import { Injectable } from '@nestjs/common';
import {
  ConflictError,
  decodeCursor,
  DEFAULT_PAGE_LIMIT,
  DomainError,
  isoNow,
  newId,
  NotFoundError,
  type Page,
  toPage,
} from '@clara/common';

import { SPLITS, type Split } from './domain/record-format.js';
import { EXPORT_FORMATS, exportFileName } from './export/file-names.js';
import { ExportCache } from './export/export-cache.js';
import { ExportService } from './export/export.service.js';
import type {
  CreateDatasetDto,
  DatasetDto,
  DocumentLineageDto,
  DocumentUseDto,
  ManifestDto,
  RecordDto,
  RecordsQueryDto,
  VersionDto,
  VersionJobsDto,
} from './http/datasets.dto.js';
import type { PageQueryDto } from '@clara/common';
import { DatasetEntity, type DatasetVersionEntity } from './storage/dataset.entities.js';
import { DatasetsRepository } from './storage/datasets.repository.js';
import { isUniqueViolation } from './storage/sql.js';

export const API_PREFIX = '/api/datasets';

/** Datasets, their versions, record previews and lineage. */
@Injectable()
export class DatasetsService {
  constructor(
    private readonly repository: DatasetsRepository,
    private readonly exports: ExportService,
    private readonly exportCache: ExportCache,
  ) {}

  async create(body: CreateDatasetDto, principal: string): Promise<DatasetDto> {
    const now = isoNow();
    const dataset: DatasetEntity = {
      id: newId(),
      name: body.name,
      description: body.description ?? '',
      recordFormat: body.record_format,
      latestVersion: 0,
      createdBy: principal,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.repository.insertDataset(dataset);
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new ConflictError('dataset_name_taken', `a dataset named '${body.name}' exists`, {
          name: body.name,
        });
      }
      throw error;
    }
    return toDatasetDto(dataset);
  }

  async list(query: PageQueryDto): Promise<Page<DatasetDto>> {
    const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
    const after = decodeCursor<{ created_at: string; id: string }>(query.cursor, [
      'created_at',
      'id',
    ]);
    const rows = await this.repository.listDatasets(after, limit + 1);
    return toPage(rows, limit, toDatasetDto, (d) => ({ created_at: d.createdAt, id: d.id }));
  }

  async dataset(id: string): Promise<DatasetEntity> {
    const dataset = await this.repository.getDataset(id);
    if (!dataset) throw new NotFoundError('dataset', id);
    return dataset;
  }

  async get(id: string): Promise<DatasetDto> {
    return toDatasetDto(await this.dataset(id));
  }

  /** Refused while a queued or running training job uses one of its versions. */
  async delete(id: string): Promise<void> {
    await this.dataset(id);
    const active = await this.repository.jobsUsing(id, undefined, true);
    if (active.length > 0) {
      throw new ConflictError(
        'dataset_in_use',
        `dataset '${id}' is used by ${active.length} queued or running training job(s)`,
        { jobs: active.map((j) => ({ id: j.id, status: j.status, version: j.dataset_version })) },
      );
    }
    await this.repository.deleteDataset(id);
    await this.exportCache.removeDataset(id);
  }

  async version(datasetId: string, number: number): Promise<DatasetVersionEntity> {
    await this.dataset(datasetId);
    const version = await this.repository.getVersion(datasetId, number);
    if (!version) throw new NotFoundError('dataset_version', `${datasetId}/${number}`);
    return version;
  }

  async readyVersion(datasetId: string, number: number): Promise<DatasetVersionEntity> {
    const version = await this.version(datasetId, number);
    if (version.status !== 'ready') {
      throw new DomainError(
        409,
        'dataset_version_not_ready',
        `version ${number} of dataset '${datasetId}' is ${version.status}`,
        { version_status: version.status },
      );
    }
    return version;
  }

  async listVersions(datasetId: string, query: PageQueryDto): Promise<Page<VersionDto>> {
    await this.dataset(datasetId);
    const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
    const after = decodeCursor<{ version: number }>(query.cursor, ['version']);
    const rows = await this.repository.listVersions(datasetId, after?.version, limit + 1);
    return toPage(rows, limit, toVersionDto, (v) => ({ version: v.version }));
  }

  async records(
    datasetId: string,
    number: number,
    query: RecordsQueryDto,
  ): Promise<Page<RecordDto>> {
    const version = await this.readyVersion(datasetId, number);
    const split: Split = query.split ?? 'train';
    const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
    const after = decodeCursor<{ ordinal: number }>(query.cursor, ['ordinal']);
    const rows = await this.repository.recordPage(
      version.id,
      split,
      after?.ordinal ?? -1,
      limit + 1,
    );
    return toPage(
      rows,
      limit,
      (row) => {
        const meta = JSON.parse(row.meta) as Record<string, string[]>;
        return {
          split,
          ordinal: Number(row.ordinal),
          record: JSON.parse(row.content) as Record<string, unknown>,
          source_document_ids: meta.source_document_ids,
          source_chunk_ids: meta.source_chunk_ids,
          tags: meta.tags,
        };
      },
      (row) => ({ ordinal: Number(row.ordinal) }),
    );
  }

  async documents(
    datasetId: string,
    number: number,
    query: PageQueryDto,
  ): Promise<Page<DocumentUseDto>> {
    const version = await this.version(datasetId, number);
    const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
    const after = decodeCursor<{ id: string }>(query.cursor, ['id']);
    const rows = await this.repository.versionDocuments(version.id, after?.id, limit + 1);
    return toPage(
      rows,
      limit,
      (r) => r,
      (r) => ({ id: r.document_id }),
    );
  }

  async documentLineage(documentId: string): Promise<DocumentLineageDto> {
    return {
      document_id: documentId,
      versions: await this.repository.versionsUsingDocument(documentId),
    };
  }

  async jobs(datasetId: string, number: number): Promise<VersionJobsDto> {
    await this.version(datasetId, number);
    const jobs = await this.repository.jobsUsing(datasetId, number);
    return {
      dataset_id: datasetId,
      version: number,
      jobs: jobs.map(({ dataset_version: _, ...job }) => job),
    };
  }

  async manifest(datasetId: string, number: number): Promise<ManifestDto> {
    const dataset = await this.dataset(datasetId);
    const version = await this.readyVersion(datasetId, number);
    const base = `${API_PREFIX}/datasets/${datasetId}/versions/${number}/files`;
    const stats = version.statistics ?? {};
    const sizes = await this.exports.keptSizes(version);
    return {
      manifest_version: 1,
      dataset: toDatasetDto(dataset),
      version: toVersionDto(version),
      files: SPLITS.flatMap((split) =>
        EXPORT_FORMATS.map((format) => ({
          split,
          format,
          file_name: exportFileName(split, format),
          records: split === 'train' ? version.trainCount : version.validationCount,
          path: `${base}/${exportFileName(split, format)}`,
          etag: this.exports.etagOf(version, split, format, true),
          size_bytes: sizes.get(exportFileName(split, format)) ?? null,
        })),
      ),
      source_documents: Number(stats.source_documents ?? 0),
      generated_at: isoNow(),
    };
  }
}

export function toDatasetDto(d: DatasetEntity): DatasetDto {
  return {
    id: d.id,
    name: d.name,
    description: d.description,
    record_format: d.recordFormat,
    latest_version: d.latestVersion,
    created_by: d.createdBy,
    created_at: d.createdAt,
    updated_at: d.updatedAt,
  };
}

export function toVersionDto(v: DatasetVersionEntity): VersionDto {
  return {
    dataset_id: v.datasetId,
    version: v.version,
    status: v.status,
    origin: v.origin,
    record_format: v.recordFormat,
    spec: v.spec,
    statistics: v.statistics,
    checksum: v.checksum,
    splits: { train: v.trainCount, validation: v.validationCount },
    progress: v.progress,
    error: v.error,
    created_by: v.createdBy,
    created_at: v.createdAt,
    updated_at: v.updatedAt,
    finished_at: v.finishedAt,
  };
}
