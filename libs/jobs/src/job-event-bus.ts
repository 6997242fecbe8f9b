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
    this.emitter.emit('any-job');
  }

  jobQueued(): void {
    this.emitter.emit('queued');
  }

  onJobChanged(jobId: string, listener: () => void): () => void {
    this.emitter.on(`job:${jobId}`, listener);
    return () => this.emitter.off(`job:${jobId}`, listener);
  }

  onAnyJobChanged(listener: () => void): () => void {
    this.emitter.on('any-job', listener);
    return () => this.emitter.off('any-job', listener);
  }

  onJobQueued(listener: () => void): () => void {
    this.emitter.on('queued', listener);
    return () => this.emitter.off('queued', listener);
  }
}
