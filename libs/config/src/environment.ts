export const ENVIRONMENTS = ['development', 'production', 'testing'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

/** Parses `CLARA_ENVIRONMENT` case-insensitively; the default is `development`. */
export function parseEnvironment(raw: string | undefined): Environment {
  const value = (raw ?? '').trim().toLowerCase();
  if (value === '') return 'development';
  const match = ENVIRONMENTS.find((environment) => environment === value);
  if (!match) {
    throw new ConfigError([
      {
        key: 'environment',
        source: 'CLARA_ENVIRONMENT',
        message: `"${raw}" is not an environment; use one of ${ENVIRONMENTS.join(', ')}`,
      },
    ]);
  }
  return match;
}

export interface ConfigProblem {
  /** Path in the configuration object, e.g. `http.trainingPort`. */
  key: string;
  /** Where the bad value came from: an environment variable or a config file. */
  source?: string;
  message: string;
}

/** Thrown at start when the configuration is invalid; lists every bad key. */
export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(
      'Invalid configuration:\n' +
        problems
          .map((p) => `  - ${p.key}${p.source ? ` (${p.source})` : ''}: ${p.message}`)
          .join('\n'),
    );
    this.name = 'ConfigError';
  }
}
