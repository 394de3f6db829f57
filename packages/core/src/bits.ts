/** A set of profile positions, 32 to a word. */
export type Bitset = Uint32Array;

/** Bits set in one 32-bit word. */
export const popcount32 = (w: number): number => {
  w -= (w >>> 1) & 0x55555555;
  w = (w & 0x33333333) + ((w >>> 2) & 0x33333333);
  return (((w + (w >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
};

/** Bits set in words [from, to) of `b` (all of it by default). */
export const popcount = (b: Bitset, from = 0, to = b.length): number => {
  let n = 0;
  for (let k = from; k < to; k++) n += popcount32(b[k]!);
  return n;
};

export const hasBit = (b: Bitset, i: number): boolean => (b[i >>> 5]! & (1 << (i & 31))) !== 0;
