import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One append-only audit record; the table rejects UPDATE and DELETE (see its migration). */
@Entity({ name: 'audit_entries' })
export class AuditEntryEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ name: 'occurred_at', type: 'varchar', length: 24 })
  occurredAt!: string;

  @Column({ type: 'varchar', length: 32 })
  service!: string;

  @Column({ type: 'varchar', length: 255, nullable: true })
  subject!: string | null;

  /** Comma-separated roles at the time of the request. */
  @Column({ type: 'varchar', length: 255 })
  roles!: string;

  @Column({ type: 'varchar', length: 128 })
  action!: string;

  @Column({ name: 'resource_type', type: 'varchar', length: 64, nullable: true })
  resourceType!: string | null;

  @Column({ name: 'resource_id', type: 'varchar', length: 255, nullable: true })
  resourceId!: string | null;

  @Column({ type: 'varchar', length: 16 })
  outcome!: AuditOutcome;

  @Column({ name: 'status_code', type: 'integer' })
  statusCode!: number;

  @Column({ type: 'varchar', length: 8 })
  method!: string;

  @Column({ type: 'varchar', length: 2048 })
  path!: string;

  @Column({ name: 'request_id', type: 'varchar', length: 128 })
  requestId!: string;

  @Column({ name: 'client_address', type: 'varchar', length: 64, nullable: true })
  clientAddress!: string | null;
}

export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];
