import { Inject, Injectable, Logger } from '@nestjs/common';
import { DEFAULT_PAGE_LIMIT, isoNow, newId, type Page, toPage } from '@clara/common';

import { AuditEntryEntity, type AuditOutcome } from './audit-entry.entity.js';
import type { AuditEntryDto, AuditQueryDto } from './audit.dto.js';
import { AuditRepository } from './audit.repository.js';

export const AUDIT_SERVICE_NAME = Symbol('AUDIT_SERVICE_NAME');

export interface AuditEvent {
  subject: string | null;
  roles: string[];
  action: string;
  resourceType: string | null;
  resourceId: string | null;
  statusCode: number;
  method: string;
  path: string;
  requestId: string;
  clientAddress: string | null;
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Which requests the audit log keeps: every mutating one and every denied one. */
export function isAuditable(method: string, statusCode: number): boolean {
  return !READ_METHODS.has(method) || statusCode === 401 || statusCode === 403;
}

export function outcomeOf(statusCode: number): AuditOutcome {
  if (statusCode === 401 || statusCode === 403) return 'denied';
  return statusCode < 400 ? 'success' : 'failure';
}

@Injectable()
export class AuditService {
  private readonly logger = new Logger('Audit');

  constructor(
    private readonly repository: AuditRepository,
    @Inject(AUDIT_SERVICE_NAME) private readonly service: string,
  ) {}

  async record(event: AuditEvent): Promise<void> {
    const entry = Object.assign(new AuditEntryEntity(), {
      id: newId(),
      occurredAt: isoNow(),
      service: this.service,
      subject: event.subject,
      roles: event.roles.join(','),
      action: event.action.slice(0, 128),
      resourceType: event.resourceType,
      resourceId: event.resourceId?.slice(0, 255) ?? null,
      outcome: outcomeOf(event.statusCode),
      statusCode: event.statusCode,
      method: event.method,
      path: event.path.slice(0, 2048),
      requestId: event.requestId,
      clientAddress: event.clientAddress,
    });
    try {
      await this.repository.append(entry);
    } catch (error) {
      // The request itself already happened; losing its audit entry must be loud.
      this.logger.error({ err: error, audit: entry }, 'could not write audit entry');
      throw error;
    }
  }

  async list(query: AuditQueryDto): Promise<Page<AuditEntryDto>> {
    const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
    const rows = await this.repository.list(query, limit);
    return toPage(rows, limit, toDto, (row) => ({ t: row.occurredAt, id: row.id }));
  }
}

function toDto(row: AuditEntryEntity): AuditEntryDto {
  return {
    id: row.id,
    occurred_at: row.occurredAt,
    service: row.service,
    subject: row.subject,
    roles: row.roles ? row.roles.split(',') : [],
    action: row.action,
    resource_type: row.resourceType,
    resource_id: row.resourceId,
    outcome: row.outcome,
    status_code: row.statusCode,
    method: row.method,
    path: row.path,
    request_id: row.requestId,
    client_address: row.clientAddress,
  };
}
