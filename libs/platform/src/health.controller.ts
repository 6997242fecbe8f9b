import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  type HealthCheckResult,
  HealthCheckService,
  type HealthIndicatorResult,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { Public } from '@clara/auth';

import { MetricsService } from './metrics.service.js';
import { ServiceProbes } from './service-probes.js';

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly probes: ServiceProbes,
    @Inject(MetricsService) private readonly metrics: MetricsService,
  ) {}

  @Get('health/live')
  @Public()
  @ApiOperation({ operationId: 'liveness', summary: 'The process is up' })
  @ApiOkResponse({
    schema: { type: 'object', properties: { status: { type: 'string', example: 'ok' } } },
  })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('health/ready')
  @Public()
  @HealthCheck()
  @ApiOperation({
    operationId: 'readiness',
    summary: 'Every configured store answers (503 names the ones that do not)',
  })
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.database.pingCheck('database', { timeout: 3000 }),
      ...this.probes
        .readinessChecks()
        .map(([name, check]) => async (): Promise<HealthIndicatorResult> => {
          try {
            const details = (await check()) ?? {};
            return { [name]: { status: 'up', ...details } };
          } catch (error) {
            return { [name]: { status: 'down', message: (error as Error).message } };
          }
        }),
    ]);
  }

  @Get('metrics')
  @Public()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiProduces('text/plain')
  @ApiOkResponse({ content: { 'text/plain': { schema: { type: 'string' } } } })
  @ApiOperation({ operationId: 'metrics', summary: 'Prometheus metrics' })
  async prometheus(): Promise<string> {
    return this.metrics.text();
  }
}
