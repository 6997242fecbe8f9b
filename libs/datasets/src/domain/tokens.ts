/**
 * Token counts without a tokenizer. Clara does not know which model a dataset will train,
 * so statistics use a documented approximation of byte-pair-encoding tokenizers:
 *
 *   tokens ≈ max(words, ceil(utf8_bytes / 4))
 *
 * where `words` counts runs of letters/digits and single punctuation marks. For English
 * prose BPE tokenizers (Llama, Qwen, Mistral) land within about ±20 % of this; German,
 * with longer words and umlauts (2 bytes each), comes out a little high, which errs on
 * the safe side for "over the max sequence length" counts.
 */
const WORDS = /[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu;

export function approxTokens(text: string): number {
  if (text.length === 0) return 0;
  const bytes = Buffer.byteLength(text, 'utf8');
  let words = 0;
  WORDS.lastIndex = 0;
  while (WORDS.exec(text) !== null) words++;
  return Math.max(words, Math.ceil(bytes / 4));
}

/** Histogram bucket upper bounds (exclusive); the last bucket is open-ended. */
export const TOKEN_BUCKETS = [32, 64, 128, 256, 512, 1024, 2048, 4096, 8192] as const;

export interface HistogramBucket {
  /** Inclusive lower bound. */
  min: number;
  /** Exclusive upper bound; null for the last bucket. */
  max: number | null;
  count: number;
}

export class TokenHistogram {
  private readonly counts = new Array<number>(TOKEN_BUCKETS.length + 1).fill(0);
  private total = 0;
  private sum = 0;
  private minimum = Number.POSITIVE_INFINITY;
  private maximum = 0;

  add(tokens: number): void {
    let i = 0;
    while (i < TOKEN_BUCKETS.length && tokens >= TOKEN_BUCKETS[i]) i++;
    this.counts[i]++;
    this.total++;
    this.sum += tokens;
    if (tokens < this.minimum) this.minimum = tokens;
    if (tokens > this.maximum) this.maximum = tokens;
  }

  toJson(): { buckets: HistogramBucket[]; min: number; max: number; mean: number } {
    return {
      buckets: this.counts.map((count, i) => ({
        min: i === 0 ? 0 : TOKEN_BUCKETS[i - 1],
        max: i < TOKEN_BUCKETS.length ? TOKEN_BUCKETS[i] : null,
        count,
      })),
      min: this.total === 0 ? 0 : this.minimum,
      max: this.maximum,
      mean: this.total === 0 ? 0 : Math.round((this.sum / this.total) * 100) / 100,
    };
  }
}
