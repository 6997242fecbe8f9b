import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from '@jest/globals';

import { DEVELOPMENT_JWT_SECRET } from './config.schema.js';
import { ConfigError } from './environment.js';
import { loadConfig } from './load-config.js';
import { redactConfig } from './redact.js';

const CONFIG_DIR = join(import.meta.dirname, '../../../config');
const STRONG_SECRET = 'x'.repeat(48);

function load(env: Record<string, string>, configDir = CONFIG_DIR) {
  return loadConfig({ env, configDir });
}

function problemsOf(fn: () => unknown) {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('defaults to development with embedded SQLite under ./data and the dev secret', () => {
    const config = load({});
    expect(config.environment).toBe('development');
    expect(config.database.url).toBeUndefined();
    expect(config.database.sqlitePath).toMatch(/data\/clara\.sqlite$/);
    expect(config.database.migrateOnStart).toBe(true);
    expect(config.auth.jwtSecret).toBe(DEVELOPMENT_JWT_SECRET);
    expect(config.log.format).toBe('pretty');
    expect(config.http.trainingPort).toBe(45680);
    expect(config.http.datasetsPort).toBe(45681);
    expect(Object.isFrozen(config.http)).toBe(true);
  });

  it('reads CLARA_ENVIRONMENT case-insensitively', () => {
    expect(load({ CLARA_ENVIRONMENT: 'TeStInG' }).environment).toBe('testing');
    expect(load({ CLARA_ENVIRONMENT: ' Development ' }).environment).toBe('development');
  });

  it('refuses an unknown environment with the allowed values', () => {
    const [problem] = problemsOf(() => load({ CLARA_ENVIRONMENT: 'staging' }));
    expect(problem.key).toBe('environment');
    expect(problem.source).toBe('CLARA_ENVIRONMENT');
    expect(problem.message).toContain('development, production, testing');
  });

  it('layers base < environment file < environment variables', () => {
    const dir = mkdtempSync(join(tmpdir(), 'clara-config-'));
    copyFileSync(join(CONFIG_DIR, 'base.yaml'), join(dir, 'base.yaml'));
    writeFileSync(
      join(dir, 'development.yaml'),
      'http: {trainingPort: 2000, datasetsPort: 2001}\n',
    );
    const config = load({ DATASETS_PORT: '3001', CLARA_JWT_SECRET: STRONG_SECRET }, dir);
    expect(config.jobs.maxAttempts).toBe(3);
    expect(config.http.host).toBe('127.0.0.1');
    expect(config.http.trainingPort).toBe(2000);
    expect(config.http.datasetsPort).toBe(3001);
  });

  it('lists every bad key at once, with where it came from', () => {
    const problems = problemsOf(() =>
      load({
        TRAINING_PORT: 'eighty',
        CLARA_LOG_LEVEL: 'loud',
        CLARA_AUTH_ENABLED: 'maybe',
        DATABASE_URL: 'mysql://x',
      }),
    );
    const keys = problems.map((p) => `${p.key}<${p.source}>`).sort();
    expect(keys).toEqual([
      'auth.enabled<CLARA_AUTH_ENABLED>',
      'database.url<DATABASE_URL>',
      'http.trainingPort<TRAINING_PORT>',
      'log.level<CLARA_LOG_LEVEL>',
    ]);
  });

  it('switches to PostgreSQL with DATABASE_URL and does not migrate on start by default', () => {
    const config = load({ DATABASE_URL: 'postgres://clara:pw@db:5432/clara' });
    expect(config.database.url).toBe('postgres://clara:pw@db:5432/clara');
    expect(config.database.migrateOnStart).toBe(false);
  });

  describe('production refusals', () => {
    const production = { CLARA_ENVIRONMENT: 'production', DATABASE_URL: 'postgres://u:p@db/clara' };

    it('refuses auth disabled', () => {
      const problems = problemsOf(() =>
        load({ ...production, CLARA_JWT_SECRET: STRONG_SECRET, CLARA_AUTH_ENABLED: 'false' }),
      );
      expect(problems.map((p) => p.key)).toContain('auth.enabled');
    });

    it('refuses the development secret', () => {
      const problems = problemsOf(() =>
        load({ ...production, CLARA_JWT_SECRET: DEVELOPMENT_JWT_SECRET }),
      );
      expect(problems).toEqual([
        expect.objectContaining({
          key: 'auth.jwtSecret',
          message: expect.stringContaining('development secret'),
        }),
      ]);
    });

    it('refuses a missing secret and JWKS', () => {
      const problems = problemsOf(() => load(production));
      expect(problems).toEqual([expect.objectContaining({ key: 'auth.jwtSecret' })]);
    });

    it('refuses a short secret', () => {
      const problems = problemsOf(() => load({ ...production, CLARA_JWT_SECRET: 'short' }));
      expect(problems[0].message).toContain('32 characters');
    });

    it('refuses SQLite unless explicitly allowed', () => {
      const env = { CLARA_ENVIRONMENT: 'production', CLARA_JWT_SECRET: STRONG_SECRET };
      expect(problemsOf(() => load(env))).toEqual([
        expect.objectContaining({ key: 'database.url' }),
      ]);
      expect(
        load({ ...env, CLARA_ALLOW_SQLITE_IN_PRODUCTION: 'true' }).database.sqlitePath,
      ).toBeDefined();
    });

    it('accepts JWKS without a secret and uses JSON logs', () => {
      const config = load({
        ...production,
        CLARA_JWKS_URL: 'https://sso.example.org/realms/clara/protocol/openid-connect/certs',
      });
      expect(config.auth.jwksUrl).toContain('/certs');
      expect(config.log.format).toBe('json');
      expect(config.http.host).toBe('0.0.0.0');
    });
  });

  it('allows auth disabled only in testing', () => {
    expect(load({ CLARA_ENVIRONMENT: 'testing', CLARA_AUTH_ENABLED: 'false' }).auth.enabled).toBe(
      false,
    );
    expect(problemsOf(() => load({ CLARA_AUTH_ENABLED: 'false' }))[0].key).toBe('auth.enabled');
  });
});

describe('redactConfig', () => {
  it('hides the secret and URL passwords, keeps the rest', () => {
    const config = load({
      CLARA_JWT_SECRET: 'super-secret-value',
      DATABASE_URL: 'postgres://clara:hunter2@db:5432/clara',
    });
    const printed = JSON.stringify(redactConfig(config));
    expect(printed).not.toContain('super-secret-value');
    expect(printed).not.toContain('hunter2');
    expect(printed).toContain('postgres://clara:[redacted]@db:5432/clara');
    expect(printed).toContain('"jwtSecret":"[redacted]"');
    expect(printed).toContain('"trainingPort":45680');
  });
});
