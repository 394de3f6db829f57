import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  chiSquareSf, compareProportions, conversionRate, lnGamma, normalCdf, normalTwoSidedP, regularizedGammaP, regularizedGammaQ,
  sampleRatioMismatch, Z_95,
} from './stats.ts';

/**
 * Reference values are computed independently of the code under test: by hand from the
 * textbook formulas (shown beside each), from printed statistical tables (normal and
 * chi-square critical values), from closed forms of special cases, and — where more digits
 * are needed than a table has — from SciPy 1.17 (`scipy.stats.norm.sf`, `scipy.stats.chi2.sf`).
 */
describe('distribution functions', () => {
  it('gives the normal CDF of the printed table', () => {
    expect(normalCdf(0)).toBe(0.5);
    // Standard normal table: Φ(1) = 0.8413, Φ(1.645) = 0.9500, Φ(1.96) = 0.9750, Φ(2.576) = 0.9950, Φ(3) = 0.99865.
    expect(normalCdf(1)).toBeCloseTo(0.841344746, 9);
    expect(normalCdf(-1)).toBeCloseTo(0.158655254, 9);
    expect(normalCdf(1.644854)).toBeCloseTo(0.95, 7);
    expect(normalCdf(Z_95)).toBeCloseTo(0.975, 12);
    expect(normalCdf(1.96)).toBeCloseTo(0.9750021048517795, 13);
    expect(normalCdf(2.576)).toBeCloseTo(0.995002467684265, 12);
    expect(normalCdf(3)).toBeCloseTo(0.998650101968370, 12);
    expect(normalCdf(-40)).toBe(0);
    expect(normalCdf(40)).toBe(1);
  });

  it('gives the two-sided p-values of known z (1.96 → 0.05, 2.576 → 0.01, 3.291 → 0.001)', () => {
    expect(normalTwoSidedP(1.96)).toBeCloseTo(0.05, 4);
    expect(normalTwoSidedP(-1.96)).toBeCloseTo(0.04999579029644087, 13);
    expect(normalTwoSidedP(2.576)).toBeCloseTo(0.01, 4);
    expect(normalTwoSidedP(3.291)).toBeCloseTo(0.001, 5);
    expect(normalTwoSidedP(0)).toBe(1);
    // Deep in the tail, relative accuracy holds: 2Φ(−6) = 1.973175290075e-9 (SciPy).
    expect(normalTwoSidedP(6) / 1.973175290075e-9).toBeCloseTo(1, 9);
  });

  it('gives the chi-square critical values of the printed table', () => {
    // χ²(1) 3.841 → 0.05, 6.635 → 0.01, 10.828 → 0.001; χ²(2) 5.991 → 0.05, 13.816 → 0.001; χ²(3) 16.266; χ²(4) 18.467 → 0.001.
    expect(chiSquareSf(3.841, 1)).toBeCloseTo(0.05, 4);
    expect(chiSquareSf(6.635, 1)).toBeCloseTo(0.01, 5);
    expect(chiSquareSf(10.828, 1)).toBeCloseTo(0.001, 6);
    expect(chiSquareSf(5.991, 2)).toBeCloseTo(0.05, 4);
    expect(chiSquareSf(13.816, 2)).toBeCloseTo(0.001, 6);
    expect(chiSquareSf(16.266, 3)).toBeCloseTo(0.001, 6);
    expect(chiSquareSf(18.467, 4)).toBeCloseTo(0.001, 6);
    expect(chiSquareSf(0, 3)).toBe(1);
  });

  it('agrees with the closed forms of the special cases', () => {
    for (const x of [0.01, 0.5, 1, 2.7, 9, 13.816, 40, 120]) {
      // χ² with 2 degrees of freedom is exponential: P(χ²₂ ≥ x) = e^(−x/2).
      expect(chiSquareSf(x, 2) / Math.exp(-x / 2)).toBeCloseTo(1, 12);
      // χ² with 4: e^(−x/2)(1 + x/2).
      expect(chiSquareSf(x, 4) / (Math.exp(-x / 2) * (1 + x / 2))).toBeCloseTo(1, 12);
      // χ² with 1 is Z²: P(χ²₁ ≥ x) = P(|Z| ≥ √x).
      expect(chiSquareSf(x, 1)).toBeCloseTo(2 * normalCdf(-Math.sqrt(x)), 14);
    }
    // Γ(n) = (n − 1)!, Γ(1/2) = √π.
    expect(lnGamma(5)).toBeCloseTo(Math.log(24), 13);
    expect(lnGamma(11)).toBeCloseTo(Math.log(3628800), 12);
    expect(lnGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 14);
    expect(lnGamma(1)).toBeCloseTo(0, 14);
    // Q(1, x) = e^(−x) and P + Q = 1 on both sides of the series/continued-fraction switch.
    for (const [a, x] of [[1, 0.3], [1, 7], [3.5, 2], [3.5, 9], [20, 19], [20, 25]] as const) {
      expect(regularizedGammaP(a, x) + regularizedGammaQ(a, x)).toBeCloseTo(1, 13);
    }
    expect(regularizedGammaQ(1, 7)).toBeCloseTo(Math.exp(-7), 15);
  });

  it('keeps the tails monotone and within [0, 1]', () => {
    fc.assert(fc.property(fc.double({ min: -50, max: 50, noNaN: true }), fc.double({ min: -50, max: 50, noNaN: true }), (a, b) => {
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      const [pl, ph] = [normalCdf(lo), normalCdf(hi)];
      return pl >= 0 && ph <= 1 && pl <= ph && normalTwoSidedP(a) >= 0 && normalTwoSidedP(a) <= 1;
    }));
    fc.assert(fc.property(fc.double({ min: 0, max: 500, noNaN: true }), fc.integer({ min: 1, max: 60 }), (x, df) => {
      const p = chiSquareSf(x, df);
      return p >= 0 && p <= 1 && chiSquareSf(x + 1, df) <= p + 1e-15;
    }));
  });
});

describe('compareProportions', () => {
  it('reproduces the textbook two-proportion z-test: 200/1000 against 250/1000', () => {
    // By hand: p_c = 0.2, p_t = 0.25, pooled p = 450/2000 = 0.225,
    // SE_pooled = √(0.225 × 0.775 × (1/1000 + 1/1000)) = √0.00034875 = 0.0186748,
    // z = 0.05 / 0.0186748 = 2.6774, two-sided p = 2Φ(−2.6774) = 0.00742 (table: Φ(2.68) = 0.99632).
    // SE_unpooled = √(0.25 × 0.75 / 1000 + 0.2 × 0.8 / 1000) = √0.0003475 = 0.0186414,
    // 95% CI = 0.05 ± 1.96 × 0.0186414 = [0.01346, 0.08654].
    const r = compareProportions({ users: 1000, conversions: 200 }, { users: 1000, conversions: 250 })!;
    expect(r.absoluteLift).toBeCloseTo(0.05, 12);
    expect(r.relativeLift).toBeCloseTo(0.25, 12);
    expect(r.z).toBeCloseTo(2.6773977630083294, 10);
    expect(r.pValue).toBeCloseTo(0.007419649261025672, 10);
    expect(r.standardError).toBeCloseTo(0.01864135188230725, 12);
    expect(r.ci95.lower).toBeCloseTo(0.013463621687539853, 10);
    expect(r.ci95.upper).toBeCloseTo(0.08653637831246015, 10);
    expect(conversionRate({ users: 1000, conversions: 250 })).toBe(0.25);
  });

  it('handles unequal arms: 45/500 against 60/480', () => {
    // p_c = 0.09, p_t = 0.125, pooled = 105/980; z = 0.035 / √(p(1 − p)(1/500 + 1/480)) = 1.77088, p = 0.07658.
    const r = compareProportions({ users: 500, conversions: 45 }, { users: 480, conversions: 60 })!;
    expect(r.absoluteLift).toBeCloseTo(0.035, 12);
    expect(r.relativeLift).toBeCloseTo(0.035 / 0.09, 12);
    expect(r.z).toBeCloseTo(1.7708754896942929, 10);
    expect(r.pValue).toBeCloseTo(0.07658140903566986, 10);
    expect(r.ci95.lower).toBeCloseTo(-0.003788701555985638, 10);
    expect(r.ci95.upper).toBeCloseTo(0.07378870155598564, 10);
  });

  it('is symmetric: swapping the arms negates the lift and keeps the p-value', () => {
    const a = compareProportions({ users: 812, conversions: 97 }, { users: 790, conversions: 131 })!;
    const b = compareProportions({ users: 790, conversions: 131 }, { users: 812, conversions: 97 })!;
    expect(b.absoluteLift).toBeCloseTo(-a.absoluteLift, 15);
    expect(b.z).toBeCloseTo(-a.z!, 12);
    expect(b.pValue).toBeCloseTo(a.pValue, 14);
  });

  it('says what it cannot compute instead of dividing by zero', () => {
    expect(compareProportions({ users: 0, conversions: 0 }, { users: 10, conversions: 1 })).toBeNull();
    const zero = compareProportions({ users: 10, conversions: 0 }, { users: 10, conversions: 0 })!;
    expect(zero).toMatchObject({ absoluteLift: 0, relativeLift: null, z: null, pValue: 1 });
    const fromZero = compareProportions({ users: 10, conversions: 0 }, { users: 10, conversions: 3 })!;
    expect(fromZero.relativeLift).toBeNull();
    expect(fromZero.z).toBeGreaterThan(0);
    expect(() => compareProportions({ users: 5, conversions: 6 }, { users: 5, conversions: 1 })).toThrow(RangeError);
  });

  it('always gives a p-value in [0, 1] and an interval around the difference', () => {
    const arm = fc.integer({ min: 1, max: 1_000_000 }).chain((users) => fc.record({ users: fc.constant(users), conversions: fc.integer({ min: 0, max: users }) }));
    fc.assert(fc.property(arm, arm, (c, t) => {
      const r = compareProportions(c, t)!;
      const diff = t.conversions / t.users - c.conversions / c.users;
      return r.pValue >= 0 && r.pValue <= 1 && r.ci95.lower <= diff && diff <= r.ci95.upper && Math.abs(r.absoluteLift - diff) < 1e-15;
    }), { numRuns: 2000 });
  });
});

describe('sampleRatioMismatch', () => {
  it('computes Pearson chi-square against the expected shares', () => {
    // 5200 / 4800 for 50/50: expected 5000 each, χ² = 2 × 200² / 5000 = 16, df 1, p = 6.3342e-5 → mismatch.
    const a = sampleRatioMismatch([5200, 4800], [1, 1]);
    expect(a.chiSquare).toBeCloseTo(16, 12);
    expect(a.df).toBe(1);
    expect(a.pValue).toBeCloseTo(6.334248366623988e-5, 15);
    expect(a.mismatch).toBe(true);
    // 1040 / 960 / 1000 for thirds: χ² = (40² + 40² + 0) / 1000 = 3.2, df 2, p = e^(−1.6) = 0.2019 → fine.
    const b = sampleRatioMismatch([1040, 960, 1000], [1, 1, 1]);
    expect(b.chiSquare).toBeCloseTo(3.2, 12);
    expect(b.pValue).toBeCloseTo(Math.exp(-1.6), 14);
    expect(b.mismatch).toBe(false);
    // Unequal weights: 20/80 with 260 / 740 of 1000: expected 200 / 800, χ² = 60²/200 + 60²/800 = 22.5.
    const c = sampleRatioMismatch([260, 740], [20, 80]);
    expect(c.expected).toEqual([200, 800]);
    expect(c.chiSquare).toBeCloseTo(22.5, 12);
    expect(c.mismatch).toBe(true);
  });

  it('warns exactly below p = 0.001: χ²(1) critical value 10.828', () => {
    // n = 10000 at 50/50 with a deviation d per arm: χ² = 2d²/5000 = d²/2500; d = 164 → 10.758 (p > 0.001), d = 165 → 10.89.
    expect(sampleRatioMismatch([5164, 4836], [1, 1]).mismatch).toBe(false);
    expect(sampleRatioMismatch([5165, 4835], [1, 1]).mismatch).toBe(true);
  });

  it('has nothing to say without users', () => {
    expect(sampleRatioMismatch([0, 0], [1, 1])).toMatchObject({ pValue: null, mismatch: false });
  });
});
