/**
 * Distinct values and their codes, for dictionary-encoded columns (`columns.ts`,
 * `event-columns.ts`): an operator then runs once per distinct value. Scalars are told apart as a
 * Map tells keys apart; objects and arrays by their JSON — except where JSON cannot tell them
 * apart (`[Infinity]`, `[NaN]` and `[null]` all read `[null]`; `[-0]` reads `[0]`): such a value
 * gets a code of its own, never shared.
 */
export class Dictionary {
  readonly values: unknown[] = [];
  private readonly scalars = new Map<unknown, number>();
  private readonly composites = new Map<string, number>();

  code(v: unknown): number {
    if (typeof v !== 'object' || v === null) {
      let code = this.scalars.get(v);
      if (code === undefined) this.scalars.set(v, (code = this.values.push(v) - 1));
      return code;
    }
    let exact = true;
    const key = JSON.stringify(v, (_k, x: unknown) => {
      if (typeof x === 'number' && (!Number.isFinite(x) || Object.is(x, -0))) exact = false;
      return x;
    });
    if (!exact) return this.values.push(v) - 1;
    let code = this.composites.get(key);
    if (code === undefined) this.composites.set(key, (code = this.values.push(v) - 1));
    return code;
  }
}
