import type { Condition, EventNode, EventPath } from './ast.ts';
import { walk } from './ast.ts';
import { popcount, type Bitset } from './bits.ts';
import type { EventRecord } from './data.ts';
import { isDerivedEvent } from './data.ts';
import { Dictionary } from './dictionary.ts';
import { DAY_MS } from './duration.ts';
import { compilePredicate, eventGetter } from './evaluate.ts';
import { toNumber } from './values.ts';

/** One dictionary-encoded event attribute: `values[codes[row]]` is the value of that row. */
interface CodedColumn {
  readonly codes: Int32Array;
  readonly values: readonly unknown[];
}

/**
 * The events of one name for every profile, one row per event: profile 0's events first (in
 * the order they were given), then profile 1's, and so on. Times are a Float64Array, the owner
 * of each row an Int32Array; the attributes conditions read are dictionary-encoded (a where
 * clause's operator then runs once per distinct value), and numeric properties that aggregates
 * read are a Float64Array (NaN where the value is not a number), as `aggregator` reads them.
 */
interface NameColumns {
  /** null: every non-derived event (`"*"`). */
  readonly name: string | null;
  readonly rows: number;
  readonly profile: Int32Array;
  readonly time: Float64Array;
  readonly coded: Map<string, CodedColumn>;
  readonly numeric: Map<string, Float64Array>;
}

const DAY_SPAN = 2 ** 20;

const pathKey = (p: EventPath): string => (p.kind === 'field' ? p.field : `${p.root}.${p.keys.join('.')}`);

/** What the event leaves of some conditions read: per event name (null: every name), the paths. */
interface Reads {
  readonly names: Set<string | null>;
  readonly coded: Map<string, EventPath>;
  readonly numeric: Map<string, EventPath>;
}

function readsOf(conditions: readonly Condition[]): Reads {
  const reads: Reads = { names: new Set(), coded: new Map(), numeric: new Map() };
  for (const c of conditions) {
    walk(c, (n) => {
      if (n.kind !== 'event') return;
      reads.names.add(n.name);
      for (const w of n.where) reads.coded.set(pathKey(w.path), w.path);
      if ('prop' in n.agg) reads.numeric.set(pathKey(n.agg.prop), n.agg.prop);
    });
  }
  return reads;
}

const asNumber = (raw: unknown): number => (typeof raw === 'number' ? raw : typeof raw === 'string' ? toNumber(raw) : Number.NaN);

/**
 * Many profiles' events in columns, for evaluating behavioural leaves (`event` nodes) of all
 * profiles in one pass over typed arrays instead of one closure call per profile. Built for
 * the names and paths a set of conditions reads (`EventColumns.of`); sequences are not
 * evaluated from columns (see `evaluateEventLeaf`).
 */
export class EventColumns {
  private constructor(
    readonly size: number,
    private readonly byName: Map<string | null, NameColumns>,
    private readonly reads: Reads,
  ) {}

  /**
   * Columns of the events of profiles 0..n-1 that `conditions` read: a group per name read, and
   * for `"*"` one group of every non-derived event in each profile's own order (so that sums
   * over it add in the order the per-profile evaluator adds them).
   */
  static of(conditions: readonly Condition[], n: number, events: (i: number) => readonly EventRecord[]): EventColumns {
    const reads = readsOf(conditions);
    const every = reads.names.has(null);
    // First pass: rows per group; second: fill.
    const counts = new Map<string | null, number>();
    for (let i = 0; i < n; i++) {
      for (const e of events(i)) {
        if (reads.names.has(e.name)) counts.set(e.name, (counts.get(e.name) ?? 0) + 1);
        if (every && !isDerivedEvent(e.name)) counts.set(null, (counts.get(null) ?? 0) + 1);
      }
    }
    const codedGetters = [...reads.coded].map(([key, path]) => ({ key, get: eventGetter(path) }));
    const numericGetters = [...reads.numeric].map(([key, path]) => ({ key, get: eventGetter(path) }));
    const byName = new Map<string | null, NameColumns>();
    const builders = new Map<string | null, { cols: NameColumns; row: number; coded: { codes: Int32Array; dict: Dictionary }[]; numeric: Float64Array[] }>();
    for (const [name, rows] of counts) {
      const coded = new Map<string, CodedColumn>();
      const codedCols = codedGetters.map(({ key }) => {
        const dict = new Dictionary();
        const col = { codes: new Int32Array(rows), values: dict.values };
        coded.set(key, col);
        return { codes: col.codes, dict };
      });
      const numeric = new Map<string, Float64Array>();
      const numericCols = numericGetters.map(({ key }) => {
        const col = new Float64Array(rows);
        numeric.set(key, col);
        return col;
      });
      const cols: NameColumns = { name, rows, profile: new Int32Array(rows), time: new Float64Array(rows), coded, numeric };
      byName.set(name, cols);
      builders.set(name, { cols, row: 0, coded: codedCols, numeric: numericCols });
    }
    const star = builders.get(null);
    const append = (b: NonNullable<typeof star>, i: number, e: EventRecord) => {
      const r = b.row++;
      b.cols.profile[r] = i;
      b.cols.time[r] = e.timestamp;
      for (let k = 0; k < codedGetters.length; k++) {
        const { codes, dict } = b.coded[k]!;
        codes[r] = dict.code(codedGetters[k]!.get(e));
      }
      for (let k = 0; k < numericGetters.length; k++) b.numeric[k]![r] = asNumber(numericGetters[k]!.get(e));
    };
    for (let i = 0; i < n; i++) {
      for (const e of events(i)) {
        const b = builders.get(e.name);
        if (b) append(b, i, e);
        if (star && !isDerivedEvent(e.name)) append(star, i, e);
      }
    }
    return new EventColumns(n, byName, reads);
  }

  /** Rows held, over every name. */
  get rows(): number {
    let n = 0;
    for (const c of this.byName.values()) n += c.rows;
    return n;
  }

  /** Bytes of the typed arrays held (the dictionaries' distinct values are not counted). */
  get bytes(): number {
    let n = 0;
    for (const c of this.byName.values()) {
      n += c.profile.byteLength + c.time.byteLength;
      for (const col of c.coded.values()) n += col.codes.byteLength;
      for (const col of c.numeric.values()) n += col.byteLength;
    }
    return n;
  }

  /** Whether this leaf can be evaluated from these columns (its name and paths were read when they were built). */
  covers(node: EventNode): boolean {
    if (!this.reads.names.has(node.name)) return false;
    if (!node.where.every((w) => this.reads.coded.has(pathKey(w.path)))) return false;
    return !('prop' in node.agg) || this.reads.numeric.has(pathKey(node.agg.prop));
  }

  /** The rows a leaf reads: those of its name, or of every non-derived event for `"*"` (null); undefined when there are none. */
  group(name: string | null): NameColumns | undefined {
    return this.byName.get(name);
  }
}

/**
 * A behavioural leaf for every profile at once, with the same semantics as the compiled
 * evaluator (`compileCondition`): the rows of its name(s) in its window that pass its where
 * clauses are aggregated per profile in one pass over the columns, then its comparison runs
 * once per profile (so `count = 0` holds for profiles with no events at all).
 */
export function evaluateEventLeaf(node: EventNode, cols: EventColumns, now: number): Bitset {
  if (!cols.covers(node)) throw new Error(`event columns were not built for ${node.name ?? '*'} and its paths`);
  const n = cols.size;
  const fn = node.agg.fn;
  const count = new Int32Array(n);
  const numeric = fn === 'sum' || fn === 'avg' || fn === 'min' || fn === 'max';
  const timed = fn === 'firstAt' || fn === 'lastAt';
  const sum = numeric ? new Float64Array(n) : null;
  const seen = numeric ? new Int32Array(n) : null;
  const lo = numeric || timed ? new Float64Array(n).fill(Infinity) : null;
  const hi = numeric || timed ? new Float64Array(n).fill(-Infinity) : null;
  // The window as two bounds on t: after < t ≤ upTo (relative), or from ≤ t < before (absolute).
  const w = node.window;
  const relative = w.kind === 'relative';
  const after = relative ? now - w.fromMs : w.kind === 'absolute' ? (w.after ?? -Infinity) : -Infinity;
  const upTo = relative ? now - w.toMs : w.kind === 'absolute' ? (w.before ?? Infinity) : Infinity;
  // Distinct days: a window spanning at most 256 days marks each profile's days in a bitmap of
  // its own (popcount at the end); a longer or open window sorts (profile, day) pairs.
  const spanDays = fn === 'distinctDays' && Number.isFinite(after) && Number.isFinite(upTo) ? Math.floor(upTo / DAY_MS) - Math.floor(after / DAY_MS) + 1 : Infinity;
  const firstDay = Number.isFinite(after) ? Math.floor(after / DAY_MS) : 0;
  const dayWords = spanDays <= 256 ? (spanDays + 31) >>> 5 : 0;
  const dayBits = dayWords ? new Uint32Array(n * dayWords) : null;
  const dayKeys: number[] = [];
  const farDays = new Map<number, Set<number>>();
  const propKey = 'prop' in node.agg ? pathKey(node.agg.prop) : null;
  const g = cols.group(node.name);
  if (g) {
    // Each where clause as a lookup table over its column's distinct values.
    const tests = node.where.map((c) => {
      const col = g.coded.get(pathKey(c.path))!;
      const pred = compilePredicate(c.predicate);
      const lut = new Uint8Array(col.values.length);
      for (let k = 0; k < lut.length; k++) lut[k] = pred(col.values[k], now) ? 1 : 0;
      return { codes: col.codes, lut };
    });
    const values = propKey === null ? null : g.numeric.get(propKey)!;
    const { time, profile, rows } = g;
    // The first clause's table in locals (most leaves have at most one); the rest in a loop.
    const codes0 = tests[0]?.codes, lut0 = tests[0]?.lut;
    const more = tests.slice(1);
    rows: for (let r = 0; r < rows; r++) {
      const t = time[r]!;
      if (relative ? !(t > after && t <= upTo) : !(t >= after && t < upTo)) continue;
      if (lut0 && !lut0[codes0![r]!]) continue;
      for (let k = 0; k < more.length; k++) if (!more[k]!.lut[more[k]!.codes[r]!]) continue rows;
      const p = profile[r]!;
      count[p]!++;
      if (fn === 'distinctDays') {
        const day = Math.floor(t / DAY_MS);
        if (dayBits) { const bit = day - firstDay; dayBits[p * dayWords + (bit >>> 5)]! |= 1 << (bit & 31); continue; }
        // (profile, day) packed into one exactly representable number for days within ±2^20 (±2,870 years of 1970).
        if (day > -DAY_SPAN && day < DAY_SPAN) dayKeys.push(p * 2 * DAY_SPAN + day + DAY_SPAN);
        else { let set = farDays.get(p); if (!set) farDays.set(p, (set = new Set())); set.add(day); }
      }
      else if (timed) { if (t < lo![p]!) lo![p] = t; if (t > hi![p]!) hi![p] = t; }
      else if (values) {
        const x = values[r]!;
        if (x === x) { seen![p]!++; sum![p]! += x; if (x < lo![p]!) lo![p] = x; if (x > hi![p]!) hi![p] = x; }
      }
    }
  }
  let days: Int32Array | null = null;
  if (dayBits) {
    days = new Int32Array(n);
    for (let p = 0; p < n; p++) days[p] = popcount(dayBits, p * dayWords, (p + 1) * dayWords);
  } else if (fn === 'distinctDays') {
    days = new Int32Array(n);
    const keys = Float64Array.from(dayKeys).sort();
    for (let k = 0; k < keys.length; k++) if (k === 0 || keys[k] !== keys[k - 1]) days[Math.floor(keys[k]! / (2 * DAY_SPAN))]!++;
    for (const [p, set] of farDays) days[p]! += set.size;
  }
  const cmp = compilePredicate(node.cmp);
  const words = (n + 31) >>> 5;
  const out = new Uint32Array(words);
  for (let p = 0; p < n; p++) {
    let v: number | undefined;
    switch (fn) {
      case 'count': v = count[p]; break;
      case 'distinctDays': v = days![p]; break;
      case 'sum': v = sum![p]; break;
      case 'avg': v = seen![p] ? sum![p]! / seen![p]! : undefined; break;
      case 'min': v = seen![p] ? lo![p] : undefined; break;
      case 'max': v = seen![p] ? hi![p] : undefined; break;
      case 'firstAt': v = count[p] ? lo![p] : undefined; break;
      case 'lastAt': v = count[p] ? hi![p] : undefined; break;
    }
    if (cmp(v, now)) out[p >>> 5]! |= 1 << (p & 31);
  }
  return out;
}
