export { BuildService } from './build/build.service.js';
export { DatasetCatalogModule } from './dataset-catalog.module.js';
export { DatasetsModule, DatasetsStorageModule } from './datasets.module.js';
export { DatasetsService } from './datasets.service.js';
export {
  CHAT_ROLES,
  type ChatMessage,
  checkRecord,
  canonicalJson,
  METADATA_FIELDS,
  RECORD_FORMATS,
  type RecordFormat,
  SPLITS,
  type Split,
  type TrainingRecord,
} from './domain/record-format.js';
export { approxTokens, TOKEN_BUCKETS } from './domain/tokens.js';
export { NearDuplicateIndex, signature, similarity } from './domain/minhash.js';
export { splitDocuments } from './domain/split.js';
export {
  CONTENT_TYPES,
  EXPORT_FORMATS,
  EXPORT_LAYOUT,
  type ExportFormat,
  exportFileName,
} from './export/file-names.js';
export { ExportCache, type ExportKey } from './export/export-cache.js';
export { ExportPreparer } from './export/export-preparer.js';
export { ExportService } from './export/export.service.js';
export { csvChunks, jsonlChunks, parquetChunks, parquetSchema } from './export/record-writers.js';
export {
  type DatasetVersionDescription,
  DatasetVersionReader,
} from './reader/dataset-version-reader.js';
export { DatasetEntity, DatasetVersionEntity } from './storage/dataset.entities.js';
export {
  DatasetsRepository,
  type RecordRow,
  type StoredRecord,
} from './storage/datasets.repository.js';
