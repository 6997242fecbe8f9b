import { ForbiddenError } from './auth.errors.js';
import type { Principal } from './principal.js';

/**
 * Resource-level check at the top of a service method: owners may act on their own
 * resources, admins on anyone's.
 */
export function assertOwnerOrAdmin(principal: Principal, ownerSubject: string, what: string): void {
  if (principal.roles.includes('admin') || principal.subject === ownerSubject) return;
  throw new ForbiddenError('not_owner', `Only the owner of this ${what} or an admin may do this`);
}
