import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunks } from './util.ts';

describe('chunks', () => {
  it('keeps every element once, in order, in chunks of n then descending powers of two', () => {
    fc.assert(fc.property(fc.array(fc.integer(), { maxLength: 1_300 }), fc.constantFrom(200, 250, 500), (xs, n) => {
      const out = chunks(xs, n);
      expect(out.flat()).toEqual(xs);
      const sizes = out.map((c) => c.length);
      const full = sizes.filter((s) => s === n).length;
      expect(full).toBe(Math.floor(xs.length / n));
      const rest = sizes.slice(full);
      for (const s of rest) expect(Number.isInteger(Math.log2(s))).toBe(true);
      for (let i = 1; i < rest.length; i++) expect(rest[i]).toBeLessThan(rest[i - 1]!);
    }));
  });

  it('gives a rest of 130 as 128 and 2, so a statement text per power of two is reused', () => {
    expect(chunks([...Array(630).keys()], 500).map((c) => c.length)).toEqual([500, 128, 2]);
    expect(chunks([], 500)).toEqual([]);
  });
});
