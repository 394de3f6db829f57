import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bucketRanges } from './bucket-ranges.ts';

describe('bucketRanges', () => {
  it('splits 0..10000 by the weights with GrowthBook\'s boundaries', () => {
    expect(bucketRanges([50, 50])).toEqual({ ok: true, value: [{ from: 0, to: 5000 }, { from: 5000, to: 10000 }] });
    expect(bucketRanges([0.3, 0.7])).toEqual({ ok: true, value: [{ from: 0, to: 3000 }, { from: 3000, to: 10000 }] });
    expect(bucketRanges([0.1, 0.2, 0.7])).toEqual({ ok: true, value: [{ from: 0, to: 1000 }, { from: 1000, to: 3000 }, { from: 3000, to: 10000 }] });
    // Thirds: bucket/10000 < 1/3 ⟺ bucket ≤ 3333, so boundaries are ceil(3333.3…) = 3334 and ceil(6666.6…) = 6667.
    expect(bucketRanges([1, 1, 1])).toEqual({ ok: true, value: [{ from: 0, to: 3334 }, { from: 3334, to: 6667 }, { from: 6667, to: 10000 }] });
  });

  it('puts each bucket in the arm GrowthBook would (bucket/10000 in [cumulative start, end))', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 2, maxLength: 6 }), fc.integer({ min: 0, max: 9999 }), (w, b) => {
      const r = bucketRanges(w);
      if (!r.ok) return false;
      const total = w.reduce((a, x) => a + x, 0);
      // Exact rational arithmetic: b/10000 ≥ c/total ⟺ b·total ≥ 10000·c.
      let cum = 0, arm = -1;
      for (const [i, x] of w.entries()) {
        if (b * total >= 10000 * cum && b * total < 10000 * (cum + x)) arm = i;
        cum += x;
      }
      const ours = r.value.findIndex((g) => g.from <= b && b < g.to);
      return ours === arm && r.value[0]!.from === 0 && r.value.at(-1)!.to === 10000;
    }), { numRuns: 3000 });
  });

  it('refuses what cannot be split', () => {
    expect(bucketRanges([1])).toMatchObject({ ok: false, issues: [{ path: '/' }] });
    expect(bucketRanges([1, 0, -2])).toMatchObject({ ok: false, issues: [{ path: '/1/weight' }, { path: '/2/weight' }] });
    expect(bucketRanges([1, Number.NaN])).toMatchObject({ ok: false, issues: [{ path: '/1/weight' }] });
    // 1 in 20001 is below one bucket.
    expect(bucketRanges([20000, 1])).toMatchObject({ ok: false, issues: [{ path: '/1/weight' }] });
  });
});
