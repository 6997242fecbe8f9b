import { type DynamicModule, Module } from '@nestjs/common';
import type { ClaraConfig } from '@clara/config';
import { DATASET_CATALOG, HttpDatasetCatalog } from '@clara/jobs';

import { DatasetsStorageModule } from './datasets.module.js';
import { DatasetVersionReader } from './reader/dataset-version-reader.js';

/**
 * Gives the training side (jobs API and worker) its dataset catalog: the Datasets
 * service over HTTP when `CLARA_DATASETS_URL` is set (deployed apart), otherwise this
 * lib's reader on the shared database (the embedded default).
 */
@Module({})
export class DatasetCatalogModule {
  static forRoot(config: ClaraConfig): DynamicModule {
    const { datasetsUrl, datasetsToken } = config.jobs;
    if (datasetsUrl) {
      return {
        module: DatasetCatalogModule,
        global: true,
        providers: [
          {
            provide: DATASET_CATALOG,
            useValue: new HttpDatasetCatalog(datasetsUrl, datasetsToken),
          },
        ],
        exports: [DATASET_CATALOG],
      };
    }
    return {
      module: DatasetCatalogModule,
      global: true,
      imports: [DatasetsStorageModule],
      providers: [{ provide: DATASET_CATALOG, useExisting: DatasetVersionReader }],
      exports: [DATASET_CATALOG],
    };
  }
}
