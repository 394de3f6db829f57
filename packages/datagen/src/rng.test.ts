import { describe, it, expect } from 'vitest';
import { WeightedTable, createRng, toIso, userRng } from './index.ts';

describe('createRng', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const seq = (seed: number) => {
      const r = createRng(seed);
      return Array.from({ length: 20 }, () => r.next());
    };
    expect(seq(1)).toEqual(seq(1));
    expect(seq(1)).not.toEqual(seq(2));
    expect(seq(-5)).not.toEqual(seq(5));
    expect(seq(2 ** 40)).not.toEqual(seq(0));
    expect(userRng(1, 0).next()).not.toBe(userRng(1, 1).next());
  });

  it('draws uniform floats in [0, 1)', () => {
    const r = createRng(42);
    let sum = 0;
    const buckets = new Array(10).fill(0);
    const n = 200_000;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const x = r.next();
      if (!(x >= 0 && x < 1)) outside++;
      sum += x;
      buckets[Math.floor(x * 10)]++;
    }
    expect(outside).toBe(0);
    expect(sum / n).toBeCloseTo(0.5, 2);
    for (const b of buckets) expect(Math.abs(b / n - 0.1)).toBeLessThan(0.005);
  });

  it('int is inclusive on both ends; pick, bool and weighted follow their weights', () => {
    const r = createRng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      const v = r.int(-2, 3);
      expect(Number.isInteger(v) && v >= -2 && v <= 3).toBe(true);
      seen.add(v);
    }
    expect(seen.size).toBe(6);
    const arr = ['a', 'b', 'c'] as const;
    const picks = new Set(Array.from({ length: 1000 }, () => r.pick(arr)));
    expect(picks.size).toBe(3);
    let t = 0;
    for (let i = 0; i < 100_000; i++) if (r.bool(0.3)) t++;
    expect(Math.abs(t / 100_000 - 0.3)).toBeLessThan(0.01);
    const items = [['x', 1], ['y', 3], ['z', 0]] as const;
    const table = new WeightedTable(items);
    const c = { x: 0, y: 0, z: 0 };
    const d = { x: 0, y: 0, z: 0 };
    for (let i = 0; i < 100_000; i++) {
      c[r.weighted(items)]++;
      d[table.sample(r)]++;
    }
    expect(c.z).toBe(0);
    expect(d.z).toBe(0);
    expect(Math.abs(c.y / 100_000 - 0.75)).toBeLessThan(0.01);
    expect(Math.abs(d.y / 100_000 - 0.75)).toBeLessThan(0.01);
  });
});

describe('toIso', () => {
  it('matches Date#toISOString', () => {
    const r = createRng(3);
    for (let i = 0; i < 50_000; i++) {
      const ms = Math.floor((r.next() * 2 - 0.5) * 4e12);
      expect(toIso(ms)).toBe(new Date(ms).toISOString());
    }
    expect(toIso(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(toIso(Date.UTC(2024, 1, 29, 23, 59, 59, 999))).toBe('2024-02-29T23:59:59.999Z');
  });
});
