export { AUDIT_OUTCOMES, type AuditOutcome } from './audit-entry.entity.js';
export { AuditEntryDto, AuditPageDto, AuditQueryDto } from './audit.dto.js';
export { AuditModule } from './audit.module.js';
export { type AuditEvent, AuditService, isAuditable, outcomeOf } from './audit.service.js';
