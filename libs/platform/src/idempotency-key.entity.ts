import { Column, Entity, PrimaryColumn } from 'typeorm';

export type IdempotencyState = 'in_progress' | 'done';

/** One `Idempotency-Key` of one caller on one route, and the response it was answered with. */
@Entity({ name: 'idempotency_keys' })
export class IdempotencyKeyEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id!: string;
  @Column({ type: 'varchar', length: 255 }) subject!: string;
  @Column({ type: 'varchar', length: 32 }) service!: string;
  @Column({ type: 'varchar', length: 255 }) route!: string;
  @Column({ name: 'idempotency_key', type: 'varchar', length: 255 }) key!: string;
  @Column({ type: 'varchar', length: 64 }) fingerprint!: string;
  @Column({ type: 'varchar', length: 16 }) state!: IdempotencyState;
  @Column({ name: 'status_code', type: 'integer', nullable: true }) statusCode!: number | null;
  /** The response body as the JSON text that was sent (null: no body). */
  @Column({ name: 'response_body', type: 'text', nullable: true }) responseBody!: string | null;
  @Column({ name: 'request_id', type: 'varchar', length: 128, nullable: true })
  requestId!: string | null;
  @Column({ name: 'created_at', type: 'varchar', length: 24 }) createdAt!: string;
  @Column({ name: 'completed_at', type: 'varchar', length: 24, nullable: true })
  completedAt!: string | null;
  @Column({ name: 'expires_at', type: 'varchar', length: 24 }) expiresAt!: string;
}
