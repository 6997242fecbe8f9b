import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';

import { ALLOWED_ROLES, PUBLIC_ROUTE } from './auth.decorators.js';
import { ForbiddenError, UnauthorizedError } from './auth.errors.js';
import { AUTH_DISABLED_PRINCIPAL, hasAnyRole, type Principal } from './principal.js';
import type { Role } from './roles.js';
import { TokenVerifier } from './token-verifier.js';

export interface AuthenticatedRequest {
  headers: Record<string, string | string[] | undefined>;
  principal?: Principal;
  /** What the audit log records about the route, set before any decision is made. */
  auditTarget?: { action: string; resourceType: string };
}

/**
 * Global default-deny guard: a route is open only with `@Public()`; otherwise it needs a
 * valid token and one of the roles declared by `@Authenticated(...)`. A route that
 * declares no roles is refused for everyone, so a forgotten decorator fails closed.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: TokenVerifier,
    @Inject(CLARA_CONFIG) private readonly config: ClaraConfig,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const route = this.routeAccessOf(context);
    request.auditTarget = route.auditTarget;
    if (route.public) return true;
    if (!this.config.auth.enabled)
      return this.authorize(request, route, { ...AUTH_DISABLED_PRINCIPAL });
    const token = bearerToken(request);
    // Most requests repeat a token verified moments ago: decide without a promise then.
    const known = this.verifier.recentlyVerified(token);
    if (known) return this.authorize(request, route, known);
    return this.verifier
      .verify(token)
      .then((principal) => this.authorize(request, route, principal));
  }

  private authorize(
    request: AuthenticatedRequest,
    route: RouteAccess,
    principal: Principal,
  ): boolean {
    request.principal = principal;
    const allowed = route.allowed;
    if (!allowed || allowed.length === 0) {
      throw new ForbiddenError('route_not_declared', 'This route declares no roles and is closed');
    }
    if (principal.roles.length === 0) {
      throw new ForbiddenError(
        'no_role',
        'The token carries no Clara role (admin, trainer or analyst)',
      );
    }
    if (!hasAnyRole(principal, allowed)) {
      throw new ForbiddenError(
        'insufficient_role',
        `Requires one of the roles: ${allowed.join(', ')}`,
        {
          required_roles: allowed,
        },
      );
    }
    return true;
  }

  /** What a handler declares never changes: read its metadata once, not per request. */
  private routeAccessOf(context: ExecutionContext): RouteAccess {
    const handler = context.getHandler();
    let route = routeAccess.get(handler);
    if (!route) {
      const targets = [handler, context.getClass()];
      route = {
        auditTarget: computeAuditTarget(context),
        public: this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets) === true,
        allowed: this.reflector.getAllAndOverride<Role[] | undefined>(ALLOWED_ROLES, targets),
      };
      routeAccess.set(handler, route);
    }
    return route;
  }
}

interface RouteAccess {
  auditTarget: { action: string; resourceType: string };
  public: boolean;
  allowed: Role[] | undefined;
}

const routeAccess = new WeakMap<object, RouteAccess>();

function bearerToken(request: AuthenticatedRequest): string {
  const header = request.headers.authorization;
  const value = Array.isArray(header) ? header[0] : header;
  const match = value?.match(/^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i);
  if (!match) {
    throw new UnauthorizedError(
      'missing_token',
      'Send a bearer token: Authorization: Bearer <token>',
    );
  }
  return match[1];
}

/** `JobsController.cancel` → action `jobs.cancel`, resource type `jobs`. */
function computeAuditTarget(context: ExecutionContext): { action: string; resourceType: string } {
  const resourceType = context
    .getClass()
    .name.replace(/Controller$/, '')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
  return { action: `${resourceType}.${context.getHandler().name}`, resourceType };
}
