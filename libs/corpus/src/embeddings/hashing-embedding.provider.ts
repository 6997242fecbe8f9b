import { type EmbeddingProvider, normalize } from './embedding-provider.js';
import { fnv1a, STOPWORDS, tokenize } from './text-features.js';

/**
 * The default, offline embedding: signed feature hashing of words and character
 * trigrams, sub-linear term frequency, L2-normalised. It is lexical, not semantic: it
 * finds shared words and word parts (which helps with German compounds and inflection),
 * never synonyms. Deterministic across processes and machines.
 */
export class HashingEmbeddingProvider implements EmbeddingProvider {
  readonly name = 'hashing';

  constructor(readonly dimensions: number) {}

  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((text) => this.embedOne(text));
  }

  embedOne(text: string): Float32Array {
    // feature → [occurrences, weight of one occurrence]
    const counts = new Map<string, [number, number]>();
    const add = (feature: string, weight: number) => {
      const seen = counts.get(feature);
      if (seen) seen[0]++;
      else counts.set(feature, [1, weight]);
    };
    for (const token of tokenize(text)) {
      if (STOPWORDS.has(token)) continue;
      add(`w:${token}`, 1);
      const padded = `^${token}$`;
      if (padded.length > 4) {
        for (let i = 0; i + 3 <= padded.length; i++) add(`t:${padded.slice(i, i + 3)}`, 0.35);
      }
    }
    const vector = new Float32Array(this.dimensions);
    for (const [feature, [count, weight]] of counts) {
      const hash = fnv1a(feature);
      const index = hash % this.dimensions;
      const sign = fnv1a(feature, 0x9e3779b9) & 1 ? 1 : -1;
      vector[index] += sign * weight * (1 + Math.log(count));
    }
    return normalize(vector);
  }
}
