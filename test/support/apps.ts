import { Writable } from 'node:stream';

import { type DynamicModule, type Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createLogger } from '@clara/common';
import { type ClaraConfig, loadConfig } from '@clara/config';
import { createHttpApp, PlatformModule, type ServiceName } from '@clara/platform';

import { createTestDatabase, type Engine, type TestDatabase } from './databases.js';

/** Log lines a test app wrote, parsed, so tests can assert on them. */
export class CapturedLogs {
  readonly lines: Record<string, unknown>[] = [];
  readonly stream = new Writable({
    write: (chunk: Buffer, _encoding, callback) => {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
}

export interface TestApp {
  app: NestFastifyApplication;
  config: ClaraConfig;
  database: TestDatabase;
  logs: CapturedLogs;
  close(): Promise<void>;
}

export interface TestAppOptions {
  service?: ServiceName;
  engine?: Engine;
  /** Extra environment variables (auth settings, …) on top of the testing profile. */
  env?: Record<string, string>;
  /** The service's root module factory; default: the bare platform. */
  rootModule?: (config: ClaraConfig) => DynamicModule;
  /** Extra controllers for platform tests (e.g. a fixture mutating route). */
  controllers?: Type[];
  /** Share a database with another test app (both services on one database); not dropped on close. */
  database?: TestDatabase;
}

/** Builds a service through the same `createHttpApp` that main.ts uses, on a fresh database. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const service = options.service ?? 'training';
  const database = options.database ?? (await createTestDatabase(options.engine ?? 'sqlite'));
  const config = loadConfig({
    env: { CLARA_ENVIRONMENT: 'testing', ...database.env, ...options.env },
  });
  const logs = new CapturedLogs();
  const logger = createLogger({ level: 'debug', format: 'json', service }, logs.stream);
  const root: DynamicModule = options.rootModule
    ? options.rootModule(config)
    : {
        module: class PlatformOnlyModule {},
        imports: [PlatformModule.forRoot({ service, config })],
      };
  if (options.controllers) root.controllers = [...(root.controllers ?? []), ...options.controllers];
  const app = await createHttpApp(root, { service, config, logger });
  return {
    app,
    config,
    database,
    logs,
    close: async () => {
      await app.close();
      if (!options.database) await database.drop();
    },
  };
}
