import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PageQueryDto } from '@clara/common';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';

import { UNKNOWN_TARGET_POLICIES, type UnknownTargetPolicy } from '../ingest/document-input.js';
import { UPLOAD_FORMATS, type UploadFormat } from '../ingest/file-formats.js';
import { TASK_STATES, type TaskState } from '../ingest/ingest-task.repository.js';
import {
  FUSION_METHODS,
  type FusionMethod,
  SEARCH_MODES,
  type SearchMode,
} from '../search/search.types.js';

const FILTER_DESCRIPTION =
  'Metadata conditions, all of which must hold: `{"jurisdiction": "DE"}` (equality), `{"doc_type": {"in": ["regulation", "amendment"]}}` (set membership), `{"year": {"gte": 2019, "lt": 2023}}` or `{"date": {"gte": "2020-01-01"}}` (ranges on numbers or ISO dates). Applied inside every store.';
const UNKNOWN_TARGETS_DESCRIPTION =
  'A relation whose target is neither in this request nor in the corpus: `keep` it (the graph holds a placeholder until the target is ingested), `drop` it, or `reject` the request.';

export class RelationDto {
  @ApiProperty({ example: 'amends', pattern: '^[a-z][a-z0-9_]{0,31}$' }) type!: string;
  @ApiProperty({ example: 'lbo-bw-2019' }) target!: string;
}

/** One document of a batch (validated by the ingest service, which names each bad field). */
export class DocumentInputDto {
  @ApiPropertyOptional({
    description:
      'Stable id (re-ingest replaces the document everywhere); default: derived from title and text',
    example: 'lbo-bw-2019-a1',
  })
  id?: string;
  @ApiPropertyOptional({ description: 'Default: the first line of the text' }) title?: string;
  @ApiProperty({ description: 'The document text (required, non-empty)' }) text!: string;
  @ApiPropertyOptional({ description: '`de`, `en`, … (default: detected)', example: 'de' })
  language?: string;
  @ApiPropertyOptional({
    description: 'Flat metadata: string, number or boolean values (keys: letters, digits, _)',
    example: { domain: 'building', doc_type: 'amendment', jurisdiction: 'BW', year: 2021 },
    type: 'object',
    additionalProperties: true,
  })
  metadata?: Record<string, string | number | boolean>;
  @ApiPropertyOptional({ type: [RelationDto] }) relations?: RelationDto[];
}

export class IngestBatchDto {
  @ApiProperty({ type: [DocumentInputDto], minItems: 1, maxItems: 10000 })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(10000)
  @IsObject({ each: true })
  documents!: Record<string, unknown>[];

  @ApiPropertyOptional({
    enum: UNKNOWN_TARGET_POLICIES,
    default: 'keep',
    description: UNKNOWN_TARGETS_DESCRIPTION,
  })
  @IsOptional()
  @IsIn(UNKNOWN_TARGET_POLICIES)
  unknown_targets?: UnknownTargetPolicy;

  @ApiPropertyOptional({
    description:
      'Run as a background task (default: only when the batch is larger than the configured threshold)',
  })
  @IsOptional()
  @IsBoolean()
  background?: boolean;
}

const toBoolean = ({ value }: { value: unknown }) =>
  value === 'true' || value === true ? true : value === 'false' || value === false ? false : value;

/** The text fields of an upload form (they must come before the file part). */
export class UploadFieldsDto {
  @ApiPropertyOptional({
    enum: UPLOAD_FORMATS,
    description: 'Default: from the file name extension',
  })
  @IsOptional()
  @IsIn(UPLOAD_FORMATS)
  format?: UploadFormat;

  @ApiPropertyOptional({
    enum: UNKNOWN_TARGET_POLICIES,
    default: 'keep',
    description: UNKNOWN_TARGETS_DESCRIPTION,
  })
  @IsOptional()
  @IsIn(UNKNOWN_TARGET_POLICIES)
  unknown_targets?: UnknownTargetPolicy;

  @ApiPropertyOptional({ type: Boolean })
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean()
  background?: boolean;

  @ApiPropertyOptional({
    description: 'Markdown/text: the document id (default: from the file name)',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/)
  id?: string;

  @ApiPropertyOptional({ description: 'Markdown/text: the language (default: detected)' })
  @IsOptional()
  @IsString()
  @MaxLength(16)
  language?: string;

  @ApiPropertyOptional({ description: 'Markdown/text: metadata as a JSON object' })
  @IsOptional()
  @IsString()
  @MaxLength(65536)
  metadata?: string;

  @ApiProperty({
    type: 'string',
    format: 'binary',
    description: 'JSONL, CSV, Markdown or plain text',
  })
  @IsOptional()
  file?: unknown;
}

export class IngestedDocumentDto {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: ['created', 'replaced', 'unchanged'] }) status!: string;
  @ApiProperty() chunks!: number;
}

export class IngestTaskErrorDto {
  @ApiPropertyOptional() line?: number;
  @ApiPropertyOptional() document_id?: string;
  @ApiProperty() message!: string;
}

export class IngestTaskDto {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: TASK_STATES }) state!: TaskState;
  @ApiProperty({ example: 'upload:regulations.jsonl' }) source!: string;
  @ApiProperty() total!: number;
  @ApiProperty() processed!: number;
  @ApiProperty() succeeded!: number;
  @ApiProperty() failed!: number;
  @ApiProperty() chunks!: number;
  @ApiProperty({ description: 'processed / total, 0..1' }) progress!: number;
  @ApiProperty({ type: [IngestTaskErrorDto] }) errors!: IngestTaskErrorDto[];
  @ApiProperty() created_by!: string;
  @ApiProperty() created_at!: string;
  @ApiProperty() updated_at!: string;
  @ApiProperty({ nullable: true, type: String }) finished_at!: string | null;
}

export class IngestResponseDto {
  @ApiProperty({ enum: ['sync', 'background'] }) mode!: 'sync' | 'background';
  @ApiPropertyOptional({ description: 'sync: documents ingested' }) ingested?: number;
  @ApiPropertyOptional({ type: [IngestedDocumentDto] }) documents?: IngestedDocumentDto[];
  @ApiPropertyOptional({
    type: IngestTaskDto,
    description: 'background: the task (poll status_url)',
  })
  task?: IngestTaskDto;
  @ApiPropertyOptional({ example: '/api/datasets/ingest-tasks/0190…' }) status_url?: string;
}

export class ListDocumentsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    description: `JSON object. ${FILTER_DESCRIPTION}`,
    example: '{"jurisdiction":"BW"}',
  })
  @IsOptional()
  @IsString()
  @MaxLength(8192)
  filters?: string;
}

export class DocumentSummaryDto {
  @ApiProperty() id!: string;
  @ApiProperty() title!: string;
  @ApiProperty() language!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata!: Record<string, unknown>;
  @ApiProperty() chunk_count!: number;
  @ApiProperty() content_hash!: string;
  @ApiProperty() created_at!: string;
  @ApiProperty() updated_at!: string;
}

export class DocumentPageDto {
  @ApiProperty({ type: [DocumentSummaryDto] }) data!: DocumentSummaryDto[];
  @ApiProperty({ nullable: true, type: String }) next_cursor!: string | null;
  @ApiProperty() has_more!: boolean;
}

export class ChunkDto {
  @ApiProperty() id!: string;
  @ApiProperty() ordinal!: number;
  @ApiProperty() text!: string;
  @ApiProperty({ description: 'Offset of the chunk in the document text' }) start!: number;
  @ApiProperty() end!: number;
}

export class IncomingRelationDto {
  @ApiProperty() type!: string;
  @ApiProperty() source!: string;
}

export class RelationsDto {
  @ApiProperty({ type: [RelationDto] }) outgoing!: RelationDto[];
  @ApiProperty({ type: [IncomingRelationDto] }) incoming!: IncomingRelationDto[];
}

export class DocumentDetailDto extends DocumentSummaryDto {
  @ApiProperty({ description: 'Full body, from the documents store' }) text!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) source!: Record<string, unknown>;
  @ApiProperty() ingested_at!: string;
  @ApiProperty({ type: [ChunkDto], description: 'From the relational store' }) chunks!: ChunkDto[];
  @ApiProperty({ type: RelationsDto, description: 'From the graph store' })
  relations!: RelationsDto;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) stores!: Record<
    string,
    string
  >;
}

export class WeightsDto {
  @ApiPropertyOptional({ default: 0.5, minimum: 0, maximum: 100 })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(100)
  vector?: number;

  @ApiPropertyOptional({ default: 0.3, minimum: 0, maximum: 100 })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(100)
  keyword?: number;

  @ApiPropertyOptional({ default: 0.2, minimum: 0, maximum: 100 })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(100)
  graph?: number;
}

export class SearchRequestDto {
  @ApiProperty({
    example: 'Stellplätze für Fahrräder bei Wohngebäuden',
    minLength: 1,
    maxLength: 4000,
  })
  @IsString()
  @MinLength(1)
  @MaxLength(4000)
  query!: string;

  @ApiPropertyOptional({ enum: SEARCH_MODES, default: 'hybrid' })
  @IsOptional()
  @IsIn(SEARCH_MODES)
  mode?: SearchMode;

  @ApiPropertyOptional({
    enum: FUSION_METHODS,
    default: 'weighted',
    description:
      '`weighted`: Σ weight × normalised score / Σ weight; `rrf`: Σ weight / (rrf_k + rank) / Σ weight',
  })
  @IsOptional()
  @IsIn(FUSION_METHODS)
  fusion?: FusionMethod;

  @ApiPropertyOptional({ type: WeightsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => WeightsDto)
  weights?: WeightsDto;

  @ApiPropertyOptional({
    description: FILTER_DESCRIPTION,
    type: 'object',
    additionalProperties: true,
  })
  @IsOptional()
  @IsObject()
  filters?: Record<string, unknown>;

  @ApiPropertyOptional({ default: 10, minimum: 1, maximum: 100 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  top_k?: number;

  @ApiPropertyOptional({
    default: 0,
    minimum: 0,
    description: 'Drop hits whose fused score is lower',
  })
  @IsOptional()
  @IsNumber()
  @Min(0)
  min_score?: number;

  @ApiPropertyOptional({
    default: 1,
    minimum: 0,
    maximum: 3,
    description: 'Graph expansion depth (hops); 0 turns the graph off',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3)
  graph_depth?: number;

  @ApiPropertyOptional({
    default: 60,
    minimum: 1,
    maximum: 1000,
    description: 'Rank constant of reciprocal rank fusion',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  rrf_k?: number;
}

export class SearchScoresDto {
  @ApiProperty({ nullable: true, type: Number }) vector!: number | null;
  @ApiProperty({ nullable: true, type: Number }) keyword!: number | null;
  @ApiProperty({ nullable: true, type: Number }) graph!: number | null;
}

export class GraphProvenanceDto {
  @ApiProperty({ description: 'The seed document it was reached from' }) seed!: string;
  @ApiProperty({ description: 'Hops from the seed (0: the seed itself, graph mode only)' })
  hops!: number;
}

export class SearchHitDto {
  @ApiProperty() chunk_id!: string;
  @ApiProperty() document_id!: string;
  @ApiProperty() title!: string;
  @ApiProperty() text!: string;
  @ApiProperty() ordinal!: number;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata!: Record<string, unknown>;
  @ApiProperty({ description: 'Fused score (the order of the hits)' }) score!: number;
  @ApiProperty({ type: SearchScoresDto, description: 'Per-role scores normalised to 0..1' })
  scores!: SearchScoresDto;
  @ApiProperty({
    type: SearchScoresDto,
    description: 'Raw per-role scores (bm25/ts_rank, cosine, graph proximity)',
  })
  raw_scores!: SearchScoresDto;
  @ApiProperty({ type: SearchScoresDto, description: '1-based rank within each role' })
  ranks!: SearchScoresDto;
  @ApiProperty({ type: [String], example: ['relational:sqlite-fts5', 'vector:chroma'] })
  sources!: string[];
  @ApiProperty({ type: GraphProvenanceDto, nullable: true }) graph!: GraphProvenanceDto | null;
}

export class SearchResponseDto {
  @ApiProperty() query!: string;
  @ApiProperty({ enum: SEARCH_MODES }) mode!: SearchMode;
  @ApiProperty({ enum: FUSION_METHODS }) fusion!: FusionMethod;
  @ApiProperty({ type: WeightsDto }) weights!: WeightsDto;
  @ApiProperty() took_ms!: number;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'The adapter serving each role',
  })
  stores!: Record<string, string>;
  @ApiProperty({ type: [SearchHitDto] }) data!: SearchHitDto[];
}
