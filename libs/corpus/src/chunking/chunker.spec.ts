import { describe, expect, it } from '@jest/globals';

import { chunkText, splitSentences } from './chunker.js';

const sentences = (text: string) => splitSentences(text).map((s) => text.slice(s.start, s.end));

describe('splitSentences', () => {
  it('splits at sentence ends but not after German and English abbreviations or section numbers', () => {
    const text =
      'Gem. § 5 Abs. 2 gilt dies z. B. für Garagen. Die Frist beträgt 3.5 Jahre! Is it e.g. late? Yes.';
    expect(sentences(text)).toEqual([
      'Gem. § 5 Abs. 2 gilt dies z. B. für Garagen.',
      'Die Frist beträgt 3.5 Jahre!',
      'Is it e.g. late?',
      'Yes.',
    ]);
  });

  it('marks paragraph starts', () => {
    const spans = splitSentences('One. Two.\n\nThree.');
    expect(spans.map((s) => s.paragraph)).toEqual([true, false, true]);
  });
});

describe('chunkText', () => {
  const para = (n: number, words = 12) =>
    Array.from({ length: n }, (_, i) => `Sentence ${i} ${'word '.repeat(words).trim()}.`).join(' ');

  it('keeps chunks within the size, ending at sentence boundaries, covering all text', () => {
    const text = para(40);
    const chunks = chunkText(text, { size: 300, overlap: 0 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const chunk of chunks) {
      expect(chunk.text.length).toBeLessThanOrEqual(300);
      expect(chunk.text.endsWith('.')).toBe(true);
      expect(text.slice(chunk.start, chunk.end)).toBe(chunk.text);
    }
    expect(chunks.map((c) => c.text).join(' ')).toBe(text);
  });

  it('repeats whole trailing sentences as overlap', () => {
    const chunks = chunkText(para(30), { size: 300, overlap: 120 });
    for (let i = 1; i < chunks.length; i++) {
      const previous = chunks[i - 1];
      expect(chunks[i].start).toBeLessThan(previous.end);
      expect(previous.end - chunks[i].start).toBeLessThanOrEqual(120);
    }
  });

  it('starts a new chunk at a paragraph break once a chunk is half full', () => {
    const text = `${para(3)}\n\n${para(3)}`;
    const chunks = chunkText(text, { size: 400, overlap: 50 });
    expect(chunks).toHaveLength(2);
    expect(chunks[1].text.startsWith('Sentence 0')).toBe(true);
  });

  it('cuts an over-long sentence at word boundaries and drops empty input', () => {
    const long = 'wort '.repeat(300).trim() + '.';
    const chunks = chunkText(long, { size: 200, overlap: 20 });
    expect(chunks.every((c) => c.text.length <= 200 && !c.text.startsWith(' '))).toBe(true);
    expect(chunkText('  \n\n ', { size: 200, overlap: 0 })).toEqual([]);
  });
});
