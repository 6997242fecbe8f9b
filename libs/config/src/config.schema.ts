import { z } from 'zod';

import { ENVIRONMENTS } from './environment.js';

/**
 * The development secret is public (it is in this repository), so production refuses it.
 * Tokens minted with `npm run token` use it.
 */
export const DEVELOPMENT_JWT_SECRET = 'clara-development-secret-do-not-use-in-production';

const port = z.coerce.number().int().min(1).max(65535);
const bool = z.union([
  z.boolean(),
  z
    .string()
    .trim()
    .toLowerCase()
    .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'expected true or false')
    .transform((v) => ['true', '1', 'yes'].includes(v)),
]);
const optionalString = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v === '' ? undefined : v));
const optionalUrl = optionalString.pipe(z.url().optional());

export const configSchema = z.object({
  environment: z.enum(ENVIRONMENTS),
  /** Folder for the SQLite file, run folders, uploads and exports. */
  dataDir: z.string().trim().min(1),
  http: z.object({
    host: z.string().trim().min(1),
    trainingPort: port,
    datasetsPort: port,
    workerHealthPort: port,
    /** Largest accepted JSON body, in bytes. */
    bodyLimitBytes: z.coerce.number().int().min(1024),
    /** Trust X-Forwarded-* from a reverse proxy. */
    trustProxy: bool,
  }),
  log: z.object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    format: z.enum(['pretty', 'json']),
  }),
  database: z.object({
    /** `postgres://…` selects PostgreSQL; empty selects the embedded SQLite file. */
    url: optionalString.pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
        .optional(),
    ),
    sqlitePath: optionalString,
    allowSqliteInProduction: bool,
    /** Apply pending migrations at start (the default for the embedded database). */
    migrateOnStart: bool.optional(),
    /** How long SQLite waits for a lock before failing, in milliseconds. */
    sqliteBusyTimeoutMs: z.coerce.number().int().min(0),
    poolSize: z.coerce.number().int().min(1).max(200),
  }),
  auth: z.object({
    enabled: bool,
    /** HS256 secret; used when no JWKS URL is set. */
    jwtSecret: optionalString,
    /** Keycloak: https://<host>/realms/<realm>/protocol/openid-connect/certs */
    jwksUrl: optionalUrl,
    issuer: optionalString,
    audience: optionalString,
    /** Keycloak client whose `resource_access.<client>.roles` grant Clara roles. */
    clientId: optionalString,
    clockToleranceSeconds: z.coerce.number().int().min(0).max(300),
  }),
});

export type ClaraConfig = z.infer<typeof configSchema>;
export type HttpConfig = ClaraConfig['http'];
export type DatabaseConfig = ClaraConfig['database'];
export type AuthConfig = ClaraConfig['auth'];
