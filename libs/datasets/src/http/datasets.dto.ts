import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PageQueryDto } from '@clara/common';
import {
  FUSION_METHODS,
  type FusionMethod,
  SEARCH_MODES,
  type SearchMode,
  WeightsDto,
} from '@clara/corpus';
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

import { RECORD_FORMATS, type RecordFormat, SPLITS, type Split } from '../domain/record-format.js';
import { IMPORT_FILE_TYPES, type ImportFileType } from '../import/file-parsers.js';
import { VERSION_STATUSES, type VersionStatus } from '../storage/dataset.entities.js';

const toBoolean = ({ value }: { value: unknown }) =>
  value === 'true' || value === true ? true : value === 'false' || value === false ? false : value;

export const DATASET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

// --- datasets --------------------------------------------------------------------------

export class CreateDatasetDto {
  @ApiProperty({ example: 'bauordnung-qa', pattern: DATASET_NAME_PATTERN.source })
  @IsString()
  @Matches(DATASET_NAME_PATTERN, {
    message: 'name must be 1–128 letters, digits, dots, dashes or underscores',
  })
  name!: string;

  @ApiPropertyOptional({ maxLength: 4000, default: '' })
  @IsOptional()
  @IsString()
  @MaxLength(4000)
  description?: string;

  @ApiProperty({ enum: RECORD_FORMATS })
  @IsIn(RECORD_FORMATS)
  record_format!: RecordFormat;
}

export class DatasetDto {
  @ApiProperty() id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() description!: string;
  @ApiProperty({ enum: RECORD_FORMATS }) record_format!: RecordFormat;
  @ApiProperty({ description: 'Highest version number handed out (0: none yet)' })
  latest_version!: number;
  @ApiProperty() created_by!: string;
  @ApiProperty() created_at!: string;
  @ApiProperty() updated_at!: string;
}

export class DatasetPageDto {
  @ApiProperty({ type: [DatasetDto] }) data!: DatasetDto[];
  @ApiProperty({ type: String, nullable: true }) next_cursor!: string | null;
  @ApiProperty() has_more!: boolean;
}

// --- build spec ------------------------------------------------------------------------

export const SOURCE_TYPES = ['search', 'documents'] as const;

export class BuildSourceDto {
  @ApiProperty({
    enum: SOURCE_TYPES,
    description:
      '`search`: the chunks a corpus search finds; `documents`: every chunk of the given documents',
  })
  @IsIn(SOURCE_TYPES)
  type!: (typeof SOURCE_TYPES)[number];

  @ApiPropertyOptional({ description: 'search: the query', maxLength: 4000 })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(4000)
  query?: string;

  @ApiPropertyOptional({ enum: SEARCH_MODES, default: 'hybrid' })
  @IsOptional()
  @IsIn(SEARCH_MODES)
  mode?: SearchMode;

  @ApiPropertyOptional({ enum: FUSION_METHODS, default: 'weighted' })
  @IsOptional()
  @IsIn(FUSION_METHODS)
  fusion?: FusionMethod;

  @ApiPropertyOptional({ type: WeightsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => WeightsDto)
  weights?: WeightsDto;

  @ApiPropertyOptional({
    description: 'search: metadata filters, as the corpus search takes them',
    type: 'object',
    additionalProperties: true,
  })
  @IsOptional()
  @IsObject()
  filters?: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'search: how many chunks to take', default: 100, minimum: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  top_k?: number;

  @ApiPropertyOptional({ minimum: 0, default: 0 })
  @IsOptional()
  @IsNumber()
  @Min(0)
  min_score?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 3, default: 1 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3)
  graph_depth?: number;

  @ApiPropertyOptional({ description: 'documents: the document ids', type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(10000)
  @IsString({ each: true })
  @MaxLength(128, { each: true })
  document_ids?: string[];
}

export class BuildFiltersDto {
  @ApiPropertyOptional({ description: 'Drop records with fewer approximate tokens', minimum: 0 })
  @IsOptional()
  @IsInt()
  @Min(0)
  min_tokens?: number;

  @ApiPropertyOptional({ description: 'Drop records with more approximate tokens', minimum: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  max_tokens?: number;

  @ApiPropertyOptional({
    description: "Keep only documents in these languages (the corpus's language codes)",
    type: [String],
  })
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  @MaxLength(16, { each: true })
  languages?: string[];

  @ApiPropertyOptional({ default: true, description: 'Remove records whose content is identical' })
  @IsOptional()
  @IsBoolean()
  exact_duplicates?: boolean;

  @ApiPropertyOptional({ default: true, description: 'Remove near-duplicates (MinHash)' })
  @IsOptional()
  @IsBoolean()
  near_duplicates?: boolean;

  @ApiPropertyOptional({
    default: 0.8,
    minimum: 0.3,
    maximum: 1,
    description:
      'Estimated Jaccard similarity of word 3-grams at which records are near-duplicates',
  })
  @IsOptional()
  @IsNumber()
  @Min(0.3)
  @Max(1)
  near_duplicate_threshold?: number;
}

export class SplitSpecDto {
  @ApiPropertyOptional({ default: 0.1, minimum: 0, maximum: 0.9 })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(0.9)
  validation_fraction?: number;

  @ApiPropertyOptional({ default: 42 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(2_147_483_647)
  seed?: number;
}

export class BuildVersionDto {
  @ApiProperty({ type: BuildSourceDto })
  @ValidateNested()
  @Type(() => BuildSourceDto)
  source!: BuildSourceDto;

  @ApiPropertyOptional({
    enum: ['chunk', 'document'],
    description:
      'One record per chunk (default with a template) or per document (default with a mapping)',
  })
  @IsOptional()
  @IsIn(['chunk', 'document'])
  unit?: 'chunk' | 'document';

  @ApiPropertyOptional({
    description:
      'Jinja templates in the shape of a record, e.g. chat `{"messages":[{"role":"user","content":"Was regelt {{ title }}?"},{"role":"assistant","content":"{{ text }}"}]}`. Variables: chunk, document, text, title, metadata.',
    type: 'object',
    additionalProperties: true,
  })
  @IsOptional()
  @IsObject()
  template?: Record<string, unknown>;

  @ApiPropertyOptional({
    description:
      'Column mapping, e.g. alpaca `{"instruction":"metadata.question","output":"metadata.answer"}`; chat keys: system, user, assistant. Values: text, title, document_id, metadata.<key>',
    type: 'object',
    additionalProperties: { type: 'string' },
  })
  @IsOptional()
  @IsObject()
  mapping?: Record<string, unknown>;

  @ApiPropertyOptional({ type: BuildFiltersDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => BuildFiltersDto)
  filters?: BuildFiltersDto;

  @ApiPropertyOptional({ type: SplitSpecDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => SplitSpecDto)
  split?: SplitSpecDto;

  @ApiPropertyOptional({
    default: 2048,
    description: 'Statistics count the records longer than this (approximate tokens)',
  })
  @IsOptional()
  @IsInt()
  @Min(16)
  @Max(1_000_000)
  max_seq_length?: number;
}

// --- versions --------------------------------------------------------------------------

export class VersionProgressDto {
  @ApiProperty() phase!: string;
  @ApiProperty() processed!: number;
  @ApiProperty() total!: number;
}

export class SplitCountsDto {
  @ApiProperty() train!: number;
  @ApiProperty() validation!: number;
}

export class VersionDto {
  @ApiProperty() dataset_id!: string;
  @ApiProperty() version!: number;
  @ApiProperty({ enum: VERSION_STATUSES }) status!: VersionStatus;
  @ApiProperty({ enum: ['build', 'import'] }) origin!: string;
  @ApiProperty({ enum: RECORD_FORMATS }) record_format!: RecordFormat;
  @ApiProperty({ type: 'object', additionalProperties: true }) spec!: Record<string, unknown>;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description: 'Records per split, token-length histogram, duplicates removed, filtered counts',
  })
  statistics!: Record<string, unknown> | null;
  @ApiProperty({ type: String, nullable: true, description: 'sha256 over the canonical records' })
  checksum!: string | null;
  @ApiProperty({ type: SplitCountsDto }) splits!: SplitCountsDto;
  @ApiProperty({ type: VersionProgressDto, nullable: true }) progress!: VersionProgressDto | null;
  @ApiProperty({ type: String, nullable: true }) error!: string | null;
  @ApiProperty() created_by!: string;
  @ApiProperty() created_at!: string;
  @ApiProperty() updated_at!: string;
  @ApiProperty({ type: String, nullable: true }) finished_at!: string | null;
}

export class VersionPageDto {
  @ApiProperty({ type: [VersionDto] }) data!: VersionDto[];
  @ApiProperty({ type: String, nullable: true }) next_cursor!: string | null;
  @ApiProperty() has_more!: boolean;
}

export class RecordsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: SPLITS, default: 'train' })
  @IsOptional()
  @IsIn(SPLITS)
  split?: Split;
}

export class RecordDto {
  @ApiProperty({ enum: SPLITS }) split!: Split;
  @ApiProperty() ordinal!: number;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'The record in its format',
  })
  record!: Record<string, unknown>;
  @ApiProperty({ type: [String] }) source_document_ids!: string[];
  @ApiProperty({ type: [String] }) source_chunk_ids!: string[];
  @ApiProperty({ type: [String] }) tags!: string[];
}

export class RecordPageDto {
  @ApiProperty({ type: [RecordDto] }) data!: RecordDto[];
  @ApiProperty({ type: String, nullable: true }) next_cursor!: string | null;
  @ApiProperty() has_more!: boolean;
}

export class ImportFieldsDto {
  @ApiPropertyOptional({ enum: IMPORT_FILE_TYPES, description: 'Default: from the file name' })
  @IsOptional()
  @IsIn(IMPORT_FILE_TYPES)
  file_type?: ImportFileType;

  @ApiPropertyOptional({
    default: 0,
    minimum: 0,
    maximum: 0.9,
    description: 'Share of records without a `split` field that go to validation (seeded)',
  })
  @IsOptional()
  @Type(() => Number)
  @IsNumber()
  @Min(0)
  @Max(0.9)
  validation_fraction?: number;

  @ApiPropertyOptional({ default: 42 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  seed?: number;

  @ApiPropertyOptional({ default: 2048 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(16)
  @Max(1_000_000)
  max_seq_length?: number;

  @ApiPropertyOptional({ type: 'string', format: 'binary', description: 'The file (last part)' })
  @IsOptional()
  file?: unknown;
}

export class ExportQueryDto {
  @ApiPropertyOptional({
    type: Boolean,
    default: true,
    description:
      'Include source_document_ids, source_chunk_ids and tags; false for tools that reject extra fields',
  })
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean()
  metadata?: boolean;
}

export class DocumentUseDto {
  @ApiProperty() document_id!: string;
  @ApiProperty({ description: 'Records of the version that came from it' }) records!: number;
}

export class DocumentUsePageDto {
  @ApiProperty({ type: [DocumentUseDto] }) data!: DocumentUseDto[];
  @ApiProperty({ type: String, nullable: true }) next_cursor!: string | null;
  @ApiProperty() has_more!: boolean;
}

export class VersionUseDto {
  @ApiProperty() dataset_id!: string;
  @ApiProperty() dataset_name!: string;
  @ApiProperty() version!: number;
  @ApiProperty({ enum: VERSION_STATUSES }) status!: string;
  @ApiProperty() records!: number;
}

export class DocumentLineageDto {
  @ApiProperty() document_id!: string;
  @ApiProperty({ type: [VersionUseDto] }) versions!: VersionUseDto[];
}

export class JobUseDto {
  @ApiProperty() id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() owner!: string;
  @ApiProperty() status!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The trained adapter, once the job succeeded',
  })
  adapter_path!: string | null;
  @ApiProperty() created_at!: string;
  @ApiProperty({ type: String, nullable: true }) finished_at!: string | null;
}

export class VersionJobsDto {
  @ApiProperty() dataset_id!: string;
  @ApiProperty() version!: number;
  @ApiProperty({ type: [JobUseDto] }) jobs!: JobUseDto[];
}

export class ManifestFileDto {
  @ApiProperty({ enum: SPLITS }) split!: Split;
  @ApiProperty() format!: string;
  @ApiProperty() file_name!: string;
  @ApiProperty() records!: number;
  @ApiProperty() path!: string;
  @ApiProperty() etag!: string;
  @ApiProperty({
    type: Number,
    nullable: true,
    description:
      'Size of the file once written (at version creation or by a first download); null before',
  })
  size_bytes!: number | null;
}

export class ManifestDto {
  @ApiProperty() manifest_version!: number;
  @ApiProperty({ type: DatasetDto }) dataset!: DatasetDto;
  @ApiProperty({ type: VersionDto }) version!: VersionDto;
  @ApiProperty({ type: [ManifestFileDto] }) files!: ManifestFileDto[];
  @ApiProperty({ description: 'Source documents and how many records each gave' })
  source_documents!: number;
  @ApiProperty() generated_at!: string;
}
