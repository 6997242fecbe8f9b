import { Injectable } from '@nestjs/common';
import {
  decodeCursor,
  DEFAULT_PAGE_LIMIT,
  NotFoundError,
  type Page,
  toPage,
  ValidationError,
} from '@clara/common';

import type { DocumentRow } from './domain/corpus.types.js';
import { parseFilter } from './domain/filters.js';
import type {
  DocumentDetailDto,
  DocumentSummaryDto,
  ListDocumentsQueryDto,
} from './http/corpus.dto.js';
import { IngestService } from './ingest/ingest.service.js';
import { CorpusStores } from './stores/corpus-stores.js';
import { inStore } from './stores/store-errors.js';

/** Reading and deleting documents across the stores. */
@Injectable()
export class DocumentsService {
  constructor(
    private readonly stores: CorpusStores,
    private readonly ingest: IngestService,
  ) {}

  async list(query: ListDocumentsQueryDto): Promise<Page<DocumentSummaryDto>> {
    const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
    const filter = parseFilter(parseJsonParam(query.filters, 'filters'), 'filters');
    const after = decodeCursor<{ id: string }>(query.cursor, ['id']);
    const { relational } = this.stores;
    const rows = await inStore(relational, () => relational.list(filter, after?.id, limit + 1));
    return toPage(rows, limit, toSummary, (row) => ({ id: row.id }));
  }

  async get(id: string): Promise<DocumentDetailDto> {
    const { relational, documents, graph } = this.stores;
    const row = await inStore(relational, () => relational.get(id));
    if (!row || row.state !== 'active') throw new NotFoundError('document', id);
    const [body, chunks, relations] = await Promise.all([
      inStore(documents, () => documents.get(id)),
      inStore(relational, () => relational.chunksOf(id)),
      inStore(graph, () => graph.relationsOf(id)),
    ]);
    if (!body) throw new NotFoundError('document', id);
    return {
      ...toSummary(row),
      text: body.text,
      source: { ...body.source },
      ingested_at: body.ingested_at,
      chunks: chunks.map((c) => ({
        id: c.id,
        ordinal: c.ordinal,
        text: c.text,
        start: c.start,
        end: c.end,
      })),
      relations,
      stores: this.stores.adapters(),
    };
  }

  async delete(id: string): Promise<void> {
    if (!(await this.ingest.delete(id))) throw new NotFoundError('document', id);
  }
}

function toSummary(row: DocumentRow): DocumentSummaryDto {
  return {
    id: row.id,
    title: row.title,
    language: row.language,
    metadata: row.metadata,
    chunk_count: row.chunkCount,
    content_hash: row.contentHash,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
  };
}

export function parseJsonParam(value: string | undefined, field: string): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new ValidationError([{ field, message: 'must be a JSON object', in: 'query' }]);
  }
}
