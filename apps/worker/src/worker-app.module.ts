import { type DynamicModule, Module } from '@nestjs/common';
import type { ClaraConfig } from '@clara/config';
import { DatasetCatalogModule } from '@clara/datasets';
import { WorkerPlatformModule } from '@clara/platform';
import { WorkerModule } from '@clara/worker';

/** Composition root of a standalone worker (GPU machines): no HTTP API, a health port. */
@Module({})
export class WorkerAppModule {
  static forRoot(config: ClaraConfig): DynamicModule {
    return {
      module: WorkerAppModule,
      imports: [
        WorkerPlatformModule.forRoot(config),
        DatasetCatalogModule.forRoot(config),
        WorkerModule,
      ],
    };
  }
}
