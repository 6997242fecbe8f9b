import {
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';
import { ServiceProbes } from '@clara/platform';

import { JobEntity, JobEventEntity, WorkerEntity } from './job.entity.js';
import { JobEventBus } from './job-event-bus.js';
import { JobEventsRepository } from './job-events.repository.js';
import { JobOutputsController } from './job-outputs.controller.js';
import { JobOutputsService } from './job-outputs.service.js';
import { JobsController } from './jobs.controller.js';
import { JobsRepository } from './jobs.repository.js';
import { JobsService } from './jobs.service.js';
import { LeaseRecovery } from './lease-recovery.js';
import { RunFolders } from './run-folders.js';
import { WorkersController } from './workers.controller.js';
import { WorkersService } from './workers.service.js';

/** The job domain both the training API and the worker use: tables, queue, events, folders. */
@Module({
  imports: [TypeOrmModule.forFeature([JobEntity, JobEventEntity, WorkerEntity])],
  providers: [
    JobsRepository,
    JobEventsRepository,
    JobEventBus,
    RunFolders,
    LeaseRecovery,
    WorkersService,
  ],
  exports: [
    JobsRepository,
    JobEventsRepository,
    JobEventBus,
    RunFolders,
    LeaseRecovery,
    WorkersService,
  ],
})
export class JobsDomainModule {}

/** Registers the queue figures on the status route and sweeps expired leases from the API side. */
@Injectable()
class TrainingServiceHooks implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly probes: ServiceProbes,
    private readonly workers: WorkersService,
    private readonly recovery: LeaseRecovery,
    @Inject(CLARA_CONFIG) private readonly config: ClaraConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.probes.addStatusContributor('jobs', () => this.workers.status());
    this.timer = setInterval(
      () => void this.recovery.recover().catch(() => undefined),
      this.config.worker.heartbeatMs,
    );
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }
}

/** The training API: jobs, their outputs, workers. */
@Module({
  imports: [JobsDomainModule],
  controllers: [JobsController, JobOutputsController, WorkersController],
  providers: [JobsService, JobOutputsService, TrainingServiceHooks],
})
export class JobsApiModule {}
