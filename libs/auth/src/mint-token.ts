import { randomUUID } from 'node:crypto';

import { SignJWT } from 'jose';

import type { Role } from './roles.js';

export interface MintTokenOptions {
  secret: string;
  subject: string;
  roles: Role[];
  /** Lifetime, e.g. `1h`, `30m`, `7d` (jose's time-span syntax). */
  ttl: string;
  issuer?: string;
  audience?: string;
  name?: string;
}

/** An HS256 token for development and tests, shaped like Keycloak's (realm roles). */
export async function mintHs256Token(options: MintTokenOptions): Promise<string> {
  const jwt = new SignJWT({
    realm_access: { roles: options.roles },
    preferred_username: options.name ?? options.subject,
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.subject)
    .setIssuedAt()
    .setJti(randomUUID())
    .setExpirationTime(options.ttl);
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret));
}
