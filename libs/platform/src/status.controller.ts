import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ForReaders } from '@clara/auth';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';
import { databaseEngine } from '@clara/database';

import { SERVICE_NAME } from './platform.tokens.js';
import { ServiceProbes } from './service-probes.js';

export class ServiceStatusDto {
  @ApiProperty({ example: 'training' }) service!: string;
  @ApiProperty() version!: string;
  @ApiProperty({ enum: ['development', 'production', 'testing'] }) environment!: string;
  @ApiProperty({ enum: ['sqlite', 'postgres'] }) database!: string;
  @ApiProperty() uptime_seconds!: number;
  @ApiProperty({ description: 'ISO-8601 UTC' }) started_at!: string;
  [feature: string]: unknown;
}

const STARTED_AT = new Date();
const STARTED_AT_ISO = STARTED_AT.toISOString();
export const CLARA_VERSION = '0.1.0';

@ApiTags('status')
@Controller('status')
export class StatusController {
  constructor(
    @Inject(SERVICE_NAME) private readonly service: string,
    @Inject(CLARA_CONFIG) private readonly config: ClaraConfig,
    private readonly probes: ServiceProbes,
  ) {}

  @Get()
  @ForReaders()
  @ApiOperation({ operationId: 'getStatus', summary: "The service's state and workload" })
  @ApiOkResponse({ type: ServiceStatusDto })
  status(): ServiceStatusDto | Promise<ServiceStatusDto> {
    const base: ServiceStatusDto = {
      service: this.service,
      version: CLARA_VERSION,
      environment: this.config.environment,
      database: databaseEngine(this.config.database),
      uptime_seconds: Math.round((Date.now() - STARTED_AT.getTime()) / 1000),
      started_at: STARTED_AT_ISO,
    };
    const features = this.probes.collectStatus();
    // Object.assign, not `{ ...base, ...features }`: V8 took ~4 µs for that double spread.
    return features instanceof Promise
      ? features.then((more) => Object.assign(base, more))
      : Object.assign(base, features);
  }
}
