import { describe, expect, it } from '@jest/globals';

import { ContentChecksum } from './checksum.js';
import { NearDuplicateIndex, signature, similarity } from './minhash.js';
import { canonicalJson, checkRecord, withMetadata } from './record-format.js';
import { splitDocuments, splitOfKey } from './split.js';
import { approxTokens, TokenHistogram } from './tokens.js';

const TEXT =
  'Die Bauaufsichtsbehörde prüft den Bauantrag auf Vollständigkeit und fordert fehlende Unterlagen ' +
  'innerhalb von zehn Arbeitstagen nach und beteiligt die Gemeinde sowie alle Stellen deren Aufgaben berührt sind';

describe('MinHash near-duplicates', () => {
  it('estimates high similarity for a one-word change and low for unrelated text', () => {
    const near = similarity(signature(TEXT), signature(TEXT.replace('zehn', 'zwölf')));
    const far = similarity(
      signature(TEXT),
      signature('Fire doors must close by themselves in every escape route.'),
    );
    expect(near).toBeGreaterThan(0.75);
    expect(far).toBeLessThan(0.1);
  });

  it('keeps the first of a group and is deterministic', () => {
    const index = new NearDuplicateIndex(0.7);
    expect(index.offer(TEXT)).toBe(-1);
    expect(index.offer('Something else entirely, about parking spaces for bicycles.')).toBe(-1);
    expect(index.offer(TEXT.replace('Gemeinde', 'Stadt'))).toBe(0);
    expect(signature(TEXT)).toEqual(signature(TEXT));
  });
});

describe('split per document', () => {
  it('puts every document in exactly one split, the same way for the same seed', () => {
    const ids = Array.from({ length: 100 }, (_, i) => `doc-${i}`);
    const a = splitDocuments(ids, 0.2, 1);
    expect([...a.values()].filter((s) => s === 'validation')).toHaveLength(20);
    expect(splitDocuments([...ids].reverse(), 0.2, 1)).toEqual(a);
    expect(splitDocuments(ids, 0.2, 2)).not.toEqual(a);
    expect([...splitDocuments(['one'], 0.5, 1).values()]).toEqual(['train']);
    expect([...splitDocuments(['a', 'b'], 0.01, 1).values()].sort()).toEqual([
      'train',
      'validation',
    ]);
    expect(splitOfKey('x', 0, 1)).toBe('train');
  });
});

describe('records', () => {
  it('canonicalises key order and fills alpaca input', () => {
    expect(canonicalJson('alpaca', { output: 'o', instruction: 'i' } as never)).toBe(
      '{"instruction":"i","input":"","output":"o"}',
    );
    expect(
      canonicalJson('chat', { messages: [{ content: 'c', role: 'assistant' }] } as never),
    ).toBe('{"messages":[{"role":"assistant","content":"c"}]}');
    expect(withMetadata('{"text":"t"}', '{"tags":["a"]}')).toBe('{"text":"t","tags":["a"]}');
  });

  it('reports every problem of a record with its field', () => {
    const checked = checkRecord('chat', {
      messages: [{ role: 'user', content: '' }, { role: 'bot', content: 1 }, 'x'],
      tags: 'a',
    });
    expect(checked.record).toBeNull();
    expect(checked.problems).toEqual([
      { field: 'messages[0].content', problem: 'is empty' },
      { field: 'messages[1].role', problem: "must be one of system, user, assistant, got 'bot'" },
      { field: 'messages[1].content', problem: 'must be a string, got number' },
      { field: 'messages[2]', problem: 'must be an object, got string' },
      { field: 'tags', problem: 'must be an array of strings' },
    ]);
  });
});

describe('token approximation', () => {
  it('counts max(words, bytes / 4) and buckets by powers of two', () => {
    expect(approxTokens('')).toBe(0);
    expect(approxTokens('a b c d e')).toBe(5);
    expect(approxTokens('x'.repeat(400))).toBe(100);
    expect(approxTokens('Grüße, Welt!')).toBe(4);
    const h = new TokenHistogram();
    for (const n of [1, 40, 40, 5000, 100_000]) h.add(n);
    const json = h.toJson();
    expect(json.buckets[0]).toEqual({ min: 0, max: 32, count: 1 });
    expect(json.buckets[1]).toEqual({ min: 32, max: 64, count: 2 });
    expect(json.buckets.at(-1)).toEqual({ min: 8192, max: null, count: 1 });
    expect(json.max).toBe(100_000);
  });
});

describe('content checksum', () => {
  it('depends on order and split', () => {
    const sum = (rows: [string, string][]) => {
      const c = new ContentChecksum();
      for (const [split, content] of rows) c.add(split as 'train', content);
      return c.digest();
    };
    expect(
      sum([
        ['train', 'a'],
        ['train', 'b'],
      ]),
    ).not.toBe(
      sum([
        ['train', 'b'],
        ['train', 'a'],
      ]),
    );
    expect(sum([['train', 'a']])).not.toBe(sum([['validation', 'a']]));
  });
});
