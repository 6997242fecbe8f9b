import { Module } from '@nestjs/common';
import { MultipartModule } from '@nestjs/platform-fastify';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';
import { CorpusModule } from '@clara/corpus';

import { BuildService } from './build/build.service.js';
import { DatasetsService } from './datasets.service.js';
import { ExportCache } from './export/export-cache.js';
import { ExportPreparer } from './export/export-preparer.js';
import { ExportService } from './export/export.service.js';
import {
  DatasetsController,
  LineageController,
  VersionsController,
} from './http/datasets.controller.js';
import { ImportService } from './import/import.service.js';
import { DatasetVersionReader } from './reader/dataset-version-reader.js';
import { DatasetEntity, DatasetVersionEntity } from './storage/dataset.entities.js';
import { DatasetsRepository } from './storage/datasets.repository.js';

/**
 * Dataset storage without HTTP or the corpus: what another deployable (the training
 * service, the worker) needs to read versions from the same database —
 * `DatasetVersionReader`.
 */
@Module({
  imports: [TypeOrmModule.forFeature([DatasetEntity, DatasetVersionEntity])],
  providers: [DatasetsRepository, ExportCache, ExportService, DatasetVersionReader],
  exports: [DatasetsRepository, ExportCache, ExportService, DatasetVersionReader],
})
export class DatasetsStorageModule {}

/** The datasets feature of the datasets service: API, builds from the corpus, imports, exports. */
@Module({
  imports: [
    DatasetsStorageModule,
    CorpusModule,
    MultipartModule.registerAsync({
      inject: [CLARA_CONFIG],
      useFactory: (config: ClaraConfig) => ({
        limits: { fileSize: config.datasets.importMaxBytes, files: 1, fields: 10, fieldSize: 4096 },
      }),
    }),
  ],
  controllers: [DatasetsController, VersionsController, LineageController],
  providers: [DatasetsService, BuildService, ImportService, ExportPreparer],
  exports: [DatasetsService, BuildService, ExportPreparer, DatasetsStorageModule],
})
export class DatasetsModule {}
