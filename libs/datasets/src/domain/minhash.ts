/**
 * Near-duplicate detection with MinHash and locality-sensitive hashing.
 *
 * A text becomes a set of shingles (word 3-grams of its lower-cased words); its signature
 * holds, for each of `PERMUTATIONS` seeded 32-bit hash functions, the smallest hash of any
 * shingle. The share of equal signature slots estimates the Jaccard similarity of two
 * shingle sets. LSH bands (`BANDS` × `ROWS`) find candidate pairs without comparing every
 * pair; a candidate counts as a duplicate when its estimated similarity reaches the
 * threshold. Everything is deterministic (no random seeds), so builds are reproducible.
 */
export const PERMUTATIONS = 128;
const BANDS = 32;
const ROWS = PERMUTATIONS / BANDS;
const SHINGLE = 3;

const SEEDS = Uint32Array.from({ length: PERMUTATIONS }, (_, i) => fmix(0x9e3779b9 ^ (i + 1)));

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function shingles(text: string): Set<number> {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const result = new Set<number>();
  if (words.length < SHINGLE) {
    if (words.length > 0) result.add(fnv1a(words.join(' ')));
    return result;
  }
  for (let i = 0; i + SHINGLE <= words.length; i++) {
    result.add(fnv1a(words.slice(i, i + SHINGLE).join(' ')));
  }
  return result;
}

export function signature(text: string): Uint32Array {
  const sig = new Uint32Array(PERMUTATIONS).fill(0xffffffff);
  for (const shingle of shingles(text)) {
    for (let i = 0; i < PERMUTATIONS; i++) {
      const h = fmix(shingle ^ SEEDS[i]);
      if (h < sig[i]) sig[i] = h;
    }
  }
  return sig;
}

export function similarity(a: Uint32Array, b: Uint32Array): number {
  let equal = 0;
  for (let i = 0; i < PERMUTATIONS; i++) if (a[i] === b[i]) equal++;
  return equal / PERMUTATIONS;
}

/** Keeps the first of each group of near-duplicates, in the order texts are offered. */
export class NearDuplicateIndex {
  private readonly signatures: Uint32Array[] = [];
  private readonly buckets = new Map<string, number[]>();

  constructor(private readonly threshold: number) {}

  /** Index of the kept text this one nearly duplicates, or -1 (and it is kept). */
  offer(text: string): number {
    const sig = signature(text);
    const keys: string[] = [];
    const seen = new Set<number>();
    for (let band = 0; band < BANDS; band++) {
      let key = `${band}:`;
      for (let r = 0; r < ROWS; r++) key += `${sig[band * ROWS + r].toString(36)},`;
      keys.push(key);
      for (const candidate of this.buckets.get(key) ?? []) {
        if (seen.has(candidate)) continue;
        seen.add(candidate);
        if (similarity(sig, this.signatures[candidate]) >= this.threshold) return candidate;
      }
    }
    const index = this.signatures.push(sig) - 1;
    for (const key of keys) {
      const bucket = this.buckets.get(key);
      if (bucket) bucket.push(index);
      else this.buckets.set(key, [index]);
    }
    return -1;
  }
}
