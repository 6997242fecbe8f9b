import 'reflect-metadata';

import { parseArgs } from 'node:util';

import { isRole, mintHs256Token, type Role } from '@clara/auth';
import { type ClaraConfig, redactConfig } from '@clara/config';
import { buildDataSourceOptions, databaseEngine, runMigrationsExclusively } from '@clara/database';
import { withConfig } from '@clara/platform';
import { DataSource } from 'typeorm';

const USAGE = `Clara developer commands

  npm run token -- --role trainer [--role admin] [--sub alice] [--ttl 1h] [--name "Alice"]
      Mint a development token (HS256, the configured secret) for Swagger UI's Authorize.
  npm run migrate [-- --status]
      Apply pending database migrations (or list applied and pending ones).
  npm run config:print
      Print the effective configuration, secrets redacted.
`;

const [command, ...rest] = process.argv.slice(2);

await withConfig(async (config) => {
  switch (command) {
    case 'token':
      return token(config, rest);
    case 'migrate':
      return migrate(config, rest);
    case 'config':
      process.stdout.write(`${JSON.stringify(redactConfig(config), null, 2)}\n`);
      return;
    default:
      process.stdout.write(USAGE);
      process.exitCode = command === undefined || command === 'help' ? 0 : 64;
  }
});

async function token(config: ClaraConfig, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      role: { type: 'string', multiple: true, default: [] },
      sub: { type: 'string', default: 'developer' },
      ttl: { type: 'string', default: '1h' },
      name: { type: 'string' },
    },
  });
  const roles = values.role.flatMap((r) => r.split(',')).map((r) => r.trim());
  const bad = roles.filter((r) => !isRole(r));
  if (roles.length === 0 || bad.length > 0) {
    fail(`--role must be admin, trainer or analyst (got: ${bad.join(', ') || 'none'})`);
  }
  if (config.environment === 'production') fail('refusing to mint tokens in production');
  if (config.auth.jwksUrl) fail('CLARA_JWKS_URL is set: tokens come from your identity provider');
  if (!/^\d+\s*(s|m|h|d)$/.test(values.ttl)) fail('--ttl must look like 30m, 1h or 7d');
  const jwt = await mintHs256Token({
    secret: config.auth.jwtSecret!,
    subject: values.sub,
    roles: roles as Role[],
    ttl: values.ttl,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    name: values.name,
  });
  process.stdout.write(`${jwt}\n`);
}

async function migrate(config: ClaraConfig, args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { status: { type: 'boolean', default: false } } });
  const dataSource = await new DataSource(buildDataSourceOptions(config.database)).initialize();
  try {
    const engine = databaseEngine(config.database);
    if (values.status) {
      const pending = await dataSource.showMigrations();
      process.stdout.write(`${engine}: ${pending ? 'migrations pending' : 'up to date'}\n`);
      return;
    }
    const applied = await runMigrationsExclusively(dataSource);
    process.stdout.write(
      applied.length === 0
        ? `${engine}: up to date\n`
        : `${engine}: applied ${applied.map((m) => m.name).join(', ')}\n`,
    );
  } finally {
    await dataSource.destroy();
  }
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(64);
}
