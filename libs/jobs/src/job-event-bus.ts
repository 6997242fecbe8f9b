import { EventEmitter } from 'node:events';

import { Injectable } from '@nestjs/common';

/**
 * In-process wake-up calls: "job X has new events", "a job was queued", "job X should
 * stop". Only a hint — every consumer re-reads the database, and also polls, so workers in
 * other processes (which this bus cannot reach) are served the same way, a little later.
 */
@Injectable()
export class JobEventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  jobChanged(jobId: string): void {
    this.emitter.emit(`job:${jobId}`);
  }

  jobQueued(): void {
    this.emitter.emit('queued');
  }

  /** A client asked to stop a running job (cancel). */
  stopRequested(jobId: string): void {
    this.emitter.emit('stop', jobId);
  }

  onStopRequested(listener: (jobId: string) => void): () => void {
    this.emitter.on('stop', listener);
    return () => this.emitter.off('stop', listener);
  }

  onJobChanged(jobId: string, listener: () => void): () => void {
    this.emitter.on(`job:${jobId}`, listener);
    return () => this.emitter.off(`job:${jobId}`, listener);
  }

  onJobQueued(listener: () => void): () => void {
    this.emitter.on('queued', listener);
    return () => this.emitter.off('queued', listener);
  }
}
