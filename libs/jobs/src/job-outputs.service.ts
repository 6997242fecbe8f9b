import { open, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';

import { Injectable } from '@nestjs/common';
import { NotFoundError } from '@clara/common';
import { Observable, Subject } from 'rxjs';

import { JobEventBus } from './job-event-bus.js';
import { JobEventsRepository } from './job-events.repository.js';
import { isTerminal } from './job.types.js';
import type {
  ArtifactDto,
  CheckpointDto,
  EventsQueryDto,
  JobEventDto,
  JobEventPageDto,
  JobLogDto,
  JobMetricsDto,
  LogQueryDto,
  MetricPointDto,
} from './jobs.dto.js';
import { JobsService } from './jobs.service.js';
import { RunFolders } from './run-folders.js';
import type { JobEventEntity } from './job.entity.js';

export interface StreamedEvent {
  id: string;
  type: string;
  data: JobEventDto;
}

const POLL_MS = 500;
const KEEPALIVE_MS = 15_000;

/** What a job produced: its events (as a page or a live stream), metrics, log, files. */
@Injectable()
export class JobOutputsService {
  constructor(
    private readonly jobs: JobsService,
    private readonly events: JobEventsRepository,
    private readonly bus: JobEventBus,
    private readonly folders: RunFolders,
  ) {}

  async page(jobId: string, query: EventsQueryDto): Promise<JobEventPageDto> {
    await this.jobs.require(jobId);
    const limit = query.limit ?? 100;
    const rows = await this.events.list(jobId, query.after ?? 0, limit + 1, query.type);
    const data = rows.slice(0, limit).map(toEventDto);
    return {
      data,
      last_seq: data.length ? data[data.length - 1].seq : (query.after ?? 0),
      has_more: rows.length > limit,
    };
  }

  /**
   * Every event after `afterSeq`, then live ones as they are stored, until the job has
   * ended and its last event was sent. Woken by the in-process bus, and polling for
   * events written by workers in other processes.
   */
  async stream(jobId: string, afterSeq: number): Promise<Observable<StreamedEvent>> {
    await this.jobs.require(jobId);
    const subject = new Subject<StreamedEvent>();
    let last = afterSeq;
    let closed = false;
    let pending: Promise<void> | null = null;
    let again = false;

    const pump = async (): Promise<void> => {
      for (;;) {
        const rows = await this.events.list(jobId, last, 500);
        for (const row of rows) {
          last = row.seq;
          subject.next({ id: String(row.seq), type: row.type, data: toEventDto(row) });
        }
        if (rows.length < 500) break;
      }
      const job = await this.jobs.require(jobId).catch(() => null);
      if (!job || (isTerminal(job.status) && job.lastEventSeq <= last)) finish();
    };
    const wake = () => {
      if (closed) return;
      if (pending) {
        again = true;
        return;
      }
      pending = pump()
        .catch((error: unknown) => subject.error(error))
        .finally(() => {
          pending = null;
          if (again && !closed) {
            again = false;
            wake();
          }
        });
    };
    const unsubscribe = this.bus.onJobChanged(jobId, wake);
    const poll = setInterval(wake, POLL_MS);
    const keepalive = setInterval(
      () => subject.next({ id: String(last), type: 'keepalive', data: keepaliveEvent(last) }),
      KEEPALIVE_MS,
    );
    const finish = () => {
      if (closed) return;
      closed = true;
      unsubscribe();
      clearInterval(poll);
      clearInterval(keepalive);
      subject.complete();
    };
    wake();
    return new Observable<StreamedEvent>((subscriber) => {
      const subscription = subject.subscribe(subscriber);
      return () => {
        subscription.unsubscribe();
        finish();
      };
    });
  }

  async metrics(jobId: string): Promise<JobMetricsDto> {
    await this.jobs.require(jobId);
    const rows = await this.events.ofType(jobId, 'metric');
    const names = new Set<string>();
    const points: MetricPointDto[] = rows.map((row) => {
      const point: MetricPointDto = { step: Number(row.data.step ?? 0), time: row.occurredAt };
      for (const [key, value] of Object.entries(row.data)) {
        if (key !== 'step' && typeof value === 'number') {
          point[key] = value;
          names.add(key);
        }
      }
      return point;
    });
    return { metrics: [...names].sort(), points };
  }

  async log(jobId: string, query: LogQueryDto): Promise<JobLogDto> {
    await this.jobs.require(jobId);
    const path = this.folders.logPath(jobId);
    if (!existsSync(path)) return { text: '', offset: 0, next_offset: 0, size: 0 };
    const { size } = await stat(path);
    const file = await open(path, 'r');
    try {
      if (query.offset !== undefined) {
        const length = Math.min(query.length ?? 65536, Math.max(0, size - query.offset));
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await file.read(buffer, 0, length, query.offset);
        return {
          text: buffer.subarray(0, bytesRead).toString('utf8'),
          offset: query.offset,
          next_offset: query.offset + bytesRead,
          size,
        };
      }
      // Tail: read backwards in blocks until enough newlines are found.
      const wanted = query.tail ?? 200;
      let start = size;
      let chunk = Buffer.alloc(0);
      while (start > 0 && countNewlines(chunk) <= wanted) {
        const blockStart = Math.max(0, start - 65536);
        const block = Buffer.alloc(start - blockStart);
        await file.read(block, 0, block.length, blockStart);
        chunk = Buffer.concat([block, chunk]);
        start = blockStart;
      }
      const lines = chunk.toString('utf8').split('\n');
      const trailing = lines[lines.length - 1] === '' ? lines.pop() : undefined;
      const kept = lines.slice(-wanted);
      const text = kept.join('\n') + (trailing !== undefined ? '\n' : '');
      return { text, offset: size - Buffer.byteLength(text), next_offset: size, size };
    } finally {
      await file.close();
    }
  }

  async checkpoints(jobId: string): Promise<CheckpointDto[]> {
    await this.jobs.require(jobId);
    const rows = await this.events.ofType(jobId, 'checkpoint');
    return rows.map((row) => ({
      step: Number(row.data.step),
      path: String(row.data.path),
      time: row.occurredAt,
    }));
  }

  async artifacts(jobId: string): Promise<ArtifactDto[]> {
    await this.jobs.require(jobId);
    const rows = await this.events.ofType(jobId, 'artifact');
    return rows.map((row) => ({
      kind: String(row.data.kind),
      path: String(row.data.path),
      time: row.occurredAt,
      download_url:
        row.data.kind === 'adapter' ? `/api/training/jobs/${jobId}/artifacts/adapter` : null,
    }));
  }

  /** The trained adapter folder as one streamed `.tar.gz`. */
  async adapterArchive(jobId: string): Promise<{ stream: Readable; filename: string }> {
    const job = await this.jobs.require(jobId);
    const path = job.adapterPath;
    if (!path || !this.folders.insideRun(jobId, path) || !existsSync(path)) {
      throw new NotFoundError('adapter', jobId);
    }
    const { create: createTar } = await import('tar'); // loaded when an adapter is downloaded
    const tar = createTar({ gzip: true, cwd: path, portable: true }, ['.']);
    return {
      stream: Readable.from(tar as AsyncIterable<Buffer>),
      filename: `${job.name}-${job.id}-adapter.tar.gz`,
    };
  }
}

function toEventDto(row: JobEventEntity): JobEventDto {
  return { seq: row.seq, type: row.type, time: row.occurredAt, data: row.data };
}

function keepaliveEvent(seq: number): JobEventDto {
  return { seq, type: 'keepalive', time: new Date().toISOString(), data: {} };
}

function countNewlines(buffer: Buffer): number {
  let count = 0;
  for (const byte of buffer) if (byte === 10) count++;
  return count;
}
