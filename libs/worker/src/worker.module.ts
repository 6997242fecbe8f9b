import { Module } from '@nestjs/common';
import { JobsDomainModule } from '@clara/jobs';

import { WorkerService } from './worker.service.js';

/** The worker, for the training service (embedded) and for `apps/worker` (GPU machines). */
@Module({
  imports: [JobsDomainModule],
  providers: [WorkerService],
  exports: [WorkerService],
})
export class WorkerModule {}
