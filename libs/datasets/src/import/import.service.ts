import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { Inject, Injectable } from '@nestjs/common';
import { DomainError, isoNow, newId } from '@clara/common';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';

import { assembleVersion, type PendingRecord } from '../domain/assemble.js';
import {
  canonicalJson,
  checkRecord,
  type RecordFormat,
  recordText,
} from '../domain/record-format.js';
import { splitOfKey } from '../domain/split.js';
import { approxTokens } from '../domain/tokens.js';
import type { DatasetEntity, DatasetVersionEntity } from '../storage/dataset.entities.js';
import { ExportPreparer } from '../export/export-preparer.js';
import { DatasetsRepository } from '../storage/datasets.repository.js';
import { type ImportFileType, parseFile } from './file-parsers.js';

export interface ImportOptions {
  fileType: ImportFileType;
  fileName: string;
  validationFraction: number;
  seed: number;
  maxSeqLength: number;
}

export interface ImportProblem {
  /** JSONL/CSV: the line the record starts on; Parquet: the 1-based row number. */
  line: number;
  field: string;
  problem: string;
}

/**
 * Imports a version from an uploaded file: every record is validated first (format, types,
 * empty fields, length); any problem refuses the file whole with a report, otherwise the
 * version is stored whole in one transaction. Nothing of a refused file is kept.
 */
@Injectable()
export class ImportService {
  constructor(
    private readonly repository: DatasetsRepository,
    private readonly preparer: ExportPreparer,
    @Inject(CLARA_CONFIG) private readonly config: ClaraConfig,
  ) {}

  /** Copies the upload into the data folder (the multipart limit bounds its size). */
  async stage(stream: Readable, fileType: ImportFileType): Promise<string> {
    const folder = join(this.config.dataDir, 'datasets', 'uploads');
    await mkdir(folder, { recursive: true });
    const path = join(folder, `${newId()}.${fileType}`);
    try {
      await pipeline(stream, createWriteStream(path));
    } catch (error) {
      await rm(path, { force: true });
      throw error;
    }
    return path;
  }

  async import(
    dataset: DatasetEntity,
    path: string,
    options: ImportOptions,
    principal: string,
  ): Promise<DatasetVersionEntity> {
    try {
      const format = dataset.recordFormat;
      await this.validate(path, format, options);
      const { records, exactDuplicates } = await this.read(path, format, options);
      const content = assembleVersion(records, options.maxSeqLength, {
        duplicates_removed: { exact: 0, near: 0 },
        exact_duplicates_kept: exactDuplicates,
      });
      const now = isoNow();
      const version: DatasetVersionEntity = {
        id: newId(),
        datasetId: dataset.id,
        version: 0,
        status: 'building',
        origin: 'import',
        recordFormat: format,
        spec: {
          origin: 'import',
          file_name: options.fileName,
          file_type: options.fileType,
          validation_fraction: options.validationFraction,
          seed: options.seed,
          max_seq_length: options.maxSeqLength,
        },
        statistics: null,
        checksum: null,
        trainCount: 0,
        validationCount: 0,
        progress: null,
        error: null,
        createdBy: principal,
        createdAt: now,
        updatedAt: now,
        finishedAt: null,
      };
      version.version = await this.repository.storeContent(version, content, false);
      this.preparer.schedule(version.id);
      return (await this.repository.getVersionById(version.id))!;
    } finally {
      await rm(path, { force: true });
    }
  }

  /** First pass: every record checked; the file is refused with the first problems found. */
  private async validate(path: string, format: RecordFormat, options: ImportOptions) {
    const limit = this.config.datasets.importMaxProblems;
    const maxTokens = this.config.datasets.maxRecordTokens;
    const problems: ImportProblem[] = [];
    let problemCount = 0;
    let records = 0;
    const report = (problem: ImportProblem) => {
      problemCount++;
      if (problems.length < limit) problems.push(problem);
    };
    for await (const parsed of parseFile(path, options.fileType, format)) {
      records++;
      if (parsed.error) {
        report({ line: parsed.line, ...parsed.error });
        continue;
      }
      const checked = checkRecord(format, parsed.value);
      for (const p of checked.problems) report({ line: parsed.line, ...p });
      if (checked.record) {
        const tokens = approxTokens(recordText(format, checked.record));
        if (tokens > maxTokens) {
          report({
            line: parsed.line,
            field: '',
            problem: `too long: about ${tokens} tokens, more than the limit of ${maxTokens}`,
          });
        }
      }
    }
    if (records === 0) report({ line: 0, field: '', problem: 'the file holds no records' });
    if (problemCount > 0) {
      throw new DomainError(
        422,
        'import_refused',
        `The file was refused: ${problemCount} problem(s) in ${records} record(s); nothing was stored`,
        { problem_count: problemCount, records_checked: records, problems },
      );
    }
  }

  /** Second pass (the file is known to be valid): canonical records with their splits. */
  private async read(path: string, format: RecordFormat, options: ImportOptions) {
    const records: PendingRecord[] = [];
    const seen = new Set<string>();
    let exactDuplicates = 0;
    for await (const parsed of parseFile(path, options.fileType, format)) {
      const checked = checkRecord(format, parsed.value);
      if (!checked.record) throw new Error(`record at line ${parsed.line} changed between passes`);
      const content = canonicalJson(format, checked.record);
      const digest = createHash('sha256').update(content).digest('base64');
      if (seen.has(digest)) exactDuplicates++;
      else seen.add(digest);
      records.push({
        split:
          checked.split ??
          splitOfKey(String(parsed.line), options.validationFraction, options.seed),
        content,
        metadata: checked.metadata,
        tokens: approxTokens(recordText(format, checked.record)),
      });
    }
    return { records, exactDuplicates };
  }
}
