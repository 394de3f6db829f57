/**
 * A min-heap of (instant, profile id): when each profile must be looked at again because
 * time alone may change one of its memberships. Entries are never removed in place; a
 * profile's current instant is kept by the caller, and stale entries are skipped on pop.
 */
export class WakeHeap {
  private readonly at: number[] = [];
  private readonly ids: number[] = [];

  get size(): number {
    return this.at.length;
  }

  push(at: number, id: number): void {
    const a = this.at, ids = this.ids;
    let i = a.length;
    a.push(at);
    ids.push(id);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent]! <= at) break;
      a[i] = a[parent]!;
      ids[i] = ids[parent]!;
      i = parent;
    }
    a[i] = at;
    ids[i] = id;
  }

  /** The earliest instant, or Infinity when empty. */
  peek(): number {
    return this.at.length ? this.at[0]! : Infinity;
  }

  /** Removes and returns the earliest entry. */
  pop(): [number, number] | undefined {
    const a = this.at, ids = this.ids;
    if (a.length === 0) return undefined;
    const top: [number, number] = [a[0]!, ids[0]!];
    const lastAt = a.pop()!, lastId = ids.pop()!;
    const n = a.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i, mAt = lastAt;
        if (l < n && a[l]! < mAt) { m = l; mAt = a[l]!; }
        if (r < n && a[r]! < mAt) { m = r; mAt = a[r]!; }
        if (m === i) break;
        a[i] = a[m]!;
        ids[i] = ids[m]!;
        i = m;
      }
      a[i] = lastAt;
      ids[i] = lastId;
    }
    return top;
  }

  clear(): void {
    this.at.length = 0;
    this.ids.length = 0;
  }
}
