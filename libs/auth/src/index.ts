export { assertOwnerOrAdmin } from './access.js';
export {
  ALLOWED_ROLES,
  Authenticated,
  BEARER_SCHEME,
  CurrentPrincipal,
  ForAdmins,
  ForReaders,
  ForTrainers,
  Public,
  PUBLIC_ROUTE,
} from './auth.decorators.js';
export { ForbiddenError, UnauthorizedError } from './auth.errors.js';
export { AuthGuard, type AuthenticatedRequest } from './auth.guard.js';
export { AuthModule } from './auth.module.js';
export { mintHs256Token, type MintTokenOptions } from './mint-token.js';
export { AUTH_DISABLED_PRINCIPAL, hasAnyRole, type Principal } from './principal.js';
export {
  ADMIN_ONLY,
  ANY_ROLE,
  extractRoles,
  isRole,
  type Role,
  ROLES,
  TRAINER_OR_ADMIN,
} from './roles.js';
export { TokenVerifier } from './token-verifier.js';
