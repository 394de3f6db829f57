/**
 * Deterministic pseudo-random numbers: sfc32 (Chris Doty-Humphrey's Small Fast Counting
 * generator, 128-bit state, passes PractRand) seeded through a 32-bit avalanche mix.
 *
 * Nothing here touches Math.random() or the clock: the same seed always yields the same
 * stream, on every platform.
 */

/** The random source every generator in this package draws from. */
export interface Random {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform 32-bit unsigned integer. */
  u32(): number;
  /** Uniform integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number;
  /** A uniformly chosen element (undefined only for an empty array). */
  pick<T>(arr: readonly T[]): T;
  /** An item chosen with probability proportional to its weight (weights ≥ 0, not all 0). */
  weighted<T>(items: readonly (readonly [T, number])[]): T;
  /** true with probability p. */
  bool(p: number): boolean;
}

/** 32-bit avalanche mix (the finaliser of splitmix32 / murmur3 family). */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

const GOLDEN = 0x9e3779b9;
const TWO_32 = 4294967296;

/** Splits any finite number into two 32-bit words (integer part, two's complement style). */
function seedWords(seed: number): [number, number] {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const s = Math.floor(seed);
  return [s >>> 0, Math.floor(s / TWO_32) >>> 0];
}

export class Rng implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Seeds from up to three 32-bit words (e.g. dataset seed low/high and a user index). */
  constructor(w0: number, w1 = 0, w2 = 0) {
    let h = mix32((w0 ^ GOLDEN) >>> 0);
    h = mix32((h ^ w1 ^ 0x85ebca6b) >>> 0);
    h = mix32((h ^ w2 ^ 0xc2b2ae35) >>> 0);
    this.a = mix32((h + GOLDEN) >>> 0);
    this.b = mix32((h + 2 * GOLDEN) >>> 0);
    this.c = mix32((h + 3 * GOLDEN) >>> 0);
    this.d = 1; // sfc32's counter; with it the state can never be all zero
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const a = this.a;
    const b = this.b;
    const c = this.c;
    const d = this.d;
    const t = (((a + b) | 0) + d) | 0;
    this.d = (d + 1) | 0;
    this.a = b ^ (b >>> 9);
    this.b = (c + (c << 3)) | 0;
    const cr = (c << 21) | (c >>> 11);
    this.c = (cr + t) | 0;
    return t >>> 0;
  }

  next(): number {
    return this.u32() / TWO_32;
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(arr: readonly T[]): T {
    return arr[Math.floor(this.next() * arr.length)] as T;
  }

  weighted<T>(items: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (let i = 0; i < items.length; i++) total += items[i][1];
    let r = this.next() * total;
    for (let i = 0; i < items.length; i++) {
      r -= items[i][1];
      if (r < 0) return items[i][0];
    }
    return items[items.length - 1][0];
  }

  bool(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal deviate (Box–Muller, one of the pair). */
  normal(): number {
    const u = 1 - this.next(); // (0, 1]
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Exponential deviate with mean 1. */
  exp(): number {
    return -Math.log(1 - this.next());
  }
}

/** A seeded PRNG (sfc32). Same seed, same sequence. */
export function createRng(seed: number): Rng {
  const [lo, hi] = seedWords(seed);
  return new Rng(lo, hi, 0x5eed);
}

/** The independent stream of one user of a dataset (random access by index). */
export function userRng(seed: number, index: number): Rng {
  const [lo, hi] = seedWords(seed);
  return new Rng(lo ^ mix32(index >>> 0), hi ^ mix32(Math.floor(index / TWO_32) ^ 0x1234567), index >>> 0);
}

/**
 * Weighted choice with the cumulative table built once (the hot-path version of
 * `Random.weighted`).
 */
export class WeightedTable<T> {
  readonly values: readonly T[];
  private readonly cumulative: Float64Array;
  private readonly total: number;

  constructor(items: readonly (readonly [T, number])[]) {
    if (items.length === 0) throw new RangeError('WeightedTable needs at least one item');
    this.values = items.map((i) => i[0]);
    this.cumulative = new Float64Array(items.length);
    let total = 0;
    for (let i = 0; i < items.length; i++) {
      const w = items[i][1];
      if (!(w >= 0)) throw new RangeError(`negative or NaN weight for item ${i}`);
      total += w;
      this.cumulative[i] = total;
    }
    if (total <= 0) throw new RangeError('WeightedTable needs a positive total weight');
    this.total = total;
  }

  sample(rng: Random): T {
    const r = rng.next() * this.total;
    const cum = this.cumulative;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid] > r) hi = mid;
      else lo = mid + 1;
    }
    return this.values[lo];
  }
}

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, '0'));

/** Eight lowercase hex digits of a 32-bit word. */
export function hex8(x: number): string {
  return HEX[(x >>> 24) & 255] + HEX[(x >>> 16) & 255] + HEX[(x >>> 8) & 255] + HEX[x & 255];
}

/** An RFC 4122 version-4-shaped UUID drawn from the stream (deterministic). */
export function uuid(rng: Random): string {
  const a = rng.u32();
  const b = rng.u32();
  const c = rng.u32();
  const d = rng.u32();
  return (
    hex8(a) +
    '-' +
    HEX[(b >>> 24) & 255] +
    HEX[(b >>> 16) & 255] +
    '-4' +
    HEX[(b >>> 8) & 15].charAt(1) +
    HEX[b & 255] +
    '-' +
    HEX[0x80 | ((c >>> 24) & 0x3f)] +
    HEX[(c >>> 16) & 255] +
    '-' +
    HEX[(c >>> 8) & 255] +
    HEX[c & 255] +
    hex8(d)
  );
}
