import { createHash } from 'node:crypto';

import type { Split } from './record-format.js';

/**
 * Assigns whole documents to splits, so no document's records are in both. Documents are
 * ordered by sha256(seed:id) — a seeded shuffle that does not depend on the order they
 * were found in — and the first round(n × fraction) go to validation (at least one when
 * the fraction is positive and there are two or more documents; never all of them).
 */
export function splitDocuments(
  documentIds: Iterable<string>,
  validationFraction: number,
  seed: number,
): Map<string, Split> {
  const ids = [...new Set(documentIds)];
  const keyed = ids
    .map((id) => ({ id, key: createHash('sha256').update(`${seed}:${id}`).digest('hex') }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : 1));
  let validation = 0;
  if (validationFraction > 0 && ids.length >= 2) {
    validation = Math.min(ids.length - 1, Math.max(1, Math.round(ids.length * validationFraction)));
  }
  const result = new Map<string, Split>();
  keyed.forEach(({ id }, i) => result.set(id, i < validation ? 'validation' : 'train'));
  return result;
}

/** Seeded split of one record (imports without documents): stable for a key and seed. */
export function splitOfKey(key: string, validationFraction: number, seed: number): Split {
  if (validationFraction <= 0) return 'train';
  const digest = createHash('sha256').update(`${seed}:${key}`).digest();
  return digest.readUInt32BE(0) / 0x1_0000_0000 < validationFraction ? 'validation' : 'train';
}
