import { createServer, type Server } from 'node:http';

import { type DynamicModule, Logger, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createLogger, PinoNestLogger } from '@clara/common';
import type { ClaraConfig } from '@clara/config';
import { DataSource } from 'typeorm';

import { ServiceProbes } from './service-probes.js';

/**
 * A deployable with no HTTP API (the GPU worker): a Nest application context plus a tiny
 * health port for the orchestrator (`/health/live`, `/health/ready`).
 */
export async function runWorkerHost(
  rootModule: DynamicModule,
  config: ClaraConfig,
): Promise<INestApplicationContext> {
  const logger = createLogger({
    level: config.log.level,
    format: config.log.format,
    service: 'worker',
  });
  const context = await NestFactory.createApplicationContext(rootModule, {
    logger: new PinoNestLogger(logger),
  });
  context.enableShutdownHooks();
  const server = await startHealthServer(context, config);
  const close = context.close.bind(context);
  context.close = async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await close();
  };
  new Logger('Clara').log(
    `worker running; health on http://${config.http.host}:${config.http.workerHealthPort}/health/live`,
  );
  return context;
}

async function startHealthServer(
  context: INestApplicationContext,
  config: ClaraConfig,
): Promise<Server> {
  const dataSource = context.get(DataSource);
  const probes = context.get(ServiceProbes, { strict: false });
  const server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return reply(405, { status: 'error' });
    if (req.url === '/health/live') return reply(200, { status: 'ok' });
    if (req.url === '/health/ready') {
      void (async () => {
        const details: Record<string, unknown> = {};
        let ok = true;
        const checks: [string, () => Promise<unknown>][] = [
          ['database', () => dataSource.query('SELECT 1')],
          ...probes.readinessChecks(),
        ];
        for (const [name, check] of checks) {
          try {
            await check();
            details[name] = { status: 'up' };
          } catch (error) {
            ok = false;
            details[name] = { status: 'down', message: (error as Error).message };
          }
        }
        reply(ok ? 200 : 503, { status: ok ? 'ok' : 'error', details });
      })();
      return;
    }
    reply(404, { status: 'error' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.workerHealthPort, config.http.host, resolve);
  });
  return server;
}
