import { type DynamicModule, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { AuditService, isAuditable } from '@clara/audit';
import { type AuthenticatedRequest, BEARER_SCHEME } from '@clara/auth';
import {
  createLogger,
  PinoNestLogger,
  ProblemDetailsDto,
  requestIdFrom,
  runWithRequestContext,
} from '@clara/common';
import type { ClaraConfig } from '@clara/config';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger as Pino } from 'pino';

import { MetricsService } from './metrics.service.js';
import { CLARA_VERSION } from './status.controller.js';

export type ServiceName = 'training' | 'datasets';

export interface HttpAppOptions {
  service: ServiceName;
  config: ClaraConfig;
  /** Replaces the pino logger (tests capture lines with it). */
  logger?: Pino;
}

type ClaraRequest = FastifyRequest & AuthenticatedRequest;

const SERVICE_DESCRIPTIONS: Record<ServiceName, string> = {
  training: 'Training jobs, the job queue, workers and live job events.',
  datasets: 'Corpus ingest, hybrid search, versioned datasets and exports.',
};

/**
 * Builds a service exactly as production runs it (main.ts and the e2e tests both call
 * this): Fastify, request ids, pino, audit, metrics, the API prefix and Swagger UI.
 */
export async function createHttpApp(
  rootModule: DynamicModule,
  options: HttpAppOptions,
): Promise<NestFastifyApplication> {
  const { config, service } = options;
  const logger =
    options.logger ?? createLogger({ level: config.log.level, format: config.log.format, service });
  const adapter = new FastifyAdapter({
    logger: false,
    bodyLimit: config.http.bodyLimitBytes,
    trustProxy: config.http.trustProxy,
    genReqId: (request: { headers: Record<string, string | string[] | undefined> }) =>
      requestIdFrom(request.headers['x-request-id']),
    return503OnClosing: true,
  });
  const app = await NestFactory.create<NestFastifyApplication>(rootModule, adapter, {
    logger: new PinoNestLogger(logger),
    bufferLogs: false,
    abortOnError: false,
  });
  app.setGlobalPrefix(`api/${service}`, { exclude: ['health/live', 'health/ready', 'metrics'] });
  app.enableShutdownHooks();
  installHooks(app, logger);
  setUpSwagger(app, service);
  await app.init();
  return app;
}

function installHooks(app: NestFastifyApplication, logger: Pino): void {
  const fastify = app.getHttpAdapter().getInstance();
  const audit = app.get(AuditService);
  const metrics = app.get(MetricsService);

  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    runWithRequestContext({ requestId: request.id }, done);
  });

  // Written before the response leaves, so a client that saw the response can rely on
  // its audit entry existing. Reads (the common case) pass straight through.
  fastify.addHook(
    'onSend',
    (request: ClaraRequest, reply: FastifyReply, payload: unknown, done: OnSendDone) => {
      if (!isAuditable(request.method, reply.statusCode)) return done(null, payload);
      const params = (request.params ?? {}) as Record<string, unknown>;
      const principal = request.principal;
      audit
        .record({
          subject: principal?.subject ?? null,
          roles: principal?.roles ?? [],
          action: request.auditTarget?.action ?? `${request.method} ${routeOf(request)}`,
          resourceType: request.auditTarget?.resourceType ?? null,
          resourceId:
            createdResourceId(reply.statusCode, payload) ??
            (typeof params.id === 'string' ? params.id : null),
          statusCode: reply.statusCode,
          method: request.method,
          path: request.url.split('?')[0],
          requestId: request.id,
          clientAddress: request.ip ?? null,
        })
        .then(
          () => done(null, payload),
          (error: unknown) => done(error as Error),
        );
    },
  );

  fastify.addHook('onResponse', (request, reply, done) => {
    const seconds = reply.elapsedTime / 1000;
    metrics.observeRequest(request.method, routeOf(request), reply.statusCode, seconds);
    if (reply.statusCode >= 500) logger.error(requestLine(request, reply), 'request failed');
    else if (logger.isLevelEnabled('debug'))
      logger.debug(requestLine(request, reply), 'request completed');
    done();
  });
}

function requestLine(request: FastifyRequest, reply: FastifyReply) {
  return {
    method: request.method,
    url: request.url,
    status: reply.statusCode,
    duration_ms: Math.round(reply.elapsedTime * 100) / 100,
  };
}

type OnSendDone = (error: Error | null, payload?: unknown) => void;

/** The `id` of what a create route answered with (its JSON body), for the audit entry. */
function createdResourceId(statusCode: number, payload: unknown): string | null {
  if (statusCode >= 300 || typeof payload !== 'string' || !payload.startsWith('{')) return null;
  try {
    const id = (JSON.parse(payload) as { id?: unknown }).id;
    return typeof id === 'string' ? id : null;
  } catch {
    return null;
  }
}

function routeOf(request: FastifyRequest): string {
  return request.routeOptions?.url ?? 'unmatched';
}

/**
 * Swagger UI at `/docs`, the OpenAPI document at `/docs-json`. The document is built on
 * the first request for it, not at every start (exploring every route and schema is a
 * noticeable part of start-up time and memory).
 */
function setUpSwagger(app: NestFastifyApplication, service: ServiceName): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app, service), {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: 'docs-yaml',
    useGlobalPrefix: false,
    swaggerOptions: { persistAuthorization: true },
  });
}

export function buildOpenApiDocument(
  app: NestFastifyApplication,
  service: ServiceName,
): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle(`Clara ${service} API`)
    .setDescription(
      `${SERVICE_DESCRIPTIONS[service]} Errors are RFC 9457 problem+json. Get a development token with \`npm run token -- --role trainer\` and press Authorize.`,
    )
    .setVersion(CLARA_VERSION)
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, BEARER_SCHEME)
    .build();
  return SwaggerModule.createDocument(app, builder, {
    extraModels: [ProblemDetailsDto],
    operationIdFactory: (controller, method) =>
      `${controller.replace(/Controller$/, '')}_${method}`,
  });
}

/** main.ts of an HTTP service: build, listen, log where. */
export async function runHttpService(
  rootModule: DynamicModule,
  options: HttpAppOptions,
  port: number,
): Promise<NestFastifyApplication> {
  const app = await createHttpApp(rootModule, options);
  await app.listen({ port, host: options.config.http.host });
  new Logger('Clara').log(
    `${options.service} service listening on http://${options.config.http.host}:${port} (docs at /docs)`,
  );
  return app;
}
