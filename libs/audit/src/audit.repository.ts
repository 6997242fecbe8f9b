import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { decodeCursor } from '@clara/common';
import { Brackets, type Repository } from 'typeorm';

import { AuditEntryEntity } from './audit-entry.entity.js';
import type { AuditQueryDto } from './audit.dto.js';

/** Every audit query. Insert and select only: there is deliberately no update or delete. */
@Injectable()
export class AuditRepository {
  constructor(
    @InjectRepository(AuditEntryEntity) private readonly entries: Repository<AuditEntryEntity>,
  ) {}

  async append(entry: AuditEntryEntity): Promise<void> {
    await this.entries.insert(entry);
  }

  /** Newest first; fetches `limit + 1` rows so the caller knows whether more exist. */
  async list(query: AuditQueryDto, limit: number): Promise<AuditEntryEntity[]> {
    const qb = this.entries.createQueryBuilder('a');
    if (query.subject) qb.andWhere('a.subject = :subject', { subject: query.subject });
    if (query.action) qb.andWhere('a.action = :action', { action: query.action });
    if (query.outcome) qb.andWhere('a.outcome = :outcome', { outcome: query.outcome });
    if (query.request_id) qb.andWhere('a.request_id = :rid', { rid: query.request_id });
    if (query.from)
      qb.andWhere('a.occurred_at >= :from', { from: new Date(query.from).toISOString() });
    if (query.to) qb.andWhere('a.occurred_at < :to', { to: new Date(query.to).toISOString() });
    const after = decodeCursor<{ t: string; id: string }>(query.cursor, ['t', 'id']);
    if (after) {
      qb.andWhere(
        new Brackets((w) =>
          w
            .where('a.occurred_at < :t', { t: after.t })
            .orWhere('(a.occurred_at = :t AND a.id < :id)', { t: after.t, id: after.id }),
        ),
      );
    }
    return qb
      .orderBy('a.occurred_at', 'DESC')
      .addOrderBy('a.id', 'DESC')
      .limit(limit + 1)
      .getMany();
  }
}
