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
    /** 0 picks any free port (tests run several workers on one machine). */
    workerHealthPort: z.coerce.number().int().min(0).max(65535),
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
  jobs: z.object({
    /** How long a claimed job's lease lasts without a heartbeat before it is recovered. */
    leaseSeconds: z.coerce.number().int().min(2).max(3600),
    /** Attempts (first run included) before a job whose worker keeps dying is failed. */
    maxAttempts: z.coerce.number().int().min(1).max(20),
    /**
     * The Datasets service, for training processes deployed apart from it (then dataset
     * versions are fetched over HTTP); unset = read them from the shared database.
     */
    datasetsUrl: optionalUrl,
    /** Bearer token (role analyst or above) the training side uses to call the Datasets service. */
    datasetsToken: optionalString,
  }),
  worker: z.object({
    /** Run the worker inside the training service (the embedded default). */
    embedded: bool,
    /** Stable id of this worker; default `<host>-<pid>`. */
    id: optionalString,
    /** `auto` (nvidia-smi), `none`, or a list like `0,1,3`. */
    gpus: z
      .string()
      .trim()
      .regex(/^(auto|none|\d+(,\d+)*)$/, 'use auto, none or a list like 0,1'),
    /** Jobs this worker runs at once (GPU jobs also need free GPUs). */
    slots: z.coerce.number().int().min(1).max(64),
    heartbeatMs: z.coerce.number().int().min(100).max(60_000),
    pollMs: z.coerce.number().int().min(50).max(60_000),
    /** Seconds between SIGTERM and SIGKILL when stopping a trainer. */
    killGraceSeconds: z.coerce.number().min(0.1).max(600),
  }),
  trainer: z.object({
    /** The trainer program as an argv array (never a shell string); `--config <run>/job.json` is appended. */
    command: z.preprocess(
      (v) => (typeof v === 'string' ? parseJsonOr(v) : v),
      z.array(z.string().min(1)).min(1),
    ),
    /** Extra PYTHONPATH entry for the default Python trainer. */
    pythonPath: optionalString,
    /** Folders a job's local `base_model` path may point into (the data folder's `models/` always). */
    modelRoots: z.preprocess(
      (v) => (typeof v === 'string' ? v.split(':').filter(Boolean) : v),
      z.array(z.string().min(1)),
    ),
  }),
  // --- corpus (UDS3) -----------------------------------------------------------------
  corpus: z
    .object({
      /** Target chunk length in characters; chunks end at sentence or paragraph boundaries. */
      chunkSize: z.coerce.number().int().min(100).max(20000).default(800),
      /** Characters of trailing sentences repeated at the start of the next chunk. */
      chunkOverlap: z.coerce.number().int().min(0).max(5000).default(120),
      /** A JSON batch or upload with more documents than this runs as a background task. */
      backgroundThreshold: z.coerce.number().int().min(1).default(100),
      /** Largest accepted upload, in bytes (uploads stream to the data folder). */
      uploadMaxBytes: z.coerce
        .number()
        .int()
        .min(1024)
        .default(512 * 1024 * 1024),
      /** Names the Chroma collection, the CouchDB database and the Neo4j graph. */
      namespace: z
        .string()
        .trim()
        .regex(/^[a-z][a-z0-9_-]{1,61}[a-z0-9]$/, 'lower-case letters, digits, _ and -')
        .default('clara_corpus'),
      embedding: z
        .object({
          provider: z.enum(['hashing', 'openai-compatible']).default('hashing'),
          /** Base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:11434/v1 */
          url: optionalUrl,
          model: optionalString,
          apiKey: optionalString,
          dimensions: z.coerce.number().int().min(8).max(8192).default(384),
          batchSize: z.coerce.number().int().min(1).max(2048).default(64),
          timeoutMs: z.coerce.number().int().min(100).default(30000),
          maxRetries: z.coerce.number().int().min(0).max(10).default(4),
        })
        .prefault({})
        .superRefine((value, ctx) => {
          if (value.provider !== 'openai-compatible') return;
          for (const key of ['url', 'model'] as const) {
            if (!value[key]) {
              ctx.addIssue({
                code: 'custom',
                path: [key],
                message: 'required when the embedding provider is openai-compatible',
              });
            }
          }
        }),
    })
    .prefault({}),
  /** UDS3 server stores: each role moves to its server when its URL is set. */
  stores: z
    .object({
      chromaUrl: optionalUrl,
      neo4jUrl: optionalString.pipe(
        z
          .string()
          .regex(/^(bolt|neo4j)(\+s|\+ssc)?:\/\//, 'must be a bolt:// or neo4j:// URL')
          .optional(),
      ),
      neo4jUser: optionalString,
      neo4jPassword: optionalString,
      couchdbUrl: optionalUrl,
      couchdbUser: optionalString,
      couchdbPassword: optionalString,
      /** How long one call to a store server may take, in milliseconds. */
      timeoutMs: z.coerce.number().int().min(100).default(15000),
    })
    .prefault({}),
  // --- end corpus --------------------------------------------------------------------
  // --- datasets ----------------------------------------------------------------------
  datasets: z
    .object({
      /** Largest accepted dataset import file, in bytes (streamed to the data folder). */
      importMaxBytes: z.coerce
        .number()
        .int()
        .min(1024)
        .default(256 * 1024 * 1024),
      /** How many problems an import refusal lists (all are counted). */
      importMaxProblems: z.coerce.number().int().min(1).max(10000).default(50),
      /** A record longer than this many approximate tokens is refused on import. */
      maxRecordTokens: z.coerce.number().int().min(16).max(1_000_000).default(32768),
      /** Most chunks a build may take from a search (its `top_k` limit). */
      buildMaxChunks: z.coerce.number().int().min(1).max(1_000_000).default(20000),
      /** Rows read from the database per page while exporting. */
      exportPageRows: z.coerce.number().int().min(10).max(100_000).default(500),
      /** Rows per Parquet row group (the writer yields to the event loop between groups). */
      parquetRowGroupRows: z.coerce.number().int().min(100).max(1_000_000).default(1000),
      /** zstd level of Parquet exports (1 fastest … 19 smallest). */
      parquetZstdLevel: z.coerce.number().int().min(1).max(19).default(3),
      /**
       * Keep every export file once written (under `<dataDir>/datasets/exports/`), so the
       * next download of the same file streams it instead of encoding it again. Versions are
       * immutable, so a kept file never goes stale; deleting one only costs a re-encode.
       */
      exportCache: bool.default(true),
      /**
       * Exports encoding at once (each with two encoder threads); further downloads that
       * need an encode wait their turn — and then usually find the file kept.
       */
      exportMaxEncodes: z.coerce.number().int().min(1).max(64).default(2),
      /**
       * Formats written for both splits (metadata included) as soon as a version is ready,
       * so even its first download streams a finished file; `none` writes them on first
       * download only. Ignored when `exportCache` is off.
       */
      exportPrepare: z.preprocess(
        (v) =>
          typeof v === 'string'
            ? v.trim().toLowerCase() === 'none'
              ? []
              : v
                  .split(',')
                  .map((f) => f.trim().toLowerCase())
                  .filter(Boolean)
            : v,
        z.array(z.enum(['jsonl', 'csv', 'parquet'])).default(['jsonl', 'csv', 'parquet']),
      ),
    })
    .prefault({}),
  // --- end datasets ------------------------------------------------------------------
  /** `Idempotency-Key` on create routes (docs/architecture.md, "Idempotency"). */
  idempotency: z
    .object({
      /** How long a stored response is replayed for a retried key, in hours (fractions allowed). */
      ttlHours: z.coerce.number().positive().max(720).default(24),
    })
    .prefault({}),
});

function parseJsonOr(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

export type ClaraConfig = z.infer<typeof configSchema>;
export type HttpConfig = ClaraConfig['http'];
export type DatabaseConfig = ClaraConfig['database'];
export type AuthConfig = ClaraConfig['auth'];
export type CorpusConfig = ClaraConfig['corpus'];
export type StoresConfig = ClaraConfig['stores'];
export type WorkerConfig = ClaraConfig['worker'];
export type TrainerConfig = ClaraConfig['trainer'];
export type DatasetsConfig = ClaraConfig['datasets'];
