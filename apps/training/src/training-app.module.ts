import { type DynamicModule, Module } from '@nestjs/common';
import type { ClaraConfig } from '@clara/config';
import { DatasetCatalogModule } from '@clara/datasets';
import { JobsApiModule } from '@clara/jobs';
import { PlatformModule } from '@clara/platform';
import { WorkerModule } from '@clara/worker';

/**
 * Composition root of the training service: the platform, the jobs API, the dataset
 * catalog jobs train on and — in the embedded default — the worker, so `npm start` runs
 * jobs without another process.
 */
@Module({})
export class TrainingAppModule {
  static forRoot(config: ClaraConfig): DynamicModule {
    return {
      module: TrainingAppModule,
      imports: [
        PlatformModule.forRoot({ service: 'training', config }),
        DatasetCatalogModule.forRoot(config),
        JobsApiModule,
        ...(config.worker.embedded ? [WorkerModule] : []),
      ],
    };
  }
}
