import { expect } from '@jest/globals';
import { DataSource } from 'typeorm';

import { DatasetsAppModule } from '../../../apps/datasets/src/datasets-app.module.js';
import {
  type Configuration,
  type CorpusApp,
  multipart,
  PREFIX,
  startCorpusApp,
} from '../../corpus/support/corpus-app.js';
import { startTestApp } from '../../support/apps.js';
import type { Engine } from '../../support/databases.js';
import { hs256Token } from '../../support/tokens.js';

export {
  type Configuration,
  corpusConfigurations,
  multipart,
} from '../../corpus/support/corpus-app.js';
export { PREFIX };

export type Role = 'admin' | 'trainer' | 'analyst';

/** The datasets service (corpus + datasets) on a fresh database, with one token per role. */
export class DatasetsTestApp {
  private constructor(readonly t: CorpusApp) {}

  /** Every corpus store on its server (PostgreSQL, Chroma, Neo4j, CouchDB) or all embedded. */
  static async start(
    configuration: Configuration = 'embedded',
    env: Record<string, string> = {},
  ): Promise<DatasetsTestApp> {
    return new DatasetsTestApp(await startCorpusApp(configuration, env));
  }

  /** The relational database on the given engine; the other corpus roles embedded in it. */
  static async onEngine(
    engine: Engine,
    env: Record<string, string> = {},
  ): Promise<DatasetsTestApp> {
    const t = await startTestApp({
      service: 'datasets',
      engine,
      env,
      rootModule: (config) => DatasetsAppModule.forRoot(config),
    });
    const [admin, trainer, analyst] = await Promise.all([
      hs256Token({ sub: 'root', roles: ['admin'] }),
      hs256Token({ sub: 'alice', roles: ['trainer'] }),
      hs256Token({ sub: 'bob', roles: ['analyst'] }),
    ]);
    return new DatasetsTestApp({ ...t, tokens: { admin, trainer, analyst } });
  }

  get dataSource(): DataSource {
    return this.t.app.get(DataSource);
  }

  close(): Promise<void> {
    return this.t.close();
  }

  call(
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    role: Role,
    payload?: object,
    headers: Record<string, string> = {},
  ) {
    return this.t.app.inject({
      method,
      url: `${PREFIX}${url}`,
      headers: { authorization: `Bearer ${this.t.tokens[role]}`, ...headers },
      ...(payload ? { payload } : {}),
    });
  }

  async createDataset(name: string, recordFormat: string): Promise<string> {
    const res = await this.call('POST', '/datasets', 'trainer', {
      name,
      record_format: recordFormat,
    });
    expect(res.statusCode).toBe(201);
    return res.json<{ id: string }>().id;
  }

  upload(
    datasetId: string,
    file: { name: string; content: string | Buffer },
    fields: Record<string, string> = {},
    role: Role = 'trainer',
  ) {
    const body = multipart(fields, file);
    return this.t.app.inject({
      method: 'POST',
      url: `${PREFIX}/datasets/${datasetId}/versions/import`,
      headers: { authorization: `Bearer ${this.t.tokens[role]}`, ...body.headers },
      payload: body.payload,
    });
  }

  async ingest(documents: object[]): Promise<void> {
    const res = await this.call('POST', '/documents', 'trainer', { documents });
    expect([201, 202]).toContain(res.statusCode);
  }

  /** Starts a build and waits until it is ready or failed. */
  async build(datasetId: string, spec: object): Promise<VersionBody> {
    const res = await this.call('POST', `/datasets/${datasetId}/versions`, 'trainer', spec);
    if (res.statusCode !== 202) throw new Error(`build refused: ${res.statusCode} ${res.body}`);
    const { version } = res.json<VersionBody>();
    for (let i = 0; i < 600; i++) {
      const v = (
        await this.call('GET', `/datasets/${datasetId}/versions/${version}`, 'analyst')
      ).json<VersionBody>();
      if (v.status !== 'building') return v;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('build did not finish');
  }

  async records(datasetId: string, version: number, split: 'train' | 'validation') {
    const all: RecordBody[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `split=${split}&limit=500${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await this.call(
        'GET',
        `/datasets/${datasetId}/versions/${version}/records?${query}`,
        'analyst',
      );
      expect(res.statusCode).toBe(200);
      const page = res.json<{ data: RecordBody[]; next_cursor: string | null }>();
      all.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    return all;
  }

  /** Downloads an export file. */
  async download(datasetId: string, version: number, file: string, query = '') {
    const res = await this.call(
      'GET',
      `/datasets/${datasetId}/versions/${version}/files/${file}${query}`,
      'analyst',
    );
    expect(res.statusCode).toBe(200);
    return res;
  }
}

export interface VersionBody {
  dataset_id: string;
  version: number;
  status: 'building' | 'ready' | 'failed';
  checksum: string | null;
  splits: { train: number; validation: number };
  statistics: {
    records: { train: number; validation: number; total: number };
    duplicates_removed: { exact: number; near: number };
    filtered: Record<string, number>;
    [key: string]: unknown;
  } | null;
  error: string | null;
  spec: Record<string, unknown>;
}

export interface RecordBody {
  split: string;
  ordinal: number;
  record: { messages?: { role: string; content: string }[]; [key: string]: unknown };
  source_document_ids: string[];
  source_chunk_ids: string[];
  tags: string[];
}
