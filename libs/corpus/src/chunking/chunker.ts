export interface ChunkingOptions {
  /** Target chunk length in characters. */
  size: number;
  /** Characters of trailing sentences repeated at the start of the next chunk. */
  overlap: number;
}

export interface TextChunk {
  text: string;
  /** Offsets into the original text (end exclusive). */
  start: number;
  end: number;
}

interface Span {
  start: number;
  end: number;
  /** This span starts a new paragraph. */
  paragraph: boolean;
}

// Abbreviations after which a full stop does not end a sentence (German and English).
const ABBREVIATIONS = new Set(
  [
    'abs',
    'art',
    'bzw',
    'ca',
    'dr',
    'etc',
    'ggf',
    'gem',
    'hr',
    'inkl',
    'nr',
    'prof',
    'rn',
    'sog',
    'str',
    'usw',
    'vgl',
    'z',
    'b',
    'd',
    'h',
    'u',
    'a',
    's',
    'e',
    'g',
    'i',
    'e.g',
    'i.e',
    'mr',
    'mrs',
    'ms',
    'no',
    'vs',
    'sec',
    'para',
    'fig',
  ].map((a) => a.toLowerCase()),
);

/**
 * Splits text into chunks of about `size` characters that end at sentence boundaries,
 * start new chunks at paragraph boundaries where that keeps them reasonably full, and
 * repeat up to `overlap` characters of whole trailing sentences. A sentence longer than
 * `size` is cut at word boundaries.
 */
export function chunkText(text: string, options: ChunkingOptions): TextChunk[] {
  const size = Math.max(50, options.size);
  const overlap = Math.min(Math.max(0, options.overlap), Math.floor(size / 2));
  const sentences = splitSentences(text).flatMap((s) => splitLong(text, s, size));
  if (sentences.length === 0) return [];

  const chunks: TextChunk[] = [];
  let current: Span[] = [];
  // Spans in `current` not yet written in any chunk (the rest is carried overlap).
  let fresh = 0;
  const length = (spans: Span[]) =>
    spans.length === 0 ? 0 : spans[spans.length - 1].end - spans[0].start;
  const flush = () => {
    const start = current[0].start;
    const end = current[current.length - 1].end;
    chunks.push({ text: text.slice(start, end), start, end });
    // Carry whole trailing sentences that fit in the overlap into the next chunk.
    const carried: Span[] = [];
    for (let i = current.length - 1; i > 0; i--) {
      if (end - current[i].start > overlap) break;
      carried.unshift(current[i]);
    }
    current = carried;
    fresh = 0;
  };

  for (const sentence of sentences) {
    const tooLong = length([...current, sentence]) > size;
    // A paragraph break closes a chunk that is already at least half full.
    const paragraphBreak = sentence.paragraph && length(current) >= size / 2;
    if ((tooLong || paragraphBreak) && fresh > 0) flush();
    // Overlap never pushes a chunk over its size, and never crosses a paragraph break.
    if (fresh === 0 && (length([...current, sentence]) > size || sentence.paragraph)) current = [];
    current.push(sentence);
    fresh++;
  }
  if (fresh > 0) flush();
  return chunks;
}

/** Sentence spans with whitespace trimmed, marking which start a paragraph. */
export function splitSentences(text: string): Span[] {
  const spans: Span[] = [];
  const paragraphs = /\S[\s\S]*?(?=\n[ \t]*\n|$)/g;
  for (const paragraph of text.matchAll(paragraphs)) {
    const base = paragraph.index;
    const body = paragraph[0];
    let start = 0;
    let first = true;
    const boundary = /[.!?…]+["'»«”)\]]*(?=\s+|$)|\n(?=\s*(?:[-*•]|\d+[.)]|#{1,6})\s)/g;
    for (const match of body.matchAll(boundary)) {
      const end = match.index + match[0].length;
      if (match[0].startsWith('.') && isAbbreviation(body, match.index)) continue;
      if (
        /^\.\s*\d/.test(body.slice(match.index, match.index + 3)) &&
        /\d$/.test(body.slice(0, match.index))
      ) {
        continue;
      }
      pushTrimmed(spans, text, base + start, base + end, first);
      first = false;
      start = end;
    }
    pushTrimmed(spans, text, base + start, base + body.length, first);
  }
  return spans;
}

function pushTrimmed(spans: Span[], text: string, start: number, end: number, paragraph: boolean) {
  while (start < end && /\s/.test(text[start])) start++;
  while (end > start && /\s/.test(text[end - 1])) end--;
  if (end > start) spans.push({ start, end, paragraph: paragraph || spans.length === 0 });
}

function isAbbreviation(body: string, dot: number): boolean {
  const word = /([\p{L}.]+)$/u.exec(body.slice(Math.max(0, dot - 12), dot))?.[1];
  if (!word) return /\d$/.test(body.slice(0, dot)) && /^\.\d/.test(body.slice(dot, dot + 2));
  return ABBREVIATIONS.has(word.toLowerCase()) || /^\p{Lu}$/u.test(word);
}

/** Cuts a sentence longer than `size` at word boundaries. */
function splitLong(text: string, span: Span, size: number): Span[] {
  if (span.end - span.start <= size) return [span];
  const parts: Span[] = [];
  let start = span.start;
  while (span.end - start > size) {
    let cut = text.lastIndexOf(' ', start + size);
    if (cut <= start) cut = start + size;
    parts.push({ start, end: cut, paragraph: parts.length === 0 && span.paragraph });
    start = cut;
    while (start < span.end && /\s/.test(text[start])) start++;
  }
  if (start < span.end) parts.push({ start, end: span.end, paragraph: false });
  return parts;
}
