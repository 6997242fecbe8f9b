import { Injectable } from '@nestjs/common';
import { ValidationError } from '@clara/common';
import type { MultipartFileStream } from '@nestjs/platform-fastify';

import { formatOf } from '../ingest/file-formats.js';
import type { IngestTask } from '../ingest/ingest-task.repository.js';
import { type IngestAnswer, IngestRequestsService } from '../ingest/ingest-requests.service.js';
import type {
  IngestBatchDto,
  IngestResponseDto,
  IngestTaskDto,
  UploadFieldsDto,
} from './corpus.dto.js';

export const TASKS_PATH = '/api/datasets/ingest-tasks';

/** Maps ingest requests (batch, upload) onto the ingest service and answers in wire form. */
@Injectable()
export class CorpusUploads {
  constructor(private readonly requests: IngestRequestsService) {}

  async batch(body: IngestBatchDto, principal: string): Promise<IngestResponseDto> {
    return toResponse(
      await this.requests.submitBatch(
        body.documents,
        body.unknown_targets ?? 'keep',
        body.background,
        principal,
      ),
    );
  }

  async upload(
    fields: UploadFieldsDto,
    file: MultipartFileStream | undefined,
    principal: string,
  ): Promise<IngestResponseDto> {
    if (!file) {
      throw new ValidationError([
        { field: 'file', message: 'a file part named `file` is required', in: 'body' },
      ]);
    }
    const format = fields.format ?? formatOf(file.originalname, file.mimetype);
    if (!format) {
      file.stream.resume();
      throw new ValidationError([
        {
          field: 'file',
          message: `cannot tell the format of '${file.originalname}': use .jsonl, .csv, .md or .txt, or send a format field`,
          in: 'body',
        },
      ]);
    }
    let metadata: Record<string, unknown> | undefined;
    if (fields.metadata !== undefined) {
      try {
        metadata = JSON.parse(fields.metadata) as Record<string, unknown>;
      } catch {
        metadata = undefined;
      }
      if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
        file.stream.resume();
        throw new ValidationError([
          { field: 'metadata', message: 'must be a JSON object', in: 'body' },
        ]);
      }
    }
    const path = await this.requests.stage(file.stream, format);
    return toResponse(
      await this.requests.submitFile(
        path,
        {
          format,
          filename: file.originalname.slice(0, 200),
          unknownTargets: fields.unknown_targets ?? 'keep',
          defaults: { id: fields.id, language: fields.language, metadata },
        },
        fields.background,
        principal,
      ),
    );
  }

  async task(id: string): Promise<IngestTaskDto> {
    return toTaskDto(await this.requests.task(id));
  }
}

function toResponse(answer: IngestAnswer): IngestResponseDto {
  if (answer.mode === 'sync') {
    return { mode: 'sync', ingested: answer.documents.length, documents: answer.documents };
  }
  return {
    mode: 'background',
    task: toTaskDto(answer.task),
    status_url: `${TASKS_PATH}/${answer.task.id}`,
  };
}

export function toTaskDto(task: IngestTask): IngestTaskDto {
  return {
    id: task.id,
    state: task.state,
    source: task.source,
    total: task.total,
    processed: task.processed,
    succeeded: task.succeeded,
    failed: task.failed,
    chunks: task.chunks,
    progress: task.total > 0 ? Math.round((task.processed / task.total) * 1000) / 1000 : 0,
    errors: task.errors,
    created_by: task.createdBy,
    created_at: task.createdAt,
    updated_at: task.updatedAt,
    finished_at: task.finishedAt,
  };
}
