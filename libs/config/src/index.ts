export { CLARA_CONFIG, ClaraConfigModule } from './config.module.js';
export {
  type AuthConfig,
  type CorpusConfig,
  type DatasetsConfig,
  type ClaraConfig,
  configSchema,
  type DatabaseConfig,
  DEVELOPMENT_JWT_SECRET,
  type HttpConfig,
  type StoresConfig,
  type TrainerConfig,
  type WorkerConfig,
} from './config.schema.js';
export { ENV_MAPPING, SECRET_KEYS } from './env-mapping.js';
export {
  type ConfigProblem,
  ConfigError,
  type Environment,
  ENVIRONMENTS,
  parseEnvironment,
} from './environment.js';
export { loadConfig, type LoadConfigOptions } from './load-config.js';
export { REDACTED, redactConfig, redactUrlPassword } from './redact.js';
export { inheritableEnvironment } from './process-environment.js';
