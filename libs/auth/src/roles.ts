export const ROLES = ['admin', 'trainer', 'analyst'] as const;
export type Role = (typeof ROLES)[number];

/** Readers: anyone with a Clara role. */
export const ANY_ROLE: readonly Role[] = ['analyst', 'trainer', 'admin'];
/** Writers: trainers and admins. */
export const TRAINER_OR_ADMIN: readonly Role[] = ['trainer', 'admin'];
export const ADMIN_ONLY: readonly Role[] = ['admin'];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/**
 * Clara roles from a token's claims, wherever the issuer put them: Keycloak realm roles
 * (`realm_access.roles`), client roles (`resource_access.<client>.roles`) or a top-level
 * `roles` claim. Roles Clara does not know are ignored.
 */
export function extractRoles(claims: Record<string, unknown>, clientId?: string): Role[] {
  const found = new Set<Role>();
  const add = (list: unknown) => {
    if (Array.isArray(list)) list.filter(isRole).forEach((role) => found.add(role));
  };
  add(claims.roles);
  add((claims.realm_access as { roles?: unknown } | undefined)?.roles);
  if (clientId) {
    const resourceAccess = claims.resource_access as
      Record<string, { roles?: unknown }> | undefined;
    add(resourceAccess?.[clientId]?.roles);
  }
  return ROLES.filter((role) => found.has(role));
}
