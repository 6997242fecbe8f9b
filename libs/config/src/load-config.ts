import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

import { parse as parseYaml } from 'yaml';

import { type ClaraConfig, configSchema, DEVELOPMENT_JWT_SECRET } from './config.schema.js';
import { ENV_MAPPING } from './env-mapping.js';
import { type ConfigProblem, ConfigError, parseEnvironment } from './environment.js';

type Tree = Record<string, unknown>;

export interface LoadConfigOptions {
  /** Variables to read instead of `process.env` (tests pass their own). */
  env?: Record<string, string | undefined>;
  /** Folder holding `base.yaml` and `<environment>.yaml`; default `./config`. */
  configDir?: string;
}

/**
 * Builds the one configuration object from, lowest to highest: `config/base.yaml`,
 * `config/<environment>.yaml`, environment variables. Throws {@link ConfigError} listing
 * every bad key, so a misconfigured process stops at start and says why.
 */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<ClaraConfig> {
  const env = options.env ?? process.env;
  const environment = parseEnvironment(env.CLARA_ENVIRONMENT);
  const configDir = resolve(options.configDir ?? env.CLARA_CONFIG_DIR ?? 'config');

  const sources = new Map<string, string>();
  const tree: Tree = {};
  for (const name of ['base', environment]) {
    const file = join(configDir, `${name}.yaml`);
    if (!existsSync(file)) continue;
    const content: unknown = parseYaml(readFileSync(file, 'utf8'));
    if (content !== null && typeof content !== 'object') {
      throw new ConfigError([{ key: '(file)', source: file, message: 'must hold a mapping' }]);
    }
    mergeInto(tree, (content ?? {}) as Tree, '', (key) => sources.set(key, file));
  }
  for (const [variable, key] of Object.entries(ENV_MAPPING)) {
    const value = env[variable];
    if (value === undefined) continue;
    setPath(tree, key, value);
    sources.set(key, variable);
  }
  tree.environment = environment;

  const parsed = configSchema.safeParse(tree);
  if (!parsed.success) {
    const problems: ConfigProblem[] = parsed.error.issues.map((issue) => {
      const key = issue.path.join('.');
      return { key, source: sourceOf(sources, key), message: issue.message };
    });
    // Report the refusals too when the sections they judge are themselves valid.
    const auth = configSchema.shape.auth.safeParse(tree.auth);
    const database = configSchema.shape.database.safeParse(tree.database);
    if (auth.success && database.success) {
      const partial = { environment, auth: auth.data, database: database.data } as ClaraConfig;
      problems.push(...productionRefusals(partial, sources));
    }
    throw new ConfigError(problems);
  }
  const config = withDerivedDefaults(parsed.data);
  const refusals = productionRefusals(config, sources);
  if (refusals.length > 0) throw new ConfigError(refusals);
  return deepFreeze(config);
}

function withDerivedDefaults(config: ClaraConfig): ClaraConfig {
  const dataDir = isAbsolute(config.dataDir) ? config.dataDir : resolve(config.dataDir);
  const embedded = config.database.url === undefined;
  // The trainer runs with its run folder as working directory: anchor relative paths here.
  const [program, ...args] = config.trainer.command;
  const trainer = {
    ...config.trainer,
    command: [program.includes('/') ? resolve(program) : program, ...args],
    pythonPath: config.trainer.pythonPath ? resolve(config.trainer.pythonPath) : undefined,
  };
  return {
    ...config,
    dataDir,
    trainer,
    database: {
      ...config.database,
      sqlitePath: embedded
        ? resolve(dataDir, config.database.sqlitePath ?? 'clara.sqlite')
        : config.database.sqlitePath,
      migrateOnStart: config.database.migrateOnStart ?? embedded,
    },
  };
}

/** Settings that are fine on a laptop and dangerous on a server. */
function productionRefusals(config: ClaraConfig, sources: Map<string, string>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const refuse = (key: string, message: string) =>
    problems.push({ key, source: sourceOf(sources, key), message });
  const { auth, database } = config;

  if (!auth.enabled && config.environment !== 'testing') {
    refuse('auth.enabled', `auth may be disabled only in the testing environment`);
  }
  if (auth.enabled && !auth.jwksUrl && !auth.jwtSecret) {
    refuse('auth.jwtSecret', 'set CLARA_JWT_SECRET or CLARA_JWKS_URL');
  }
  if (config.environment !== 'production') return problems;

  if (!auth.jwksUrl) {
    if (auth.jwtSecret === DEVELOPMENT_JWT_SECRET) {
      refuse('auth.jwtSecret', 'the development secret is public; set your own CLARA_JWT_SECRET');
    } else if (auth.jwtSecret && auth.jwtSecret.length < 32) {
      refuse('auth.jwtSecret', 'must be at least 32 characters in production');
    }
  }
  if (database.url === undefined && !database.allowSqliteInProduction) {
    refuse(
      'database.url',
      'production needs DATABASE_URL (PostgreSQL); set CLARA_ALLOW_SQLITE_IN_PRODUCTION=true to run on SQLite anyway',
    );
  }
  return problems;
}

function sourceOf(sources: Map<string, string>, key: string): string | undefined {
  for (let k = key; k !== ''; k = k.includes('.') ? k.slice(0, k.lastIndexOf('.')) : '') {
    const source = sources.get(k);
    if (source) return source;
  }
  return undefined;
}

function mergeInto(target: Tree, source: Tree, prefix: string, seen: (key: string) => void): void {
  for (const [name, value] of Object.entries(source)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (isTree(value)) {
      const child = isTree(target[name]) ? target[name] : {};
      target[name] = child;
      mergeInto(child, value, key, seen);
    } else {
      target[name] = value;
      seen(key);
    }
  }
}

function setPath(tree: Tree, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    if (!isTree(node[part])) node[part] = {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1]] = value;
}

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (isTree(value)) Object.values(value).forEach(deepFreeze);
  return Object.freeze(value);
}
