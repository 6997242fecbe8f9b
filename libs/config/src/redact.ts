import type { ClaraConfig } from './config.schema.js';
import { SECRET_KEYS } from './env-mapping.js';

export const REDACTED = '[redacted]';

/** A copy of the configuration safe to print or log: secrets and URL passwords hidden. */
export function redactConfig(config: Readonly<ClaraConfig>): Record<string, unknown> {
  return redactTree(config, '');
}

function redactTree(tree: Record<string, unknown>, prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      out[name] = redactTree(value as Record<string, unknown>, key);
    } else if (SECRET_KEYS.has(key) && value !== undefined) {
      out[name] = REDACTED;
    } else if (typeof value === 'string') {
      out[name] = redactUrlPassword(value);
    } else {
      out[name] = value;
    }
  }
  return out;
}

/** `postgres://clara:s3cret@db/clara` → `postgres://clara:[redacted]@db/clara`. */
export function redactUrlPassword(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@/\s]*@/i, `$1:${REDACTED}@`);
}
