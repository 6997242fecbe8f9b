import { Injectable, Logger } from '@nestjs/common';
import { isoNow } from '@clara/common';

import { JobEventBus } from './job-event-bus.js';
import { JobEventsRepository } from './job-events.repository.js';
import { JobsRepository } from './jobs.repository.js';

/**
 * Finds jobs whose worker stopped renewing its lease and puts them back in the queue (to
 * resume from their last checkpoint) or fails them. Every worker runs it with its
 * heartbeat, and the training service runs it too, so a job is never left `running`
 * when all workers are gone.
 */
@Injectable()
export class LeaseRecovery {
  private readonly logger = new Logger('LeaseRecovery');

  constructor(
    private readonly jobs: JobsRepository,
    private readonly events: JobEventsRepository,
    private readonly bus: JobEventBus,
  ) {}

  async recover(): Promise<number> {
    const recovered = await this.jobs.recoverExpiredLeases();
    for (const job of recovered) {
      const message =
        job.status === 'queued'
          ? 'The worker stopped responding; the job is queued again and resumes from its last checkpoint'
          : job.status === 'failed'
            ? 'The worker stopped responding and the job has used all its attempts'
            : 'The worker stopped responding while cancelling; the job is cancelled';
      this.logger.warn(`job ${job.id}: lease expired → ${job.status}`);
      await this.events.append(job.id, [
        {
          type: 'status',
          time: isoNow(),
          data: { status: job.status, reason: 'worker_lost', message },
        },
      ]);
      if (job.status === 'queued') this.bus.jobQueued();
      this.bus.jobChanged(job.id);
    }
    return recovered.length;
  }
}
