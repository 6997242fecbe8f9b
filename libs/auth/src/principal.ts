import type { Role } from './roles.js';

/** Who is calling: the verified subject of a token, or the fixed testing principal. */
export interface Principal {
  subject: string;
  roles: Role[];
  /** `preferred_username` or `name` where the token has one, for display only. */
  name?: string;
  /** How the caller was authenticated. */
  via: 'jwt' | 'auth-disabled';
}

/**
 * Used for every request when auth is disabled (allowed only in the `testing`
 * environment); its name says so in every audit entry.
 */
export const AUTH_DISABLED_PRINCIPAL: Readonly<Principal> = Object.freeze<Principal>({
  subject: 'auth-disabled-test-principal',
  roles: ['admin', 'trainer', 'analyst'],
  name: 'Auth disabled (testing environment)',
  via: 'auth-disabled',
});

export function hasAnyRole(principal: Principal, allowed: readonly Role[]): boolean {
  return principal.roles.some((role) => allowed.includes(role));
}
