import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';

import { type TestApp, startTestApp } from './support/apps.js';
import { FixtureController } from './support/fixture.controller.js';
import { hs256Token, TEST_AUDIENCE, TestIdentityProvider } from './support/tokens.js';

/** RS256/ES256 tokens verified against a local JWKS endpoint shaped like Keycloak's. */
describe('JWKS (Keycloak-style) tokens', () => {
  const idp = new TestIdentityProvider();
  let t: TestApp;

  beforeAll(async () => {
    await idp.start();
    t = await startTestApp({
      env: {
        CLARA_JWKS_URL: idp.jwksUrl,
        CLARA_JWT_ISSUER: idp.issuer,
        CLARA_JWT_AUDIENCE: TEST_AUDIENCE,
        CLARA_JWT_CLIENT_ID: 'clara-api',
      },
    });
  });
  afterAll(async () => {
    await t.close();
    await idp.stop();
  });

  const status = (token: string) =>
    t.app.inject({
      method: 'GET',
      url: '/api/training/status',
      headers: { authorization: `Bearer ${token}` },
    });

  it('accepts RS256 and ES256 tokens from the published keys', async () => {
    expect(
      (await status(await idp.token({ roles: ['analyst'] }, { alg: 'RS256' }))).statusCode,
    ).toBe(200);
    expect(
      (await status(await idp.token({ roles: ['analyst'] }, { alg: 'ES256' }))).statusCode,
    ).toBe(200);
  });

  it('reads client roles from resource_access.<client id>', async () => {
    const ok = await idp.token({
      roles: ['analyst'],
      roleClaim: 'resource_access',
      clientId: 'clara-api',
    });
    const otherClient = await idp.token({
      roles: ['admin'],
      roleClaim: 'resource_access',
      clientId: 'someone-else',
    });
    expect((await status(ok)).statusCode).toBe(200);
    expect((await status(otherClient)).json()).toMatchObject({ status: 403, code: 'no_role' });
  });

  it('refuses a token signed by an unknown key', async () => {
    const res = await status(await idp.tokenFromUnknownKey({ roles: ['admin'] }));
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'unknown_signing_key' });
  });

  it('refuses a known kid with a signature from another key', async () => {
    const forged = (await idp.tokenFromUnknownKey({ roles: ['admin'] })).split('.');
    const genuine = (await idp.token({ roles: ['admin'] })).split('.');
    const res = await status(`${genuine[0]}.${forged[1]}.${forged[2]}`);
    expect(res.json()).toMatchObject({ status: 401, code: 'invalid_signature' });
  });

  it('refuses HS256 (algorithm confusion): with the public key as the secret, or the dev secret', async () => {
    const publicKeyAsSecret = new TextEncoder().encode(JSON.stringify(idp.rsaPublicJwk));
    const now = Math.floor(Date.now() / 1000);
    const confused = await new SignJWT({ realm_access: { roles: ['admin'] } })
      .setProtectedHeader({ alg: 'HS256', kid: idp.rsaPublicJwk.kid })
      .setSubject('mallory')
      .setIssuer(idp.issuer)
      .setAudience(TEST_AUDIENCE)
      .setExpirationTime(now + 600)
      .sign(publicKeyAsSecret);
    expect((await status(confused)).json()).toMatchObject({
      status: 401,
      code: 'algorithm_not_allowed',
    });
    const devToken = await hs256Token({ roles: ['admin'], iss: idp.issuer });
    expect((await status(devToken)).json()).toMatchObject({
      status: 401,
      code: 'algorithm_not_allowed',
    });
  });

  it('refuses expired tokens and the wrong issuer', async () => {
    expect(
      (await status(await idp.token({ roles: ['admin'], expiresIn: -600 }))).json(),
    ).toMatchObject({ code: 'token_expired' });
    expect(
      (
        await status(await idp.token({ roles: ['admin'], iss: 'https://elsewhere/realms/x' }))
      ).json(),
    ).toMatchObject({
      code: 'invalid_token_claims',
    });
  });
});

describe('auth disabled (testing environment only)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: { CLARA_AUTH_ENABLED: 'false' },
      controllers: [FixtureController],
    });
  });
  afterAll(() => t.close());

  it('serves every route as the fixed, clearly named test principal and audits it so', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/api/training/audit',
      headers: { 'x-request-id': 'no-auth-1' },
    });
    expect(res.statusCode).toBe(200);
    const post = await t.app.inject({
      method: 'POST',
      url: '/api/training/fixtures/items',
      headers: { 'x-request-id': 'no-auth-2' },
      payload: { name: 'no-auth', settings: { level: 1 } },
    });
    expect(post.statusCode).toBe(201);
    const audit = await t.app.inject({
      method: 'GET',
      url: '/api/training/audit?request_id=no-auth-2',
    });
    expect(audit.json<{ data: unknown[] }>().data).toEqual([
      expect.objectContaining({ subject: 'auth-disabled-test-principal', outcome: 'success' }),
    ]);
  });
});
