const ENGLISH =
  'a an and are as at be been by for from has have in is it its of on or that the this to was were ' +
  'will with which who what when where how not no can may must shall should do does than then ' +
  'these those their there also any all each such into under over per our your his her they them';
const GERMAN =
  'der die das den dem des ein eine einer eines einem einen und oder ist sind war wird werden wurde ' +
  'im in am an auf aus bei mit nach von vom zu zum zur für über unter durch als auch nicht kein keine ' +
  'sich es er sie wir ihr dass daß wie wenn so nur noch bereits hat haben kann können muss müssen ' +
  'soll sollen darf dürfen welche welcher welches dieser diese dieses jede jeder jedes sowie bzw';

export const STOPWORDS_EN: ReadonlySet<string> = new Set(ENGLISH.split(' '));
export const STOPWORDS_DE: ReadonlySet<string> = new Set(GERMAN.split(' '));
/** Common German and English words that carry no topic; dropped from queries and features. */
export const STOPWORDS: ReadonlySet<string> = new Set([...STOPWORDS_EN, ...STOPWORDS_DE]);

/** Lower-cased word tokens (letters and digits), umlauts kept. */
export function tokenize(text: string): string[] {
  return (
    text
      .normalize('NFKC')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

/** Query terms: tokens without stopwords, deduplicated, in order. */
export function queryTerms(text: string, max = 32): string[] {
  const seen = new Set<string>();
  for (const token of tokenize(text)) {
    if (STOPWORDS.has(token) || seen.has(token)) continue;
    seen.add(token);
    if (seen.size >= max) break;
  }
  return [...seen];
}

/** 32-bit FNV-1a over UTF-16 code units: fast, deterministic, no dependencies. */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let hash = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}
