import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '@clara/audit';
import { AuthModule } from '@clara/auth';
import { ClaraValidationPipe, ProblemDetailsFilter } from '@clara/common';
import { type ClaraConfig, ClaraConfigModule } from '@clara/config';
import { DatabaseModule } from '@clara/database';

import { HealthController } from './health.controller.js';
import { IdempotencyKeyEntity } from './idempotency-key.entity.js';
import { IdempotencyRepository } from './idempotency.repository.js';
import { MetricsService } from './metrics.service.js';
import { SERVICE_NAME } from './platform.tokens.js';
import { ServiceProbes } from './service-probes.js';
import { StatusController } from './status.controller.js';

export interface PlatformOptions {
  service: 'training' | 'datasets';
  config: ClaraConfig;
}

/**
 * Everything an HTTP service shares: configuration, database, default-deny auth, audit,
 * validation, problem+json errors, `Idempotency-Key` for `@Idempotent()` routes, health,
 * metrics and the status route. Both services' root modules import it, and tests build
 * their apps through it too.
 */
@Module({})
export class PlatformModule {
  static forRoot(options: PlatformOptions): DynamicModule {
    return {
      module: PlatformModule,
      global: true,
      imports: [
        ClaraConfigModule.forRoot({ config: options.config }),
        DatabaseModule.forRoot(),
        TypeOrmModule.forFeature([IdempotencyKeyEntity]),
        TerminusModule.forRoot({ logger: false, gracefulShutdownTimeoutMs: 0 }),
        AuthModule,
        AuditModule.forRoot(options.service),
      ],
      controllers: [HealthController, StatusController],
      providers: [
        MetricsService,
        ServiceProbes,
        IdempotencyRepository,
        { provide: SERVICE_NAME, useValue: options.service },
        { provide: APP_PIPE, useClass: ClaraValidationPipe },
        { provide: APP_FILTER, useClass: ProblemDetailsFilter },
        // No global interceptors: each one puts an rxjs pipeline on every request (about a
        // quarter of a small route's CPU). `@Idempotent()` attaches its interceptor per route.
      ],
      exports: [
        MetricsService,
        ServiceProbes,
        IdempotencyRepository,
        SERVICE_NAME,
        AuditModule,
        AuthModule,
      ],
    };
  }
}
