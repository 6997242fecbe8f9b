import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';

import { AuditEntryEntity } from './audit-entry.entity.js';
import { AuditController } from './audit.controller.js';
import { AuditRepository } from './audit.repository.js';
import { AUDIT_SERVICE_NAME, AuditService } from './audit.service.js';

@Module({})
export class AuditModule {
  /** `service` names the deployable in every entry it writes (`training`, `datasets`). */
  static forRoot(service: string): DynamicModule {
    return {
      module: AuditModule,
      imports: [TypeOrmModule.forFeature([AuditEntryEntity])],
      controllers: [AuditController],
      providers: [
        AuditRepository,
        AuditService,
        { provide: AUDIT_SERVICE_NAME, useValue: service },
      ],
      exports: [AuditService],
    };
  }
}
