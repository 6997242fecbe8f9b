import { ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  Matches,
  Max,
  Min,
} from 'class-validator';

/**
 * Training hyperparameters. Every field is optional; the defaults (shown in the OpenAPI
 * schema) are what the trainer uses, and the job records the full, resolved set.
 */
export class HyperparametersDto {
  @ApiPropertyOptional({
    default: 3,
    minimum: 0.01,
    maximum: 100,
    description: 'Passes over the training data',
  })
  @IsOptional()
  @IsNumber()
  @Min(0.01)
  @Max(100)
  epochs?: number;

  @ApiPropertyOptional({
    minimum: 1,
    description: 'Stop after this many optimizer steps (overrides epochs)',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  max_steps?: number;

  @ApiPropertyOptional({ default: 0.0002, exclusiveMinimum: true, minimum: 0, maximum: 1 })
  @IsOptional()
  @IsNumber()
  @Min(1e-9)
  @Max(1)
  learning_rate?: number;

  @ApiPropertyOptional({
    default: 4,
    minimum: 1,
    maximum: 1024,
    description: 'Per-device batch size',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1024)
  batch_size?: number;

  @ApiPropertyOptional({ default: 1, minimum: 1, maximum: 1024 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1024)
  gradient_accumulation_steps?: number;

  @ApiPropertyOptional({
    default: 1024,
    minimum: 16,
    maximum: 131072,
    description: 'Tokens; longer records are truncated',
  })
  @IsOptional()
  @IsInt()
  @Min(16)
  @Max(131072)
  max_seq_length?: number;

  @ApiPropertyOptional({ default: 0.03, minimum: 0, maximum: 0.5 })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(0.5)
  warmup_ratio?: number;

  @ApiPropertyOptional({ default: 0, minimum: 0, description: 'When > 0, wins over warmup_ratio' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  warmup_steps?: number;

  @ApiPropertyOptional({ default: 42 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(2 ** 31 - 1)
  seed?: number;

  @ApiPropertyOptional({ default: 0, minimum: 0, maximum: 1 })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(1)
  weight_decay?: number;

  @ApiPropertyOptional({ default: 'cosine', enum: ['cosine', 'linear', 'constant'] })
  @IsOptional()
  @IsIn(['cosine', 'linear', 'constant'])
  lr_scheduler?: 'cosine' | 'linear' | 'constant';

  @ApiPropertyOptional({ default: 16, minimum: 1, maximum: 1024, description: 'LoRA rank' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1024)
  lora_r?: number;

  @ApiPropertyOptional({ default: 32, minimum: 1, maximum: 4096 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(4096)
  lora_alpha?: number;

  @ApiPropertyOptional({ default: 0.05, minimum: 0, maximum: 0.9 })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(0.9)
  lora_dropout?: number;

  @ApiPropertyOptional({
    type: [String],
    description:
      'Module names to adapt; default per architecture (e.g. q/k/v/o and MLP projections for Llama)',
    example: ['q_proj', 'v_proj'],
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(64)
  @Matches(/^[A-Za-z0-9_.]{1,64}$/, { each: true })
  target_modules?: string[];

  @ApiPropertyOptional({ default: 4, enum: [4, 8], description: 'QLoRA only' })
  @IsOptional()
  @IsIn([4, 8])
  quantization_bits?: 4 | 8;

  @ApiPropertyOptional({ default: 'nf4', enum: ['nf4', 'fp4'], description: 'QLoRA 4-bit only' })
  @IsOptional()
  @IsIn(['nf4', 'fp4'])
  quantization_type?: 'nf4' | 'fp4';

  @ApiPropertyOptional({
    minimum: 1,
    description: 'Checkpoint every N steps (default: once per epoch)',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  save_steps?: number;

  @ApiPropertyOptional({
    minimum: 1,
    description: 'Evaluate every N steps when a validation file is given',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  eval_steps?: number;

  @ApiPropertyOptional({ default: 1, minimum: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000)
  logging_steps?: number;

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean()
  gradient_checkpointing?: boolean;

  @ApiPropertyOptional({ default: 'auto', enum: ['auto', 'bf16', 'fp16', 'fp32'] })
  @IsOptional()
  @IsIn(['auto', 'bf16', 'fp16', 'fp32'])
  precision?: 'auto' | 'bf16' | 'fp16' | 'fp32';
}

export const DEFAULT_HYPERPARAMETERS = {
  epochs: 3,
  learning_rate: 0.0002,
  batch_size: 4,
  gradient_accumulation_steps: 1,
  max_seq_length: 1024,
  warmup_ratio: 0.03,
  warmup_steps: 0,
  seed: 42,
  weight_decay: 0,
  lr_scheduler: 'cosine',
  lora_r: 16,
  lora_alpha: 32,
  lora_dropout: 0.05,
  logging_steps: 1,
  gradient_checkpointing: false,
  precision: 'auto',
} as const;

/** The full set the trainer receives: defaults filled in, QLoRA-only keys only for QLoRA. */
export function resolveHyperparameters(
  given: HyperparametersDto | undefined,
  method: 'lora' | 'qlora',
): Record<string, unknown> {
  const resolved: Record<string, unknown> = { ...DEFAULT_HYPERPARAMETERS };
  for (const [key, value] of Object.entries(given ?? {}))
    if (value !== undefined) resolved[key] = value;
  if (method === 'qlora') {
    resolved.quantization_bits ??= 4;
    resolved.quantization_type ??= 'nf4';
  }
  return resolved;
}
