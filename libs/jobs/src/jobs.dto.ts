import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PageQueryDto } from '@clara/common';
import { Transform, Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsISO8601,
  IsNotEmpty,
  IsObject,
  IsUUID,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';

import { HyperparametersDto } from './hyperparameters.dto.js';
import {
  JOB_STATUSES,
  type JobStatus,
  RECORD_FORMATS,
  type RecordFormat,
  TRAINING_METHODS,
  type TrainingMethod,
} from './job.types.js';

/** Relative path inside the data folder: no `..`, no absolute paths, no odd characters. */
const DATA_PATH = /^(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._\-/]{1,512}$/;

export class JobDataDto {
  @ApiPropertyOptional({
    description: 'A dataset (from the Datasets service) to train on; with dataset_version',
  })
  @IsOptional()
  @IsUUID()
  dataset_id?: string;

  @ApiPropertyOptional({ minimum: 1, description: 'The dataset version (must be ready)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  dataset_version?: number;

  @ApiPropertyOptional({
    description:
      'Training JSONL file, relative to the data folder (e.g. `files/support-chat.jsonl`)',
    example: 'files/train.jsonl',
  })
  @IsOptional()
  @IsString()
  @Matches(DATA_PATH, { message: 'train_file must be a relative path inside the data folder' })
  train_file?: string;

  @ApiPropertyOptional({
    description: 'Optional validation JSONL file, relative to the data folder',
  })
  @IsOptional()
  @IsString()
  @Matches(DATA_PATH, { message: 'validation_file must be a relative path inside the data folder' })
  validation_file?: string;
}

export class CreateJobDto {
  @ApiPropertyOptional({
    maxLength: 128,
    description: 'Display name (suffix of the adapter name)',
    example: 'support-bot-v1',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, {
    message: 'name may hold letters, digits, ".", "_" and "-" (max 128)',
  })
  name?: string;

  @ApiProperty({
    description:
      'Hugging Face hub id (`org/model`) or an absolute path under an allowed model folder',
    example: 'meta-llama/Llama-3.2-1B-Instruct',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(1024)
  base_model!: string;

  @ApiPropertyOptional({ enum: TRAINING_METHODS, default: 'lora' })
  @IsOptional()
  @IsIn(TRAINING_METHODS)
  method?: TrainingMethod;

  @ApiPropertyOptional({
    enum: RECORD_FORMATS,
    default: 'chat',
    description: 'Shape of each JSONL record',
  })
  @IsOptional()
  @IsIn(RECORD_FORMATS)
  record_format?: RecordFormat;

  @ApiPropertyOptional({ type: HyperparametersDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => HyperparametersDto)
  hyperparameters?: HyperparametersDto;

  @ApiProperty({ type: JobDataDto })
  @ValidateNested()
  @Type(() => JobDataDto)
  data!: JobDataDto;

  @ApiPropertyOptional({
    default: 1,
    minimum: 0,
    maximum: 64,
    description: 'GPUs the job needs; 0 runs on CPU',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(64)
  gpus?: number;

  @ApiPropertyOptional({
    default: 0,
    minimum: -100,
    maximum: 100,
    description: 'Higher runs first',
  })
  @IsOptional()
  @IsInt()
  @Min(-100)
  @Max(100)
  priority?: number;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: 30 * 24 * 3600,
    description: 'Wall-clock limit in seconds, per attempt',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(30 * 24 * 3600)
  time_limit_seconds?: number;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'Up to 16 string pairs',
  })
  @IsOptional()
  @IsObject()
  metadata?: Record<string, string>;
}

export class ListJobsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ description: 'Comma-separated statuses', example: 'queued,running' })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value,
  )
  @IsIn(JOB_STATUSES, { each: true })
  status?: JobStatus[];

  @ApiPropertyOptional({ description: 'Only jobs of this owner (token subject)' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  owner?: string;

  @ApiPropertyOptional({ description: 'Created at or after (ISO-8601)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  created_after?: string;

  @ApiPropertyOptional({ description: 'Created before (ISO-8601)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  created_before?: string;
}

export class JobErrorDto {
  @ApiProperty({ example: 'out_of_memory' }) code!: string;
  @ApiProperty() message!: string;
  @ApiPropertyOptional({ type: Number, nullable: true }) exit_code?: number | null;
}

export class JobProgressDto {
  @ApiProperty() step!: number;
  @ApiProperty() total_steps!: number;
  @ApiProperty() epoch!: number;
}

export class JobDto {
  @ApiProperty() id!: string;
  @ApiProperty({ example: 'training.job' }) object!: 'training.job';
  @ApiProperty() name!: string;
  @ApiProperty({ description: 'Subject of the token that created it' }) owner!: string;
  @ApiProperty({ enum: JOB_STATUSES }) status!: JobStatus;
  @ApiProperty() base_model!: string;
  @ApiProperty({ enum: TRAINING_METHODS }) method!: TrainingMethod;
  @ApiProperty({ enum: RECORD_FORMATS }) record_format!: RecordFormat;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'Resolved hyperparameters',
  })
  hyperparameters!: Record<string, unknown>;
  @ApiProperty({ type: JobDataDto }) data!: JobDataDto;
  @ApiProperty() gpus!: number;
  @ApiProperty() priority!: number;
  @ApiProperty({ type: Number, nullable: true }) time_limit_seconds!: number | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) metadata!: Record<
    string,
    string
  >;
  @ApiProperty({ type: Number, nullable: true, description: '1 = next to run; null unless queued' })
  queue_position!: number | null;
  @ApiProperty({ type: String, nullable: true }) worker_id!: string | null;
  @ApiProperty({ type: [Number] }) assigned_gpus!: number[];
  @ApiProperty() attempts!: number;
  @ApiProperty() max_attempts!: number;
  @ApiProperty({ type: String, nullable: true }) retry_of!: string | null;
  @ApiProperty() created_at!: string;
  @ApiProperty({ type: String, nullable: true }) started_at!: string | null;
  @ApiProperty({ type: String, nullable: true }) finished_at!: string | null;
  @ApiProperty({ type: JobProgressDto, nullable: true }) progress!: JobProgressDto | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' }, nullable: true })
  last_metrics!: Record<string, number> | null;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Checkpoint a resumed attempt starts from',
  })
  resume_checkpoint!: string | null;
  @ApiProperty({ type: JobErrorDto, nullable: true }) error!: JobErrorDto | null;
  @ApiProperty({ type: String, nullable: true, description: 'Download URL of the trained adapter' })
  adapter_url!: string | null;
}

export class JobPageDto {
  @ApiProperty({ type: [JobDto] }) data!: JobDto[];
  @ApiProperty({ type: String, nullable: true }) next_cursor!: string | null;
  @ApiProperty() has_more!: boolean;
}

export class JobEventDto {
  @ApiProperty({ description: 'Per-job sequence number, from 1, without gaps' }) seq!: number;
  @ApiProperty({ enum: ['status', 'progress', 'metric', 'checkpoint', 'artifact', 'error', 'log'] })
  type!: string;
  @ApiProperty() time!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) data!: Record<string, unknown>;
}

export class EventsQueryDto {
  @ApiPropertyOptional({ default: 0, description: 'Return events with seq greater than this' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  after?: number;

  @ApiPropertyOptional({ default: 100, minimum: 1, maximum: 1000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;

  @ApiPropertyOptional({
    description: 'Only events of these types (comma-separated)',
    example: 'metric,checkpoint',
  })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value,
  )
  @IsIn(['status', 'progress', 'metric', 'checkpoint', 'artifact', 'error', 'log'], { each: true })
  type?: string[];
}

export class JobEventPageDto {
  @ApiProperty({ type: [JobEventDto] }) data!: JobEventDto[];
  @ApiProperty({ description: 'Pass as `after` to get the next page' }) last_seq!: number;
  @ApiProperty() has_more!: boolean;
}

export class MetricPointDto {
  @ApiProperty() step!: number;
  @ApiProperty() time!: string;
  [metric: string]: number | string;
}

export class JobMetricsDto {
  @ApiProperty({ type: [String], example: ['loss', 'learning_rate', 'grad_norm'] })
  metrics!: string[];
  @ApiProperty({ type: [MetricPointDto] }) points!: MetricPointDto[];
}

export class LogQueryDto {
  @ApiPropertyOptional({ description: 'Last N lines (default 200)', minimum: 1, maximum: 10000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10000)
  tail?: number;

  @ApiPropertyOptional({ description: 'Byte offset to read from (instead of tail)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  offset?: number;

  @ApiPropertyOptional({ description: 'Bytes to read from offset (max 1 MiB)', maximum: 1048576 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1048576)
  length?: number;
}

export class JobLogDto {
  @ApiProperty() text!: string;
  @ApiProperty({ description: 'Byte offset of the first returned byte' }) offset!: number;
  @ApiProperty({ description: 'Byte offset after the last returned byte' }) next_offset!: number;
  @ApiProperty({ description: 'Log size in bytes now' }) size!: number;
}

export class CheckpointDto {
  @ApiProperty() step!: number;
  @ApiProperty() path!: string;
  @ApiProperty() time!: string;
}

export class ArtifactDto {
  @ApiProperty({ example: 'adapter' }) kind!: string;
  @ApiProperty() path!: string;
  @ApiProperty() time!: string;
  @ApiProperty({ type: String, nullable: true }) download_url!: string | null;
}

export class WorkerDto {
  @ApiProperty() id!: string;
  @ApiProperty() host!: string;
  @ApiProperty({ type: [Number] }) gpus!: number[];
  @ApiProperty() slots!: number;
  @ApiProperty() busy_slots!: number;
  @ApiProperty({ type: [Number] }) busy_gpus!: number[];
  @ApiProperty({ enum: ['active', 'draining', 'offline', 'lost'] }) status!: string;
  @ApiProperty() last_heartbeat_at!: string;
  @ApiProperty() started_at!: string;
}
