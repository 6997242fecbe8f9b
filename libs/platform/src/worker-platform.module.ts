import { type DynamicModule, Module } from '@nestjs/common';
import { type ClaraConfig, ClaraConfigModule } from '@clara/config';
import { DatabaseModule } from '@clara/database';

import { SERVICE_NAME } from './platform.tokens.js';
import { ServiceProbes } from './service-probes.js';

/** What a worker process shares with the services: configuration and the database. */
@Module({})
export class WorkerPlatformModule {
  static forRoot(config: ClaraConfig): DynamicModule {
    return {
      module: WorkerPlatformModule,
      global: true,
      imports: [ClaraConfigModule.forRoot({ config }), DatabaseModule.forRoot()],
      providers: [ServiceProbes, { provide: SERVICE_NAME, useValue: 'worker' }],
      exports: [ServiceProbes, SERVICE_NAME],
    };
  }
}
