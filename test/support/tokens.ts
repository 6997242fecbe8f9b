import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { DEVELOPMENT_JWT_SECRET } from '@clara/config';
import { exportJWK, generateKeyPair, type JWK, SignJWT, type CryptoKey } from 'jose';

export const TEST_ISSUER = 'clara-development';
export const TEST_AUDIENCE = 'clara';

export interface TokenClaims {
  sub?: string;
  roles?: string[];
  /** Where the roles go: Keycloak realm roles (default), client roles or a top-level claim. */
  roleClaim?: 'realm_access' | 'resource_access' | 'roles';
  clientId?: string;
  iss?: string;
  aud?: string;
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  extra?: Record<string, unknown>;
}

function payloadOf(claims: TokenClaims): Record<string, unknown> {
  const roles = claims.roles ?? [];
  const placement = claims.roleClaim ?? 'realm_access';
  const payload: Record<string, unknown> = { ...claims.extra };
  if (placement === 'realm_access') payload.realm_access = { roles };
  if (placement === 'roles') payload.roles = roles;
  if (placement === 'resource_access') {
    payload.resource_access = { [claims.clientId ?? 'clara']: { roles } };
  }
  return payload;
}

async function sign(
  claims: TokenClaims,
  key: Uint8Array | CryptoKey,
  header: Record<string, unknown>,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(payloadOf(claims))
    .setProtectedHeader({ alg: 'HS256', ...header })
    .setSubject(claims.sub ?? 'alice')
    .setIssuer(claims.iss ?? TEST_ISSUER)
    .setAudience(claims.aud ?? TEST_AUDIENCE)
    .setIssuedAt(now - 5)
    .setExpirationTime(now + (claims.expiresIn ?? 3600))
    .sign(key);
}

/** A real HS256 token signed with the development secret (or another). */
export function hs256Token(
  claims: TokenClaims = {},
  secret = DEVELOPMENT_JWT_SECRET,
): Promise<string> {
  return sign(claims, new TextEncoder().encode(secret), { alg: 'HS256' });
}

/** A token with `alg: none` and no signature, which must always be refused. */
export function unsignedToken(claims: TokenClaims = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(
    JSON.stringify({
      ...payloadOf(claims),
      sub: claims.sub ?? 'mallory',
      iss: TEST_ISSUER,
      aud: TEST_AUDIENCE,
      exp: now + 3600,
    }),
  ).toString('base64url');
  return `${header}.${body}.`;
}

interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/**
 * A local identity provider shaped like Keycloak's realm certs endpoint
 * (`/realms/<realm>/protocol/openid-connect/certs`), serving RS256 and ES256 keys.
 */
export class TestIdentityProvider {
  private server?: Server;
  private readonly keys: SigningKey[] = [];
  readonly realm = 'clara';

  async start(): Promise<void> {
    for (const [kid, alg] of [
      ['rsa-key-1', 'RS256'],
      ['ec-key-1', 'ES256'],
    ] as const) {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
      this.keys.push({ kid, alg, privateKey, publicJwk });
    }
    this.server = createServer((req, res) => {
      if (req.url === `/realms/${this.realm}/protocol/openid-connect/certs`) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: this.keys.map((k) => k.publicJwk) }));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  get issuer(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}/realms/${this.realm}`;
  }

  get jwksUrl(): string {
    return `${this.issuer}/protocol/openid-connect/certs`;
  }

  /** The RSA public key as a JWK, e.g. to forge an HS256 token keyed with it. */
  get rsaPublicJwk(): JWK {
    return this.keys[0].publicJwk;
  }

  async token(
    claims: TokenClaims,
    options: { alg?: 'RS256' | 'ES256'; kid?: string } = {},
  ): Promise<string> {
    const key = this.keys.find((k) => k.alg === (options.alg ?? 'RS256'))!;
    return sign({ iss: this.issuer, ...claims }, key.privateKey, {
      alg: key.alg,
      kid: options.kid ?? key.kid,
      typ: 'JWT',
    });
  }

  /** Signed with a fresh key the provider does not publish, under a kid it does not know. */
  async tokenFromUnknownKey(claims: TokenClaims): Promise<string> {
    const { privateKey } = await generateKeyPair('RS256');
    return sign({ iss: this.issuer, ...claims }, privateKey, {
      alg: 'RS256',
      kid: 'not-published',
    });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }
}
