import type { Agg, Condition, EventNode, EventPath, Predicate, ProfilePath, SequenceNode, Test, WhereClause, Window } from './ast.ts';
import { assertNever } from './ast.ts';
import { bucketOf } from './bucket.ts';
import type { EventRecord, ProfileRecord } from './data.ts';
import { isDerivedEvent } from './data.ts';
import { DAY_MS } from './duration.ts';
import { compileMatcher } from './regex.ts';
import { compareScalars, foldCase, isNumericString, toNumber, toTime } from './values.ts';

/** A compiled condition: pure, never throws. */
export type Evaluator = (profile: ProfileRecord, events: readonly EventRecord[], now: number) => boolean;

/** Membership of a referenced segment (its condition ∪ include − exclude) at `now`. */
export type SegmentResolver = (id: string) => Evaluator | undefined;

const NEVER: Evaluator = () => false;

/** Compiles a condition once into closures; call the result per profile. */
export function compileCondition(c: Condition, resolve: SegmentResolver = () => undefined): Evaluator {
  switch (c.kind) {
    case 'all': {
      const fs = c.children.map((x) => compileCondition(x, resolve));
      if (fs.length === 0) return () => true;
      if (fs.length === 1) return fs[0]!;
      if (fs.length === 2) { const [a, b] = fs as [Evaluator, Evaluator]; return (p, e, n) => a(p, e, n) && b(p, e, n); }
      return (p, e, n) => { for (const f of fs) if (!f(p, e, n)) return false; return true; };
    }
    case 'any': {
      const fs = c.children.map((x) => compileCondition(x, resolve));
      if (fs.length === 0) return NEVER;
      if (fs.length === 1) return fs[0]!;
      if (fs.length === 2) { const [a, b] = fs as [Evaluator, Evaluator]; return (p, e, n) => a(p, e, n) || b(p, e, n); }
      return (p, e, n) => { for (const f of fs) if (f(p, e, n)) return true; return false; };
    }
    case 'not': {
      const f = compileCondition(c.child, resolve);
      return (p, e, n) => !f(p, e, n);
    }
    case 'attr': {
      const get = profileGetter(c.path);
      const test = compilePredicate(c.predicate);
      return (p, _e, n) => test(get(p), n);
    }
    case 'event':
      return compileEventLeaf(c);
    case 'sequence':
      return compileSequence(c);
    case 'segment': {
      const id = c.id;
      return (p, e, n) => (resolve(id) ?? NEVER)(p, e, n);
    }
    case 'bucket': {
      const { salt, from, to } = c;
      return (p) => {
        const id = p.userId ?? p.anonymousId;
        if (id === null) return false;
        const b = bucketOf(salt, id);
        return b >= from && b < to;
      };
    }
    default:
      return assertNever(c);
  }
}

/** Membership evaluator of a segment: (condition holds) ∪ include − exclude, by profile key. */
export function compileSegment(
  condition: Condition | null,
  include: ReadonlySet<string>,
  exclude: ReadonlySet<string>,
  resolve?: SegmentResolver,
): Evaluator {
  const f = condition ? compileCondition(condition, resolve) : NEVER;
  if (include.size === 0 && exclude.size === 0) return f;
  return (p, e, n) => !exclude.has(p.key) && (include.has(p.key) || f(p, e, n));
}

type Getter<T> = (x: T) => unknown;

/** Reads a path of keys under an object (what a `properties.` or `context.` path reads under its root). */
export function jsonGetter(keys: readonly string[]): Getter<Record<string, unknown>> {
  const clean = (v: unknown) => (typeof v === 'function' ? undefined : v);
  if (keys.length === 1) {
    const [k] = keys as [string];
    return (o) => clean(o[k]);
  }
  if (keys.length === 2) {
    const [k1, k2] = keys as [string, string];
    return (o) => {
      const a = o[k1];
      return typeof a === 'object' && a !== null && !Array.isArray(a) ? clean((a as Record<string, unknown>)[k2]) : undefined;
    };
  }
  return (o) => {
    let cur: unknown = o;
    for (const k of keys) {
      if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
      cur = (cur as Record<string, unknown>)[k];
    }
    return clean(cur);
  };
}

export function profileGetter(path: ProfilePath): Getter<ProfileRecord> {
  if (path.kind === 'json') {
    const g = jsonGetter(path.keys);
    return path.root === 'traits' ? (p) => g(p.traits) : (p) => g(p.context);
  }
  switch (path.field) {
    case 'userId': return (p) => p.userId;
    case 'anonymousId': return (p) => p.anonymousId;
    case 'known': return (p) => p.userId !== null;
    case 'firstSeen': return (p) => p.firstSeen;
    case 'lastSeen': return (p) => p.lastSeen;
    case 'labels': return (p) => p.labels;
  }
}

export function eventGetter(path: EventPath): Getter<EventRecord> {
  if (path.kind === 'field') return path.field === 'event' ? (e) => e.name : (e) => e.timestamp;
  const g = jsonGetter(path.keys);
  return path.root === 'properties' ? (e) => g(e.properties) : (e) => g(e.context);
}

type ScalarTest = (v: string | number | boolean, now: number) => boolean;

/** An operator application over any value (missing, scalar, array, object), per docs/conditions.md. */
export function compilePredicate(pred: Predicate): (v: unknown, now: number) => boolean {
  const scalar = compileScalarTest(pred.test, pred.ignoreCase);
  // On an array, `contains` tests membership (docs/reference.md §3): an element equal to the value.
  const element = pred.test.op === 'contains' ? compileScalarTest({ op: 'eq', value: pred.test.value }, pred.ignoreCase) : scalar;
  if (pred.test.op === 'exists') {
    // exists: not missing (absent, null, []); an object or a non-empty array exists.
    const exists = (v: unknown): boolean =>
      v !== undefined && v !== null && typeof v !== 'function' && !(Array.isArray(v) && v.length === 0);
    return pred.negated ? (v) => !exists(v) : exists;
  }
  const general = (v: unknown, now: number): boolean => {
    switch (typeof v) {
      case 'string': case 'number': case 'boolean':
        return scalar(v, now);
      case 'object': {
        if (v === null) return false;
        if (!Array.isArray(v)) return false;
        for (const x of v) {
          const t = typeof x;
          if ((t === 'string' || t === 'number' || t === 'boolean') && element(x as string, now)) return true;
        }
        return false;
      }
      default:
        return false;
    }
  };
  const positive = stringFastPath(pred, general) ?? general;
  return pred.negated ? (v, now) => !positive(v, now) : positive;
}

/**
 * `eq` / `in` against string operands without ignoreCase — most attribute segments — decided
 * for a string value by one comparison or set lookup; any other value takes the general path.
 */
function stringFastPath(pred: Predicate, general: (v: unknown, now: number) => boolean): ((v: unknown, now: number) => boolean) | null {
  if (pred.ignoreCase) return null;
  const t = pred.test;
  if (t.op === 'eq' && typeof t.value === 'string') {
    const x = t.value;
    return (v, now) => (typeof v === 'string' ? v === x : general(v, now));
  }
  if (t.op === 'in' && t.values.every((x) => typeof x === 'string')) {
    const set = new Set(t.values as string[]);
    return (v, now) => (typeof v === 'string' ? set.has(v) : general(v, now));
  }
  return null;
}

function compileScalarTest(test: Test, ic: boolean): ScalarTest {
  switch (test.op) {
    case 'exists':
      return () => true;
    case 'eq':
      return eqTest(test.value, ic);
    case 'in': {
      const tests = test.values.map((x) => eqTest(x, ic));
      return (v, n) => { for (const t of tests) if (t(v, n)) return true; return false; };
    }
    case 'gt': case 'gte': case 'lt': case 'lte': {
      const x = test.value;
      const ok = { gt: (c: number) => c > 0, gte: (c: number) => c >= 0, lt: (c: number) => c < 0, lte: (c: number) => c <= 0 }[test.op];
      if (typeof x === 'number') {
        switch (test.op) {
          case 'gt': return (v) => num(v) > x;
          case 'gte': return (v) => num(v) >= x;
          case 'lt': return (v) => num(v) < x;
          case 'lte': return (v) => num(v) <= x;
        }
      }
      return (v) => { const c = compareScalars(v, x, ic); return c !== null && ok(c); };
    }
    case 'between': {
      const { lo, hi } = test;
      return (v) => {
        const a = compareScalars(v, lo, ic);
        if (a === null || a < 0) return false;
        const b = compareScalars(v, hi, ic);
        return b !== null && b <= 0;
      };
    }
    case 'contains': case 'starts_with': case 'ends_with': {
      const x = ic ? foldCase(test.value) : test.value;
      const f = test.op === 'contains' ? (s: string) => s.includes(x)
        : test.op === 'starts_with' ? (s: string) => s.startsWith(x) : (s: string) => s.endsWith(x);
      return ic ? (v) => typeof v === 'string' && f(foldCase(v)) : (v) => typeof v === 'string' && f(v);
    }
    case 'matches': {
      const m = compileMatcher(test.pattern, ic);
      return (v) => typeof v === 'string' && m(v);
    }
    case 'before': { const t0 = test.time; return (v) => toTime(v) < t0; }
    case 'after': { const t0 = test.time; return (v) => toTime(v) > t0; }
    case 'within_last': { const d = test.ms; return (v, now) => { const t = toTime(v); return t > now - d && t <= now; }; }
    case 'more_than_ago': { const d = test.ms; return (v, now) => toTime(v) <= now - d; }
    default:
      return assertNever(test);
  }
}

const num = (v: string | number | boolean): number => (typeof v === 'number' ? v : typeof v === 'string' ? toNumber(v) : Number.NaN);

function eqTest(x: string | number | boolean, ic: boolean): ScalarTest {
  if (typeof x === 'boolean') return (v) => v === x;
  if (typeof x === 'number') return (v) => (typeof v === 'number' ? v === x : typeof v === 'string' && toNumber(v) === x);
  const xn = isNumericString(x) ? Number(x) : Number.NaN;
  if (ic) {
    const xl = foldCase(x);
    return (v) => (typeof v === 'string' ? v === x || foldCase(v) === xl : typeof v === 'number' && v === xn);
  }
  return (v) => (typeof v === 'string' ? v === x : typeof v === 'number' && v === xn);
}

/** (t, now) → is t inside the window. */
export function windowTest(w: Window): (t: number, now: number) => boolean {
  switch (w.kind) {
    case 'all': return () => true;
    case 'relative': { const { fromMs, toMs } = w; return (t, now) => t > now - fromMs && t <= now - toMs; }
    case 'absolute': {
      const a = w.after ?? -Infinity, b = w.before ?? Infinity;
      return (t) => t >= a && t < b;
    }
  }
}

function eventFilter(name: string | null, where: readonly WhereClause[]): (e: EventRecord, now: number) => boolean {
  const nameOk = name === null ? (e: EventRecord) => !isDerivedEvent(e.name) : (e: EventRecord) => e.name === name;
  if (where.length === 0) return nameOk;
  const clauses = where.map((w) => ({ get: eventGetter(w.path), test: compilePredicate(w.predicate) }));
  return (e, now) => {
    if (!nameOk(e)) return false;
    for (const c of clauses) if (!c.test(c.get(e), now)) return false;
    return true;
  };
}

/** Computes the aggregate of a behavioural leaf over already-selected events. */
export function aggregator(agg: Agg): { add(e: EventRecord): void; addAt(t: number, raw: unknown): void; result(): number | undefined; reset(): void } {
  let count = 0, sum = 0, n = 0, min = Infinity, max = -Infinity;
  let days: Set<number> | null = null;
  const prop = 'prop' in agg ? eventGetter(agg.prop) : null;
  /** One event of time `t` whose aggregated property (when the aggregate has one) reads `raw`. */
  const addAt = (t: number, raw: unknown) => {
    count++;
    if (agg.fn === 'distinctDays') (days ??= new Set()).add(Math.floor(t / DAY_MS));
    else if (agg.fn === 'firstAt' || agg.fn === 'lastAt') { if (t < min) min = t; if (t > max) max = t; }
    else if (prop) {
      const x = typeof raw === 'number' ? raw : typeof raw === 'string' ? toNumber(raw) : Number.NaN;
      if (!Number.isNaN(x)) { n++; sum += x; if (x < min) min = x; if (x > max) max = x; }
    }
  };
  return {
    reset() { count = 0; sum = 0; n = 0; min = Infinity; max = -Infinity; days = null; },
    add(e) { addAt(e.timestamp, prop === null ? undefined : prop(e)); },
    addAt,
    result() {
      switch (agg.fn) {
        case 'count': return count;
        case 'distinctDays': return days ? days.size : 0;
        case 'sum': return sum;
        case 'avg': return n ? sum / n : undefined;
        case 'min': return n ? min : undefined;
        case 'max': return n ? max : undefined;
        case 'firstAt': return count ? min : undefined;
        case 'lastAt': return count ? max : undefined;
      }
    },
  };
}

function compileEventLeaf(c: EventNode): Evaluator {
  const match = eventFilter(c.name, c.where);
  const inWindow = windowTest(c.window);
  const cmp = compilePredicate(c.cmp);
  const acc = aggregator(c.agg);
  return (_p, events, now) => {
    acc.reset();
    for (const e of events) if (inWindow(e.timestamp, now) && match(e, now)) acc.add(e);
    return cmp(acc.result(), now);
  };
}

function compileSequence(c: SequenceNode): Evaluator {
  const steps = c.steps.map((s) => eventFilter(s.name, s.where));
  const inWindow = windowTest(c.window);
  const gap = c.maxGapMs ?? Infinity;
  const k = steps.length;
  return (_p, events, now) => {
    const hits: { t: number; mask: number }[] = [];
    for (const e of events) {
      if (!inWindow(e.timestamp, now)) continue;
      let mask = 0;
      for (let i = 0; i < k; i++) if (steps[i]!(e, now)) mask |= 1 << i;
      if (mask) hits.push({ t: e.timestamp, mask });
    }
    return sequenceCompletes(hits, k, gap);
  };
}

/**
 * Whether the k steps of a sequence happen in order, each within `gap` of the previous, over
 * `hits` (the events in the window that match some step: time and the mask of the steps they
 * match), given in the events' order (sorted here by time, stably).
 */
export function sequenceCompletes(hits: { t: number; mask: number }[], k: number, gap: number): boolean {
  hits.sort((a, b) => a.t - b.t);
  // latest[i]: the latest time at which steps 0..i can end, using events seen so far.
  const latest = new Array<number>(k).fill(-Infinity);
  for (let start = 0; start < hits.length;) {
    const t = hits[start]!.t;
    let end = start;
    while (end < hits.length && hits[end]!.t === t) end++;
    // Events at the same instant cannot chain with each other: read the state from before t.
    const prev = latest.slice();
    for (let j = start; j < end; j++) {
      const { mask } = hits[j]!;
      for (let i = 0; i < k; i++) {
        if (!(mask & (1 << i))) continue;
        if (i === 0 || (prev[i - 1]! > -Infinity && t - prev[i - 1]! <= gap)) latest[i] = t;
      }
    }
    if (latest[k - 1]! > -Infinity) return true;
    start = end;
  }
  return false;
}
