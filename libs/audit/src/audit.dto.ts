import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { PageQueryDto } from '@clara/common';
import { IsIn, IsISO8601, IsOptional, IsString, MaxLength } from 'class-validator';

import { AUDIT_OUTCOMES, type AuditOutcome } from './audit-entry.entity.js';

export class AuditQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ description: 'Only entries of this subject (token `sub`)' })
  @IsOptional()
  @IsString()
  @MaxLength(255)
  subject?: string;

  @ApiPropertyOptional({ description: 'Only this action, e.g. `jobs.create`' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  action?: string;

  @ApiPropertyOptional({ enum: AUDIT_OUTCOMES })
  @IsOptional()
  @IsIn(AUDIT_OUTCOMES)
  outcome?: AuditOutcome;

  @ApiPropertyOptional({ description: 'Only entries caused by this request id' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  request_id?: string;

  @ApiPropertyOptional({ description: 'Entries at or after this time (ISO-8601)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ description: 'Entries before this time (ISO-8601)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

export class AuditEntryDto {
  @ApiProperty() id!: string;
  @ApiProperty({ description: 'ISO-8601 UTC' }) occurred_at!: string;
  @ApiProperty() service!: string;
  @ApiProperty({ nullable: true, type: String }) subject!: string | null;
  @ApiProperty({ type: [String] }) roles!: string[];
  @ApiProperty({ example: 'jobs.create' }) action!: string;
  @ApiProperty({ nullable: true, type: String }) resource_type!: string | null;
  @ApiProperty({ nullable: true, type: String }) resource_id!: string | null;
  @ApiProperty({ enum: AUDIT_OUTCOMES }) outcome!: AuditOutcome;
  @ApiProperty() status_code!: number;
  @ApiProperty() method!: string;
  @ApiProperty() path!: string;
  @ApiProperty() request_id!: string;
  @ApiProperty({ nullable: true, type: String }) client_address!: string | null;
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditEntryDto] }) data!: AuditEntryDto[];
  @ApiProperty({ nullable: true, type: String }) next_cursor!: string | null;
  @ApiProperty() has_more!: boolean;
}
