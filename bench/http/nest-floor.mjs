// A second reference next to the Fastify anchor: the least a NestJS service built like Clara
// pays per request. NestJS on the same Fastify adapter, one controller, and only the two
// mechanisms every Clara request goes through:
//   - a global guard (APP_GUARD): public routes pass, others need a bearer token that was
//     verified before — a Map lookup, as Clara's TokenVerifier does for a repeated token;
//   - an AsyncLocalStorage request context entered in an onRequest hook (Clara's request id
//     on every log line), which on Node 20 turns on a promise hook for every promise.
// No audit, metrics, validation pipe, exception filter, logging or database.
//   GET /health/live  {"status":"ok"}                     (public)
//   GET /auth         {"status":"ok","sub":…}             (guarded)
// Environment: PORT (default 0 = any), FLOOR_TOKEN (the token the guard accepts),
// FLOOR_ALS=0 (no request context: what AsyncLocalStorage costs per request).
// Plain JavaScript (decorators applied as functions), so it runs without a build.
import 'reflect-metadata';

import { AsyncLocalStorage } from 'node:async_hooks';

import { Controller, Get, Injectable, Module, Req, SetMetadata } from '@nestjs/common';
import { APP_GUARD, NestFactory, Reflector } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';

const PUBLIC = 'floor:public';
const known = new Map([[process.env.FLOOR_TOKEN ?? 'floor-token', { sub: 'bench' }]]);

class FloorController {
  live() {
    return { status: 'ok' };
  }
  auth(request) {
    return { status: 'ok', sub: request.principal.sub };
  }
}
const method = (name) => Object.getOwnPropertyDescriptor(FloorController.prototype, name);
Get('health/live')(FloorController.prototype, 'live', method('live'));
SetMetadata(PUBLIC, true)(FloorController.prototype, 'live', method('live'));
Get('auth')(FloorController.prototype, 'auth', method('auth'));
Req()(FloorController.prototype, 'auth', 0);
Controller()(FloorController);

class FloorGuard {
  constructor(reflector) {
    this.reflector = reflector;
  }
  canActivate(context) {
    if (this.reflector.get(PUBLIC, context.getHandler())) return true;
    const request = context.switchToHttp().getRequest();
    const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    const principal = match && known.get(match[1]);
    if (!principal) return false;
    request.principal = principal;
    return true;
  }
}
Reflect.defineMetadata('design:paramtypes', [Reflector], FloorGuard);
Injectable()(FloorGuard);

class FloorModule {}
Module({
  controllers: [FloorController],
  providers: [{ provide: APP_GUARD, useClass: FloorGuard }],
})(FloorModule);

const app = await NestFactory.create(FloorModule, new FastifyAdapter(), { logger: false });
if (process.env.FLOOR_ALS !== '0') {
  const context = new AsyncLocalStorage();
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request, reply, done) => context.run({ requestId: request.id }, done));
}
await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');

const stop = () => void app.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
