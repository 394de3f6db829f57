import type { EventNode, EventPath } from './ast.ts';
import type { Bitset } from './bits.ts';
import { DAY_MS } from './duration.ts';
import { compilePredicate } from './evaluate.ts';
import { keptValue, type EventGroup, type EventLists } from './event-lists.ts';
import { toNumber } from './values.ts';

/**
 * Where a leaf reads a path in one list's columns: dictionary codes (`values[codes[row]]`, the
 * value as the path reads it), the row's time, or one value for every row.
 */
type Source =
  | { readonly kind: 'codes'; readonly codes: Int32Array; readonly values: readonly unknown[] }
  | { readonly kind: 'time' }
  | { readonly kind: 'const'; readonly value: unknown };

function sourceOf(g: EventGroup, path: EventPath): Source {
  if (path.kind === 'field') {
    if (path.field === 'timestamp') return { kind: 'time' };
    return g.names ? { kind: 'codes', codes: g.names, values: g.nameDict.values } : { kind: 'const', value: g.name };
  }
  const col = (path.root === 'properties' ? g.props : g.ctx).get(path.keys[0]!);
  if (!col) return { kind: 'const', value: undefined };
  const read = keptValue(path.keys);
  return { kind: 'codes', codes: col.codes, values: col.dict.values.map(read) };
}

const asNumber = (raw: unknown): number => (typeof raw === 'number' ? raw : typeof raw === 'string' ? toNumber(raw) : Number.NaN);

/** The value of a leaf's aggregate over no events (a profile with none in its window). */
function emptyValue(fn: EventNode['agg']['fn']): number | undefined {
  return fn === 'count' || fn === 'distinctDays' || fn === 'sum' ? 0 : undefined;
}

/**
 * A behavioural leaf (`event` node) for many profiles at once, read in place from the live
 * engine's event lists (event-lists.ts): position i is the profile at slot `slots[i]`, and bit
 * i of the result says whether the leaf holds for it at `now`. The semantics are the compiled
 * evaluator's (`compileCondition`, `aggregator`): each profile's run of the leaf's list is
 * sorted by time, so its window is two binary searches and its distinct days the changes of
 * day along the run; each where clause is a lookup table over its column's distinct values
 * (the predicate runs once per value), an aggregated property a table of numbers. Events of
 * the same instant are added in the order the run holds them, as the view evaluator adds them.
 */
export function evaluateListLeaf(node: EventNode, lists: EventLists, slots: Int32Array, now: number): Bitset {
  const n = slots.length;
  const out = new Uint32Array((n + 31) >>> 5);
  const fn = node.agg.fn;
  const cmp = compilePredicate(node.cmp);
  const noneHolds = cmp(emptyValue(fn), now);
  const g = lists.group(node.name);
  if (!g) {
    if (noneHolds) for (let i = 0; i < n; i++) out[i >>> 5]! |= 1 << (i & 31);
    return out;
  }
  // Where clauses: a table per coded column; a clause on the time is tested per row; one that
  // no row of this list can pass (a constant value) leaves every profile with no events.
  const coded: { codes: Int32Array; lut: Uint8Array }[] = [];
  const onTime: ((v: unknown, now: number) => boolean)[] = [];
  let nothing = false;
  for (const w of node.where) {
    const test = compilePredicate(w.predicate);
    const src = sourceOf(g, w.path);
    if (src.kind === 'time') onTime.push(test);
    else if (src.kind === 'const') { if (!test(src.value, now)) nothing = true; }
    else {
      const lut = new Uint8Array(src.values.length);
      for (let k = 0; k < lut.length; k++) lut[k] = test(src.values[k], now) ? 1 : 0;
      coded.push({ codes: src.codes, lut });
    }
  }
  // The aggregated property as numbers (NaN: not a number, not counted), as `aggregator` reads it.
  let numCodes: Int32Array | null = null, numbers: Float64Array | null = null, numTime = false, numConst = Number.NaN;
  if ('prop' in node.agg) {
    const src = sourceOf(g, node.agg.prop);
    if (src.kind === 'time') numTime = true;
    else if (src.kind === 'const') numConst = asNumber(src.value);
    else { numCodes = src.codes; numbers = Float64Array.from(src.values, asNumber); }
  }
  const numeric = fn === 'sum' || fn === 'avg' || fn === 'min' || fn === 'max';
  const w = node.window;
  const { time, start: starts, len: lens } = g;
  const codes0 = coded[0]?.codes, lut0 = coded[0]?.lut;
  const more = coded.slice(1);
  for (let i = 0; i < n; i++) {
    const s = slots[i]!;
    const len = lens[s] ?? 0;
    let hit = noneHolds;
    if (len > 0 && !nothing) {
      const start = starts[s]!, end = start + len;
      // The window's rows [lo, hi) of the run (docs/reference.md §3 window edges).
      let lo = start, hi = end;
      if (w.kind === 'relative') { lo = firstAbove(time, start, end, now - w.fromMs); hi = firstAbove(time, lo, end, now - w.toMs); }
      else if (w.kind === 'absolute') {
        if (w.after !== null) lo = firstAtLeast(time, start, end, w.after);
        if (w.before !== null) hi = firstAtLeast(time, lo, end, w.before);
      }
      let count = 0, sum = 0, seen = 0, min = Infinity, max = -Infinity, days = 0, lastDay = Number.NaN;
      rows: for (let r = lo; r < hi; r++) {
        if (lut0 !== undefined && lut0[codes0![r]!] === 0) continue;
        for (let k = 0; k < more.length; k++) if (more[k]!.lut[more[k]!.codes[r]!] === 0) continue rows;
        const t = time[r]!;
        for (let k = 0; k < onTime.length; k++) if (!onTime[k]!(t, now)) continue rows;
        count++;
        if (fn === 'distinctDays') { const day = Math.floor(t / DAY_MS); if (day !== lastDay) { days++; lastDay = day; } }
        else if (fn === 'firstAt' || fn === 'lastAt') { if (t < min) min = t; if (t > max) max = t; }
        else if (numeric) {
          const x = numbers !== null ? numbers[numCodes![r]!]! : numTime ? t : numConst;
          if (x === x) { seen++; sum += x; if (x < min) min = x; if (x > max) max = x; }
        }
      }
      if (count > 0) {
        let v: number | undefined;
        switch (fn) {
          case 'count': v = count; break;
          case 'distinctDays': v = days; break;
          case 'sum': v = sum; break;
          case 'avg': v = seen ? sum / seen : undefined; break;
          case 'min': v = seen ? min : undefined; break;
          case 'max': v = seen ? max : undefined; break;
          case 'firstAt': v = min; break;
          case 'lastAt': v = max; break;
        }
        hit = cmp(v, now);
      }
    }
    if (hit) out[i >>> 5]! |= 1 << (i & 31);
  }
  return out;
}

/** The first row of [from, to) whose time is > t (times sorted). */
function firstAbove(time: Float64Array, from: number, to: number, t: number): number {
  while (from < to) {
    const mid = (from + to) >>> 1;
    if (time[mid]! > t) to = mid; else from = mid + 1;
  }
  return from;
}

/** The first row of [from, to) whose time is >= t. */
function firstAtLeast(time: Float64Array, from: number, to: number, t: number): number {
  while (from < to) {
    const mid = (from + to) >>> 1;
    if (time[mid]! >= t) to = mid; else from = mid + 1;
  }
  return from;
}
