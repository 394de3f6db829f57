import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addLateTimes, insertTime, VisitTimes, visitStartsIn } from './visit-store.ts';

const TIMEOUT = 30;

/** Visit starts derived from scratch: each time more than the timeout after the one before it. */
function starts(times: readonly number[]): number[] {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted.filter((t, i) => i === 0 || t - sorted[i - 1]! > TIMEOUT);
}

// Times on a grid that lands on and around the timeout, in clusters far apart.
const arbTime = fc.tuple(fc.integer({ min: 0, max: 12 }).map((k) => k * 15), fc.constantFrom(0, 29, 30, 31, 61), fc.constantFrom(0, 0, 1000, 5000))
  .map(([a, b, far]) => a + b + far);

describe('visits decided from own event times in memory', () => {
  it('property: the starts removed and added by late times turn the starts before into the starts derived from scratch after', () => {
    fc.assert(fc.property(fc.array(arbTime, { maxLength: 30 }), fc.array(arbTime, { minLength: 1, maxLength: 8 }), (stored, late) => {
      const times = [...stored].sort((a, b) => a - b);
      const { removed, added } = addLateTimes(times, late, TIMEOUT);
      expect(times).toEqual([...stored, ...late].sort((a, b) => a - b));
      const told = new Set(starts(stored));
      for (const s of removed) expect(told.delete(s), `removed ${s} was a start`).toBe(true);
      for (const s of added) {
        expect(told.has(s), `added ${s} was not a start`).toBe(false);
        // A visit is added only at the instant of a late time that had no event before.
        expect(late).toContain(s);
        expect(stored).not.toContain(s);
        told.add(s);
      }
      expect([...told].sort((a, b) => a - b)).toEqual(starts([...stored, ...late]));
    }), { numRuns: 2000 });
  });

  it('a late time inside a visit changes nothing; one between two visits within the timeout of both joins them', () => {
    const times = [0, 20, 40, 100, 160];
    expect(addLateTimes(times, [10], TIMEOUT)).toEqual({ removed: [], added: [] });
    expect(addLateTimes(times, [130], TIMEOUT)).toEqual({ removed: [160], added: [] });
    expect(addLateTimes(times, [70], TIMEOUT)).toEqual({ removed: [100], added: [] });
    expect(addLateTimes(times, [-31], TIMEOUT)).toEqual({ removed: [], added: [-31] });
    expect(addLateTimes(times, [-30], TIMEOUT)).toEqual({ removed: [0], added: [] });
    expect(times).toEqual([-31, -30, 0, 10, 20, 40, 70, 100, 130, 160]);
    expect(visitStartsIn(times, -100, 1000, TIMEOUT)).toEqual([-31]);
  });

  it('insertTime keeps the times sorted, a time equal to stored ones after them', () => {
    const times: number[] = [];
    for (const t of [5, 1, 9, 5, 0, 9]) insertTime(times, t);
    expect(times).toEqual([0, 1, 5, 5, 9, 9]);
  });

  it('drops the least recently used entries first, whatever project they are in', () => {
    const kept = new VisitTimes(10, 100);
    kept.put('a', 1, [1, 2, 3]);
    kept.put('a', 2, [1, 2, 3]);
    kept.put('b', 1, [1, 2, 3]);
    kept.put('b', 2, [1, 2, 3]);
    kept.get('a', 1);
    kept.get('a', 2);
    kept.trim(); // 12 > 10: one unused entry of 3 goes, project b's first
    expect(kept.get('a', 1)).toBeDefined();
    expect(kept.get('a', 2)).toBeDefined();
    expect(kept.get('b', 1)).toBeUndefined();
    expect(kept.get('b', 2)).toBeDefined();
  });

  it('the kept times are bounded: least recently used dropped first, a profile past its limit not kept and marked', () => {
    const kept = new VisitTimes(10, 4);
    kept.put('p', 1, [1, 2, 3]);
    kept.put('p', 2, [1, 2, 3]);
    kept.put('p', 3, [1, 2, 3]);
    kept.get('p', 1);
    kept.put('p', 4, [1, 2]);
    kept.trim();
    // 11 times: profile 2, the least recently used, goes.
    expect([1, 2, 3, 4].map((id) => kept.get('p', id) !== undefined)).toEqual([true, false, true, true]);
    const grown = kept.get('p', 4)!;
    grown.push(3, 4, 5);
    kept.grew('p', 4, 3);
    expect(kept.get('p', 4)).toBeUndefined();
    expect(kept.isLarge('p', 4)).toBe(true);
    kept.put('p', 5, [1, 2, 3, 4, 5]);
    expect(kept.get('p', 5)).toBeUndefined();
    expect(kept.isLarge('p', 5)).toBe(true);
    kept.forget('p', 5);
    expect(kept.isLarge('p', 5)).toBe(false);
    expect(kept.get('q', 1)).toBeUndefined();
  });
});
