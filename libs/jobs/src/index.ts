export {
  DATASET_CATALOG,
  type DatasetCatalog,
  type DatasetVersionSummary,
  HttpDatasetCatalog,
} from './dataset-catalog.js';
export {
  ArtifactDto,
  CheckpointDto,
  CreateJobDto,
  JobDataDto,
  JobDto,
  JobEventDto,
  JobPageDto,
  ListJobsQueryDto,
  WorkerDto,
} from './jobs.dto.js';
export { DEFAULT_HYPERPARAMETERS, HyperparametersDto } from './hyperparameters.dto.js';
export { type JobData, JobEntity, JobEventEntity, WorkerEntity } from './job.entity.js';
export { JobEventBus } from './job-event-bus.js';
export {
  JobEventsRepository,
  type JobRowUpdate,
  type NewJobEvent,
} from './job-events.repository.js';
export {
  isTerminal,
  JOB_STATUSES,
  type JobStatus,
  RECORD_FORMATS,
  type RecordFormat,
  type StopReason,
  TERMINAL_STATUSES,
  TRAINER_EXIT_CODES,
} from './job.types.js';
export { JobsApiModule, JobsDomainModule } from './jobs.module.js';
export { JobsRepository } from './jobs.repository.js';
export { JobsService } from './jobs.service.js';
export { LeaseRecovery } from './lease-recovery.js';
export { isInside, RunFolders } from './run-folders.js';
export { WorkersService } from './workers.service.js';
