/**
 * Environment variables and the configuration key each one sets. This table is the only
 * place that knows variable names; docs/configuration.md lists the same table.
 */
export const ENV_MAPPING: Readonly<Record<string, string>> = {
  CLARA_DATA_DIR: 'dataDir',
  CLARA_HOST: 'http.host',
  TRAINING_PORT: 'http.trainingPort',
  DATASETS_PORT: 'http.datasetsPort',
  WORKER_HEALTH_PORT: 'http.workerHealthPort',
  CLARA_BODY_LIMIT_BYTES: 'http.bodyLimitBytes',
  CLARA_TRUST_PROXY: 'http.trustProxy',
  CLARA_LOG_LEVEL: 'log.level',
  CLARA_LOG_FORMAT: 'log.format',
  DATABASE_URL: 'database.url',
  CLARA_SQLITE_PATH: 'database.sqlitePath',
  CLARA_ALLOW_SQLITE_IN_PRODUCTION: 'database.allowSqliteInProduction',
  CLARA_MIGRATE_ON_START: 'database.migrateOnStart',
  CLARA_SQLITE_BUSY_TIMEOUT_MS: 'database.sqliteBusyTimeoutMs',
  DATABASE_POOL_SIZE: 'database.poolSize',
  CLARA_AUTH_ENABLED: 'auth.enabled',
  CLARA_JWT_SECRET: 'auth.jwtSecret',
  CLARA_JWKS_URL: 'auth.jwksUrl',
  CLARA_JWT_ISSUER: 'auth.issuer',
  CLARA_JWT_AUDIENCE: 'auth.audience',
  CLARA_JWT_CLIENT_ID: 'auth.clientId',
  CLARA_JWT_CLOCK_TOLERANCE_SECONDS: 'auth.clockToleranceSeconds',
  CLARA_JOB_LEASE_SECONDS: 'jobs.leaseSeconds',
  CLARA_JOB_MAX_ATTEMPTS: 'jobs.maxAttempts',
  CLARA_WORKER_EMBEDDED: 'worker.embedded',
  CLARA_WORKER_ID: 'worker.id',
  CLARA_WORKER_GPUS: 'worker.gpus',
  CLARA_WORKER_SLOTS: 'worker.slots',
  CLARA_WORKER_HEARTBEAT_MS: 'worker.heartbeatMs',
  CLARA_WORKER_POLL_MS: 'worker.pollMs',
  CLARA_WORKER_KILL_GRACE_SECONDS: 'worker.killGraceSeconds',
  CLARA_TRAINER_COMMAND: 'trainer.command',
  CLARA_TRAINER_PYTHONPATH: 'trainer.pythonPath',
  CLARA_MODEL_ROOTS: 'trainer.modelRoots',
};

/** Keys whose values are never printed or logged. */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'auth.jwtSecret',
  'corpus.embedding.apiKey',
  'stores.neo4jPassword',
  'stores.couchdbPassword',
]);
