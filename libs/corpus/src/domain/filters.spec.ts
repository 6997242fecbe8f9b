import { describe, expect, it } from '@jest/globals';

import { matchesFilter, parseFilter } from './filters.js';

describe('parseFilter', () => {
  it('reads equality, set membership and number or date ranges', () => {
    expect(
      parseFilter({
        a: 'x',
        b: { eq: 2 },
        c: { in: ['p', 1, true] },
        d: { gte: 1, lt: 5 },
        e: { gt: '2020-01-01' },
      }),
    ).toEqual([
      { key: 'a', kind: 'eq', value: 'x' },
      { key: 'b', kind: 'eq', value: 2 },
      { key: 'c', kind: 'in', values: ['p', 1, true] },
      { key: 'd', kind: 'range', type: 'number', bounds: { gte: 1, lt: 5 } },
      { key: 'e', kind: 'range', type: 'date', bounds: { gt: '2020-01-01' } },
    ]);
    expect(parseFilter(undefined)).toEqual([]);
  });

  it('names every bad condition', () => {
    try {
      parseFilter({
        'bad key': 1,
        a: { in: [] },
        b: { gte: 1, lt: '2020-01-01' },
        c: { like: 'x' },
        d: [1],
        e: null,
      });
      throw new Error('expected a validation error');
    } catch (error) {
      const fields = (
        error as { extensions: { errors: { field: string }[] } }
      ).extensions.errors.map((e) => e.field);
      expect(fields).toEqual([
        'filters.bad key',
        'filters.a',
        'filters.b',
        'filters.c',
        'filters.d',
        'filters.e',
      ]);
    }
  });
});

describe('matchesFilter', () => {
  it('compares with types: numbers never equal strings, ranges need the right type', () => {
    const m = { year: 2020, label: '2020', date: '2021-05-01', flag: false };
    expect(matchesFilter(m, parseFilter({ year: 2020 }))).toBe(true);
    expect(matchesFilter(m, parseFilter({ label: 2020 }))).toBe(false);
    expect(matchesFilter(m, parseFilter({ label: { gte: 2000 } }))).toBe(false);
    expect(matchesFilter(m, parseFilter({ date: { gte: '2021-01-01', lt: '2022-01-01' } }))).toBe(
      true,
    );
    expect(matchesFilter(m, parseFilter({ flag: false, missing: { in: ['x'] } }))).toBe(false);
  });
});
