import { Column, Entity, PrimaryColumn } from 'typeorm';

import type { RecordFormat } from '../domain/record-format.js';

export const VERSION_STATUSES = ['building', 'ready', 'failed'] as const;
export type VersionStatus = (typeof VERSION_STATUSES)[number];
export type VersionOrigin = 'build' | 'import';

@Entity({ name: 'datasets' })
export class DatasetEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  @Column({ type: 'varchar', length: 128 }) name!: string;
  @Column({ type: 'text' }) description!: string;
  @Column({ name: 'record_format', type: 'varchar', length: 16 }) recordFormat!: RecordFormat;
  /** The highest version number handed out (versions are numbered 1, 2, …). */
  @Column({ name: 'latest_version', type: 'integer', default: 0 }) latestVersion!: number;
  @Column({ name: 'created_by', type: 'varchar', length: 255 }) createdBy!: string;
  @Column({ name: 'created_at', type: 'varchar', length: 24 }) createdAt!: string;
  @Column({ name: 'updated_at', type: 'varchar', length: 24 }) updatedAt!: string;
}

export interface VersionProgress {
  phase: string;
  processed: number;
  total: number;
}

@Entity({ name: 'dataset_versions' })
export class DatasetVersionEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  @Column({ name: 'dataset_id', type: 'varchar', length: 36 }) datasetId!: string;
  @Column({ type: 'integer' }) version!: number;
  @Column({ type: 'varchar', length: 16 }) status!: VersionStatus;
  @Column({ type: 'varchar', length: 16 }) origin!: VersionOrigin;
  @Column({ name: 'record_format', type: 'varchar', length: 16 }) recordFormat!: RecordFormat;
  @Column({ type: 'simple-json' }) spec!: Record<string, unknown>;
  @Column({ type: 'simple-json', nullable: true }) statistics!: Record<string, unknown> | null;
  @Column({ type: 'varchar', length: 64, nullable: true }) checksum!: string | null;
  @Column({ name: 'train_count', type: 'integer', default: 0 }) trainCount!: number;
  @Column({ name: 'validation_count', type: 'integer', default: 0 }) validationCount!: number;
  @Column({ type: 'simple-json', nullable: true }) progress!: VersionProgress | null;
  @Column({ type: 'text', nullable: true }) error!: string | null;
  @Column({ name: 'created_by', type: 'varchar', length: 255 }) createdBy!: string;
  @Column({ name: 'created_at', type: 'varchar', length: 24 }) createdAt!: string;
  @Column({ name: 'updated_at', type: 'varchar', length: 24 }) updatedAt!: string;
  @Column({ name: 'finished_at', type: 'varchar', length: 24, nullable: true }) finishedAt!:
    string | null;
}
