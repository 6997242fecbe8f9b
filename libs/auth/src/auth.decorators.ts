import {
  applyDecorators,
  createParamDecorator,
  type ExecutionContext,
  SetMetadata,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiDefaultResponse,
  ApiExtension,
  ApiForbiddenResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { ProblemDetailsDto } from '@clara/common';

import type { Principal } from './principal.js';
import { ADMIN_ONLY, ANY_ROLE, type Role, TRAINER_OR_ADMIN } from './roles.js';

export const PUBLIC_ROUTE = 'clara:public';
export const ALLOWED_ROLES = 'clara:roles';
export const BEARER_SCHEME = 'bearer';

/** The only way out of the global default-deny guard. */
export const Public = () =>
  applyDecorators(
    SetMetadata(PUBLIC_ROUTE, true),
    ApiExtension('x-clara-access', 'public'),
    problemResponses(),
  );

/** Every error is RFC 9457 problem+json; the OpenAPI document says so for every route. */
const problemResponses = () =>
  ApiDefaultResponse({
    description: 'Error (RFC 9457 problem+json)',
    content: {
      'application/problem+json': { schema: { $ref: '#/components/schemas/ProblemDetailsDto' } },
    },
  });

/**
 * Declares who may call a route: the role check and the Swagger bearer security in one.
 * A route with neither this nor `@Public()` is refused for everyone.
 */
export const Authenticated = (...roles: Role[]) =>
  applyDecorators(
    SetMetadata(ALLOWED_ROLES, roles),
    ApiBearerAuth(BEARER_SCHEME),
    ApiExtension('x-clara-roles', roles),
    ApiUnauthorizedResponse({
      description: 'Missing, expired or invalid bearer token',
      type: ProblemDetailsDto,
    }),
    ApiForbiddenResponse({
      description: `Requires one of the roles: ${roles.join(', ')}`,
      type: ProblemDetailsDto,
    }),
    problemResponses(),
  );

/** Read access: analysts, trainers and admins. */
export const ForReaders = () => Authenticated(...ANY_ROLE);
/** Write access: trainers and admins. */
export const ForTrainers = () => Authenticated(...TRAINER_OR_ADMIN);
/** Admins only. */
export const ForAdmins = () => Authenticated(...ADMIN_ONLY);

/** Injects the authenticated principal into a controller method. */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal => {
    const request = context.switchToHttp().getRequest<{ principal?: Principal }>();
    if (!request.principal) throw new Error('CurrentPrincipal used on a public route');
    return request.principal;
  },
);
