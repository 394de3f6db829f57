/**
 * Every profile's membership bits in one typed array: `words` 32-bit words a profile, at its
 * slot (ProfileState.slot), bit i of a row being the project's i-th segment. One array for
 * the project instead of one typed array per profile, whose object headers (~200 bytes)
 * outweighed the 28 bytes of bits they held at 200 segments.
 */
export class MembershipBits {
  data = new Uint32Array(0);
  constructor(public words: number) {}

  has(slot: number, idx: number): boolean {
    return ((this.data[slot * this.words + (idx >>> 5)]! >>> (idx & 31)) & 1) === 1;
  }

  flip(slot: number, idx: number): void {
    this.data[slot * this.words + (idx >>> 5)]! ^= 1 << (idx & 31);
  }

  /** Room for slots 0..slot (a new profile's row, all zero). */
  ensure(slot: number): void {
    if ((slot + 1) * this.words <= this.data.length) return;
    const slots = Math.max(slot + 1, Math.ceil((this.data.length / this.words) * 1.5), 64);
    const data = new Uint32Array(slots * this.words);
    data.set(this.data);
    this.data = data;
  }

  /** Rows for `slots` slots only (those past them dropped). */
  fit(slots: number): void {
    const data = new Uint32Array(slots * this.words);
    data.set(this.data.subarray(0, data.length));
    this.data = data;
  }

  /** A profile's row cleared (it is in no segment). */
  clear(slot: number): void {
    this.data.fill(0, slot * this.words, (slot + 1) * this.words);
  }

  /**
   * Rows of `words` words; with `moved`, bit i goes to position moved[i] (dropped when -1 or
   * beyond), else every bit stays where it is (those past the new width are dropped).
   */
  relayout(words: number, moved: Int32Array | null): void {
    if (words === this.words && moved === null) return;
    const old = this.data, ow = this.words, slots = Math.floor(old.length / ow);
    const data = new Uint32Array(slots * words);
    for (let s = 0; s < slots; s++) {
      if (moved === null) { data.set(old.subarray(s * ow, s * ow + Math.min(ow, words)), s * words); continue; }
      for (let w = 0; w < ow; w++) {
        let x = old[s * ow + w]!;
        while (x !== 0) {
          const i = moved[w * 32 + 31 - Math.clz32(x & -x)] ?? -1;
          x &= x - 1;
          if (i >= 0 && i < words * 32) data[s * words + (i >>> 5)]! |= 1 << (i & 31);
        }
      }
    }
    this.data = data;
    this.words = words;
  }
}
