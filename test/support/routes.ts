import type { INestApplication, Type } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { ALLOWED_ROLES, PUBLIC_ROUTE } from '@clara/auth';

// Nest's own metadata keys for @Controller paths and @Get/@Post/… handlers.
const PATH_METADATA = 'path';
const METHOD_METADATA = 'method';
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'ALL', 'OPTIONS', 'HEAD', 'SEARCH'];

/**
 * Every route a running app registered, with its declared access: `public`, the role
 * list, or `CLOSED (no roles declared)`. Read from the controllers Nest actually mounted.
 */
export function declaredAccess(
  app: INestApplication,
  prefix: string,
  unprefixed: string[],
): string[] {
  const lines: string[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as Type | null;
      if (!controller) continue;
      const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
      const prototype = controller.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(prototype)) {
        const handler = prototype[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as number | undefined;
        if (method === undefined) continue;
        const path = String(Reflect.getMetadata(PATH_METADATA, handler) ?? '');
        const full =
          '/' +
          [base, path]
            .filter((p) => p && p !== '/')
            .join('/')
            .replace(/^\/+/, '');
        const url = unprefixed.includes(full.slice(1))
          ? full
          : `${prefix}${full === '/' ? '' : full}`;
        const isPublic =
          Reflect.getMetadata(PUBLIC_ROUTE, handler) ??
          Reflect.getMetadata(PUBLIC_ROUTE, controller);
        const roles = (Reflect.getMetadata(ALLOWED_ROLES, handler) ??
          Reflect.getMetadata(ALLOWED_ROLES, controller)) as string[] | undefined;
        const access = isPublic
          ? 'public'
          : roles?.length
            ? roles.join(', ')
            : 'CLOSED (no roles declared)';
        lines.push(`${METHODS[method].padEnd(6)} ${url.padEnd(48)} ${access}`);
      }
    }
  }
  return lines.sort();
}
