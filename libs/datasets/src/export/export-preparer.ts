import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';

import { DatasetsRepository } from '../storage/datasets.repository.js';
import { ExportCache } from './export-cache.js';
import { ExportService } from './export.service.js';

/**
 * Writes a version's export files in the background as soon as it is ready, one version
 * after another, so that downloads — the first one included — stream a finished file.
 * Owned by the datasets service only (one writer per data folder); at start it clears what
 * a crash or an older layout left behind.
 */
@Injectable()
export class ExportPreparer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ExportPreparer.name);
  private queue: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(
    private readonly exports: ExportService,
    private readonly cache: ExportCache,
    private readonly repository: DatasetsRepository,
    @Inject(CLARA_CONFIG) private readonly config: ClaraConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.cache.enabled) return;
    this.enqueue('sweeping kept exports', async () => {
      const removed = await this.cache.sweep(
        async (id) => (await this.repository.getDataset(id)) !== null,
      );
      if (removed > 0) this.logger.log(`removed ${removed} stale export file(s) or folder(s)`);
    });
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    await this.queue;
  }

  /** Queues the export files of a version that has just become ready. */
  schedule(versionId: string): void {
    const formats = this.config.datasets.exportPrepare;
    if (!this.cache.enabled || formats.length === 0) return;
    this.enqueue(`preparing the exports of version ${versionId}`, async () => {
      const version = await this.repository.getVersionById(versionId);
      if (!version || version.status !== 'ready') return;
      await this.exports.prepare(version, formats, () => this.stopping);
    });
  }

  /** Resolves once everything queued so far has been done. */
  idle(): Promise<void> {
    return this.queue;
  }

  private enqueue(what: string, task: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (this.stopping) return;
      try {
        await task();
      } catch (error) {
        this.logger.warn(`${what} failed: ${(error as Error).message}`);
      }
    });
  }
}
