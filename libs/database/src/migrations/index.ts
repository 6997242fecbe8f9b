import { AuditLog1764158400000 } from './1764158400000-audit-log.js';
import { Jobs1764200000000 } from './1764200000000-jobs.js';
import { Corpus1764300000000 } from './1764300000000-corpus.js';
import { Datasets1764400000000 } from './1764400000000-datasets.js';
import { Idempotency1764500000000 } from './1764500000000-idempotency.js';

/** Every migration, oldest first. Add new ones at the end; never edit a released one. */
export const MIGRATIONS = [
  AuditLog1764158400000,
  Jobs1764200000000,
  Corpus1764300000000,
  Datasets1764400000000,
  Idempotency1764500000000,
];
