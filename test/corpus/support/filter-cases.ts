import { type Metadata, type MetadataFilter, parseFilter } from '@clara/corpus';

/** 24 items whose metadata mixes kinds, numbers, dates, booleans, a wrong-typed value and gaps. */
export const FILTER_ITEMS: { id: string; metadata: Metadata }[] = Array.from(
  { length: 24 },
  (_, i) => {
    const metadata: Metadata = {
      kind: ['a', 'b', 'c'][i % 3],
      year: 2013 + (i % 11),
      date: `20${String(15 + (i % 9)).padStart(2, '0')}-${String((i % 12) + 1).padStart(2, '0')}-15`,
      flag: i % 4 === 0,
    };
    if (i === 5) metadata.year = '2020'; // a string: never equal to, or in a range of, numbers
    if (i === 7) delete metadata.kind;
    if (i === 9) metadata.date = 'soon'; // not a date: never in a date range
    return { id: `item-${String(i).padStart(2, '0')}`, metadata };
  },
);

/** Wire-form filters that every store must apply exactly like `matchesFilter`. */
export const FILTER_CASES: Record<string, unknown>[] = [
  { kind: 'a' },
  { year: 2020 },
  { flag: true },
  { flag: false, kind: 'b' },
  { kind: { in: ['a', 'c'] } },
  { year: { in: [2016, 2023] } },
  { year: { gte: 2016, lt: 2020 } },
  { year: { gt: 2021 } },
  { date: { gte: '2019-06-01' } },
  { date: { gte: '2016-01-01', lte: '2018-12-31' } },
  { kind: 'b', year: { lte: 2019 } },
  { missing: 'x' },
];

export function filterOf(wire: Record<string, unknown>): MetadataFilter {
  return parseFilter(wire);
}
