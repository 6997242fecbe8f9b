// The HTTP anchor: a plain Fastify server on the same Fastify version Clara runs on.
//   GET /health/live  {"status":"ok"}                      — hello world
//   GET /auth         HS256 bearer verified with jose from the raw secret bytes, as Clara's
//                     TokenVerifier does today, then {"status":"ok","sub":…}: the cheapest
//                     "authenticated route", i.e. what token verification alone costs
//   GET /auth-key     the same with a CryptoKey imported once at start (jose then skips the
//                     per-call key import): what that change to TokenVerifier would buy
// Environment: PORT (default 0 = any), ANCHOR_JWT_SECRET, ANCHOR_JWT_ISSUER, ANCHOR_JWT_AUDIENCE.
import { webcrypto } from 'node:crypto';

import Fastify from 'fastify';
import { jwtVerify } from 'jose';

const secret = Buffer.from(process.env.ANCHOR_JWT_SECRET ?? 'anchor-secret', 'utf8');
const importedKey = await webcrypto.subtle.importKey(
  'raw',
  secret,
  { name: 'HMAC', hash: 'SHA-256' },
  false,
  ['verify'],
);
const verifyOptions = {
  algorithms: ['HS256'],
  issuer: process.env.ANCHOR_JWT_ISSUER || undefined,
  audience: process.env.ANCHOR_JWT_AUDIENCE || undefined,
  requiredClaims: ['exp', 'sub'],
};

const app = Fastify({ logger: false });

app.get('/health/live', async () => ({ status: 'ok' }));

const authenticated = (key) => async (request, reply) => {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  if (!match) return reply.code(401).send({ status: 'unauthorized' });
  try {
    const { payload } = await jwtVerify(match[1], key, verifyOptions);
    return { status: 'ok', sub: payload.sub };
  } catch {
    return reply.code(401).send({ status: 'unauthorized' });
  }
};
app.get('/auth', authenticated(secret));
app.get('/auth-key', authenticated(importedKey));

await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });

const stop = () => void app.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
