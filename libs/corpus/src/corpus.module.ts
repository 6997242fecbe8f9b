import {
  Inject,
  Injectable,
  Logger,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { MultipartModule } from '@nestjs/platform-fastify';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';
import { ServiceProbes } from '@clara/platform';
import { DataSource } from 'typeorm';

import { DocumentsService } from './documents.service.js';
import { createEmbeddingProvider } from './embeddings/create-embedding-provider.js';
import { EMBEDDING_PROVIDER } from './embeddings/embedding-provider.js';
import { CorpusUploads } from './http/corpus-uploads.js';
import { DocumentsController } from './http/documents.controller.js';
import { IngestTasksController, SearchController } from './http/search.controller.js';
import { IngestRequestsService } from './ingest/ingest-requests.service.js';
import { IngestTaskRepository } from './ingest/ingest-task.repository.js';
import { IngestService } from './ingest/ingest.service.js';
import { SearchService } from './search/search.service.js';
import { CorpusStores } from './stores/corpus-stores.js';
import { createStores } from './stores/create-stores.js';
import {
  DOCUMENT_STORE,
  GRAPH_STORE,
  RELATIONAL_STORE,
  VECTOR_STORE,
} from './stores/store.interfaces.js';

const STORE_SET = Symbol('CORPUS_STORE_SET');

/** Registers one readiness check per role and closes server connections on shutdown. */
@Injectable()
class CorpusLifecycle implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Corpus');

  constructor(
    private readonly stores: CorpusStores,
    private readonly probes: ServiceProbes,
    @Inject(CLARA_CONFIG) private readonly config: ClaraConfig,
  ) {}

  onModuleInit(): void {
    for (const store of this.stores.all()) {
      this.probes.addReadinessCheck(`corpus_${store.role}`, () =>
        withTimeout(
          store.ping(),
          this.config.stores.timeoutMs,
          `${store.role} store (${store.adapter})`,
        ),
      );
    }
    this.probes.addStatusContributor('corpus', () => ({ corpus_stores: this.stores.adapters() }));
    this.logger.log(
      `corpus stores: ${Object.entries(this.stores.adapters())
        .map(([role, adapter]) => `${role}=${adapter}`)
        .join(', ')}`,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled(
      this.stores.all().map((s) => (s.close ? s.close() : Promise.resolve())),
    );
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The corpus (UDS3): ingest into the relational, vector, graph and document stores, and
 * hybrid search over them. Each role is served by its server when its URL is configured
 * (PostgreSQL through DATABASE_URL, CHROMA_URL, NEO4J_URL, COUCHDB_URL) and by the
 * app's own database otherwise.
 */
@Module({
  imports: [
    MultipartModule.registerAsync({
      inject: [CLARA_CONFIG],
      useFactory: (config: ClaraConfig) => ({
        limits: { fileSize: config.corpus.uploadMaxBytes, files: 1, fields: 10, fieldSize: 65536 },
      }),
    }),
  ],
  controllers: [DocumentsController, SearchController, IngestTasksController],
  providers: [
    {
      provide: STORE_SET,
      inject: [CLARA_CONFIG, DataSource],
      useFactory: (config: ClaraConfig, dataSource: DataSource) => createStores(config, dataSource),
    },
    {
      provide: RELATIONAL_STORE,
      inject: [STORE_SET],
      useFactory: (s: ReturnType<typeof createStores>) => s.relational,
    },
    {
      provide: VECTOR_STORE,
      inject: [STORE_SET],
      useFactory: (s: ReturnType<typeof createStores>) => s.vector,
    },
    {
      provide: GRAPH_STORE,
      inject: [STORE_SET],
      useFactory: (s: ReturnType<typeof createStores>) => s.graph,
    },
    {
      provide: DOCUMENT_STORE,
      inject: [STORE_SET],
      useFactory: (s: ReturnType<typeof createStores>) => s.documents,
    },
    {
      provide: EMBEDDING_PROVIDER,
      inject: [CLARA_CONFIG],
      useFactory: (config: ClaraConfig) => createEmbeddingProvider(config.corpus.embedding),
    },
    CorpusStores,
    CorpusLifecycle,
    IngestService,
    IngestTaskRepository,
    IngestRequestsService,
    SearchService,
    DocumentsService,
    CorpusUploads,
  ],
  exports: [SearchService, DocumentsService, IngestService, CorpusStores, EMBEDDING_PROVIDER],
})
export class CorpusModule {}
