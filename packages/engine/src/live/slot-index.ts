/**
 * Profile id → slot, in two typed arrays (open addressing, linear probing): 12 bytes a bucket
 * at most three quarters full, where a Map of numbers holds ~37 bytes an entry. Deletion
 * shifts the entries after it back (no tombstones), so lookups never slow down with churn.
 * Ids are the store's (finite numbers); the order of entries is not kept (callers scan slots).
 */
export class SlotIndex {
  private keys = new Float64Array(16).fill(NaN);
  private slots = new Int32Array(16);
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: number): number | undefined {
    const mask = this.keys.length - 1;
    for (let i = hash(id) & mask; ; i = (i + 1) & mask) {
      const k = this.keys[i]!;
      if (k === id) return this.slots[i]!;
      if (k !== k) return undefined;
    }
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  set(id: number, slot: number): void {
    if ((this.count + 1) * 4 > this.keys.length * 3) this.rehash(this.keys.length * 2);
    const mask = this.keys.length - 1;
    let i = hash(id) & mask;
    for (; ; i = (i + 1) & mask) {
      const k = this.keys[i]!;
      if (k === id) { this.slots[i] = slot; return; }
      if (k !== k) break;
    }
    this.keys[i] = id;
    this.slots[i] = slot;
    this.count++;
  }

  delete(id: number): boolean {
    const keys = this.keys, mask = keys.length - 1;
    let i = hash(id) & mask;
    for (; ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === id) break;
      if (k !== k) return false;
    }
    // Backward shift: an entry after the hole moves into it unless its home lies cyclically in (hole, entry].
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const k = keys[j]!;
      if (k !== k) break;
      const home = hash(k) & mask;
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        keys[i] = k;
        this.slots[i] = this.slots[j]!;
        i = j;
      }
    }
    keys[i] = NaN;
    this.count--;
    return true;
  }

  private rehash(buckets: number): void {
    const keys = this.keys, slots = this.slots;
    this.keys = new Float64Array(buckets).fill(NaN);
    this.slots = new Int32Array(buckets);
    this.count = 0;
    for (let i = 0; i < keys.length; i++) if (keys[i] === keys[i]) this.set(keys[i]!, slots[i]!);
  }

  get bytes(): number {
    return this.keys.byteLength + this.slots.byteLength;
  }
}

/** Mixes an id's low and high 32 bits (ids are integers in practice; any finite number hashes). */
function hash(id: number): number {
  const lo = id | 0, hi = (id / 4294967296) | 0;
  const h = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1);
  return (h ^ (h >>> 15)) >>> 0;
}
