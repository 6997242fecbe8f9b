import { createSecretKey, KeyObject } from 'node:crypto';

import { Inject, Injectable } from '@nestjs/common';
import { CLARA_CONFIG, type ClaraConfig } from '@clara/config';
import { ServiceUnavailableError } from '@clara/common';
import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';

import { UnauthorizedError } from './auth.errors.js';
import type { Principal } from './principal.js';
import { extractRoles } from './roles.js';

const CACHE_MS = 60_000;
const CACHE_ENTRIES = 10_000;

/** Asymmetric algorithms accepted from a JWKS (Keycloak signs with RS256 by default). */
const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384'];

/**
 * Verifies bearer tokens. Exactly one key source is active: a JWKS URL (asymmetric keys
 * only) or the HS256 secret — never both, so a token cannot pick its own verification
 * path (algorithm confusion), and `alg: none` is never in the allowed list.
 */
@Injectable()
export class TokenVerifier {
  private readonly key: KeyObject | JWTVerifyGetKey;
  private readonly algorithms: string[];
  /** Recently verified tokens → principal: clients repeat one token for many requests. */
  private readonly verified = new Map<string, { principal: Principal; until: number }>();

  constructor(@Inject(CLARA_CONFIG) private readonly config: ClaraConfig) {
    const { jwksUrl, jwtSecret } = config.auth;
    if (jwksUrl) {
      this.key = createRemoteJWKSet(new URL(jwksUrl), {
        cooldownDuration: 30_000,
        cacheMaxAge: 10 * 60_000,
        timeoutDuration: 5_000,
      });
      this.algorithms = JWKS_ALGORITHMS;
    } else {
      // Imported once: handing jose raw bytes would import the key on every request.
      this.key = createSecretKey(Buffer.from(jwtSecret ?? '', 'utf8'));
      this.algorithms = ['HS256'];
    }
  }

  async verify(token: string): Promise<Principal> {
    const cached = this.recentlyVerified(token);
    if (cached) return cached;
    const principal = await this.verifyUncached(token);
    this.remember(token, principal);
    return principal;
  }

  /** The principal of a token verified within the cache window, without waiting (or undefined). */
  recentlyVerified(token: string): Principal | undefined {
    const cached = this.verified.get(token);
    if (!cached || cached.until <= Date.now()) return undefined;
    return { ...cached.principal, roles: [...cached.principal.roles] };
  }

  /**
   * A verified token is reused for at most {@link CACHE_MS}, and never past its own `exp`
   * (the clock tolerance is not extended by caching).
   */
  private remember(token: string, principal: Principal & { expiresAt?: number }): void {
    const until = Math.min(Date.now() + CACHE_MS, (principal.expiresAt ?? 0) * 1000);
    delete principal.expiresAt;
    if (until <= Date.now()) return;
    if (this.verified.size >= CACHE_ENTRIES)
      this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { principal, until });
  }

  private async verifyUncached(token: string): Promise<Principal & { expiresAt?: number }> {
    let payload: JWTPayload;
    try {
      const options = {
        algorithms: this.algorithms,
        issuer: this.config.auth.issuer,
        audience: this.config.auth.audience,
        clockTolerance: this.config.auth.clockToleranceSeconds,
        requiredClaims: ['exp', 'sub'],
      };
      payload =
        this.key instanceof KeyObject
          ? (await jwtVerify(token, this.key, options)).payload
          : (await jwtVerify(token, this.key, options)).payload;
    } catch (error) {
      throw toAuthError(error);
    }
    const claims = payload as Record<string, unknown>;
    const name = claims.preferred_username ?? claims.name;
    return {
      subject: payload.sub!,
      roles: extractRoles(claims, this.config.auth.clientId),
      name: typeof name === 'string' ? name : undefined,
      via: 'jwt',
      expiresAt: payload.exp,
    };
  }
}

function toAuthError(error: unknown): Error {
  if (error instanceof errors.JWTExpired)
    return new UnauthorizedError('token_expired', 'The token has expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    return new UnauthorizedError(
      'invalid_token_claims',
      `The token's "${error.claim}" claim is not accepted`,
    );
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return new UnauthorizedError(
      'algorithm_not_allowed',
      'The token is signed with an algorithm Clara does not accept',
    );
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return new UnauthorizedError(
      'unknown_signing_key',
      'The token was signed with a key the identity provider does not publish',
    );
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new UnauthorizedError('invalid_signature', 'The token signature is invalid');
  }
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) {
    return new ServiceUnavailableError(
      'identity_provider_unavailable',
      "The identity provider's signing keys could not be fetched",
    );
  }
  if (error instanceof TypeError && /fetch/i.test(error.message)) {
    return new ServiceUnavailableError(
      'identity_provider_unavailable',
      "The identity provider's signing keys could not be fetched",
    );
  }
  return new UnauthorizedError('invalid_token', 'The bearer token is malformed or invalid');
}
