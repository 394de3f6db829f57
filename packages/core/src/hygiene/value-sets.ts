/**
 * Sets of values that an operator accepts, in forms the static checks can intersect and
 * compare. Every answer is "certainly" or "don't know": `disjoint` and `subset` return true
 * only when the exact semantics of docs/conditions.md (eqTest, compareScalars, toTime) make
 * it so for every value, and false whenever unsure. Internal to the hygiene checks.
 */
import type { Scalar, Test } from '../ast.ts';
import { foldCase, isNumericString, parseIsoTime } from '../values.ts';

// ---------------------------------------------------------------------------------------
// Integer sets (count and distinctDays aggregates: always an integer ≥ 0)

/** Sorted, disjoint, non-adjacent closed intervals of integers ≥ 0; `null` as hi is +∞. */
export type CountSet = readonly (readonly [number, number | null])[];

/** Counts never reach this (they are lengths of lists); bounds beyond it are unreachable. */
const COUNT_CAP = Number.MAX_SAFE_INTEGER;

export const ALL_COUNTS: CountSet = [[0, null]];
export const NO_COUNTS: CountSet = [];

function normalizeSet(parts: readonly (readonly [number, number | null])[]): CountSet {
  const list = parts
    .map(([lo, hi]) => [Math.max(0, lo) + 0, hi === null || hi >= COUNT_CAP ? null : hi + 0] as [number, number | null])
    .filter(([lo, hi]) => lo <= COUNT_CAP && (hi === null || lo <= hi))
    .sort((a, b) => a[0] - b[0]);
  const out: [number, number | null][] = [];
  for (const [lo, hi] of list) {
    const last = out[out.length - 1];
    if (last && (last[1] === null || lo <= last[1] + 1)) {
      if (last[1] !== null && (hi === null || hi > last[1])) last[1] = hi;
    } else {
      out.push([lo, hi]);
    }
  }
  return out;
}

export const countUnion = (a: CountSet, b: CountSet): CountSet => normalizeSet([...a, ...b]);

export function countIntersect(a: CountSet, b: CountSet): CountSet {
  const out: [number, number | null][] = [];
  for (const [alo, ahi] of a) {
    for (const [blo, bhi] of b) {
      const lo = Math.max(alo, blo);
      const hi = ahi === null ? bhi : bhi === null ? ahi : Math.min(ahi, bhi);
      if (hi === null || lo <= hi) out.push([lo, hi]);
    }
  }
  return normalizeSet(out);
}

export function countComplement(a: CountSet): CountSet {
  const out: [number, number | null][] = [];
  let next = 0;
  for (const [lo, hi] of a) {
    if (lo > next) out.push([next, lo - 1]);
    if (hi === null) return normalizeSet(out);
    next = hi + 1;
  }
  out.push([next, null]);
  return normalizeSet(out);
}

export const countIsEmpty = (a: CountSet): boolean => a.length === 0;
export const countIsAll = (a: CountSet): boolean => a.length === 1 && a[0]![0] === 0 && a[0]![1] === null;
export const countMin = (a: CountSet): number => (a.length === 0 ? Infinity : a[0]![0]);
export const countMax = (a: CountSet): number => (a.length === 0 ? -Infinity : a[a.length - 1]![1] ?? Infinity);

/** The number an operand stands for against a number value (compareScalars / eqTest), or null. */
function operandNumber(x: Scalar): number | null {
  if (typeof x === 'number') return x;
  if (typeof x === 'string' && isNumericString(x)) return Number(x);
  return null;
}

const atLeast = (x: number): CountSet => normalizeSet([[Math.ceil(x), null]]);
const above = (x: number): CountSet => normalizeSet([[Math.floor(x) + 1, null]]);
const atMost = (x: number): CountSet => (x < 0 ? NO_COUNTS : normalizeSet([[0, Math.floor(x)]]));
const below = (x: number): CountSet => (x <= 0 ? NO_COUNTS : normalizeSet([[0, Math.ceil(x) - 1]]));

/**
 * The counts (integers ≥ 0) for which a positive test holds, or null when it depends on
 * `now` (within_last / more_than_ago). `ignoreCase` never matters against a number.
 */
export function countSetOf(test: Test): CountSet | null {
  const bound = (x: Scalar, f: (n: number) => CountSet): CountSet => {
    const n = operandNumber(x);
    return n === null ? NO_COUNTS : f(n);
  };
  switch (test.op) {
    case 'eq': {
      const n = typeof test.value === 'boolean' ? null : operandNumber(test.value);
      return n !== null && Number.isInteger(n) && n >= 0 && n <= COUNT_CAP ? [[n + 0, n + 0]] : NO_COUNTS;
    }
    case 'in':
      return test.values.reduce<CountSet>((acc, v) => countUnion(acc, countSetOf({ op: 'eq', value: v })!), NO_COUNTS);
    case 'gt': return bound(test.value, above);
    case 'gte': return bound(test.value, atLeast);
    case 'lt': return bound(test.value, below);
    case 'lte': return bound(test.value, atMost);
    case 'between': return countIntersect(bound(test.lo, atLeast), bound(test.hi, atMost));
    case 'exists': return ALL_COUNTS;
    // A number is its own time value: before t is < t, after t is > t.
    case 'before': return below(test.time);
    case 'after': return above(test.time);
    case 'contains': case 'starts_with': case 'ends_with': case 'matches':
      return NO_COUNTS;
    case 'within_last': case 'more_than_ago':
      return null;
  }
}

// ---------------------------------------------------------------------------------------
// Value sets of attribute tests (scalars; arrays are handled by the callers)

/**
 * One kind of scalar an `eq` accepts: a boolean, a number, the numeric strings of a number
 * (`"5"`, `"5.0"`, `"05"` for 5), one exact string, or the strings that fold to `f`.
 */
export type Atom =
  | { readonly k: 'b'; readonly b: boolean }
  | { readonly k: 'n'; readonly n: number }
  | { readonly k: 'ns'; readonly n: number }
  | { readonly k: 's'; readonly s: string }
  | { readonly k: 'f'; readonly f: string };

/** A bound of a time interval: absolute epoch ms, or `now + at` when relative. */
export interface TimeBound { readonly rel: boolean; readonly at: number; readonly open: boolean }

export type ValueSet =
  | { readonly k: 'atoms'; readonly atoms: readonly Atom[] }
  /** Numbers and numeric strings whose value lies in the interval. */
  | { readonly k: 'range'; readonly lo: number; readonly loOpen: boolean; readonly hi: number; readonly hiOpen: boolean }
  /** Time values (numbers, strict ISO strings) in the interval. */
  | { readonly k: 'time'; readonly lo: TimeBound | null; readonly hi: TimeBound | null }
  /** Every value that is not missing. */
  | { readonly k: 'exists' }
  /** Accepted values not described (string operators, string ranges, regular expressions). */
  | { readonly k: 'opaque' };

function eqAtoms(x: Scalar, ic: boolean): Atom[] {
  if (typeof x === 'boolean') return [{ k: 'b', b: x }];
  if (typeof x === 'number') return [{ k: 'n', n: x }, { k: 'ns', n: x }];
  const str: Atom = ic ? { k: 'f', f: foldCase(x) } : { k: 's', s: x };
  return isNumericString(x) ? [{ k: 'n', n: Number(x) }, str] : [str];
}

/** The scalars a positive test accepts (what it does on one value, not on an array). */
export function valueSetOf(test: Test, ic: boolean): ValueSet {
  switch (test.op) {
    case 'eq': return { k: 'atoms', atoms: eqAtoms(test.value, ic) };
    case 'in': return { k: 'atoms', atoms: test.values.flatMap((v) => eqAtoms(v, ic)) };
    case 'gt': case 'gte': case 'lt': case 'lte': {
      // A string operand compares as a string against a string value: not an interval of numbers.
      if (typeof test.value !== 'number') return { k: 'opaque' };
      const x = test.value;
      if (test.op === 'gt' || test.op === 'gte') return { k: 'range', lo: x, loOpen: test.op === 'gt', hi: Infinity, hiOpen: true };
      return { k: 'range', lo: -Infinity, loOpen: true, hi: x, hiOpen: test.op === 'lt' };
    }
    case 'between':
      if (typeof test.lo !== 'number' || typeof test.hi !== 'number') return { k: 'opaque' };
      return { k: 'range', lo: test.lo, loOpen: false, hi: test.hi, hiOpen: false };
    case 'exists': return { k: 'exists' };
    case 'before': return { k: 'time', lo: null, hi: { rel: false, at: test.time, open: true } };
    case 'after': return { k: 'time', lo: { rel: false, at: test.time, open: true }, hi: null };
    case 'within_last': return { k: 'time', lo: { rel: true, at: -test.ms, open: true }, hi: { rel: true, at: 0, open: false } };
    case 'more_than_ago': return { k: 'time', lo: null, hi: { rel: true, at: -test.ms, open: false } };
    case 'contains': case 'starts_with': case 'ends_with': case 'matches':
      return { k: 'opaque' };
  }
}

const numericValue = (s: string): number | null => (isNumericString(s) ? Number(s) : null);

function inRange(n: number, r: Extract<ValueSet, { k: 'range' }>): boolean {
  return (r.loOpen ? n > r.lo : n >= r.lo) && (r.hiOpen ? n < r.hi : n <= r.hi);
}

/** True when a lower bound leaves nothing below an upper bound (both comparable). */
function boundsCross(lo: TimeBound, hi: TimeBound): boolean {
  return lo.rel === hi.rel && (lo.at > hi.at || (lo.at === hi.at && (lo.open || hi.open)));
}

/** Is the absolute time `t` certainly inside (true) / outside (false) the interval; null: depends on now. */
function timeContains(t: number, s: Extract<ValueSet, { k: 'time' }>): boolean | null {
  const point = { rel: false, at: t, open: false };
  if ((s.lo && s.lo.rel) || (s.hi && s.hi.rel)) {
    // Only the absolute bounds can be judged.
    if (s.lo && !s.lo.rel && boundsCross(s.lo, point)) return false;
    if (s.hi && !s.hi.rel && boundsCross(point, s.hi)) return false;
    return null;
  }
  return !(s.lo && boundsCross(s.lo, point)) && !(s.hi && boundsCross(point, s.hi));
}

/** True when the set holds no value at all. */
export function isEmptySet(s: ValueSet): boolean {
  switch (s.k) {
    case 'atoms': return s.atoms.length === 0;
    case 'range': return s.lo > s.hi || (s.lo === s.hi && (s.loOpen || s.hiOpen));
    case 'time': return s.lo !== null && s.hi !== null && boundsCross(s.lo, s.hi);
    default: return false;
  }
}

function atomsDisjoint(a: Atom, b: Atom): boolean {
  if (a.k === 'b' || b.k === 'b') return !(a.k === 'b' && b.k === 'b' && a.b === b.b);
  if (a.k === 'n' || b.k === 'n') return !(a.k === 'n' && b.k === 'n' && a.n === b.n);
  // Both are sets of strings.
  if (a.k === 'ns' && b.k === 'ns') return a.n !== b.n;
  if (a.k === 'ns' || b.k === 'ns') {
    const [ns, o] = (a.k === 'ns' ? [a, b] : [b, a]) as [Extract<Atom, { k: 'ns' }>, Atom];
    // Numeric strings are ASCII digits, '-' and '.', which folding leaves alone.
    const s = o.k === 's' ? o.s : o.k === 'f' ? o.f : '';
    const n = numericValue(s);
    return n === null || n !== ns.n;
  }
  if (a.k === 's' && b.k === 's') return a.s !== b.s;
  if (a.k === 'f' && b.k === 'f') return a.f !== b.f;
  const [s, f] = (a.k === 's' ? [a, b] : [b, a]) as [Extract<Atom, { k: 's' }>, Extract<Atom, { k: 'f' }>];
  return foldCase(s.s) !== f.f;
}

function atomOutsideRange(a: Atom, r: Extract<ValueSet, { k: 'range' }>): boolean {
  switch (a.k) {
    case 'b': return true;
    case 'n': case 'ns': return !inRange(a.n, r);
    case 's': { const n = numericValue(a.s); return n === null || !inRange(n, r); }
    case 'f': { const n = numericValue(a.f); return n === null || !inRange(n, r); }
  }
}

function atomOutsideTime(a: Atom, s: Extract<ValueSet, { k: 'time' }>): boolean {
  switch (a.k) {
    case 'b': return true;
    // A numeric string has no '-' after its first character: never an ISO date.
    case 'ns': return true;
    case 'n': return timeContains(a.n, s) === false;
    case 's': { const t = parseIsoTime(a.s); return Number.isNaN(t) || timeContains(t, s) === false; }
    case 'f': return false;
  }
}

function atomInsideRange(a: Atom, r: Extract<ValueSet, { k: 'range' }>): boolean {
  switch (a.k) {
    case 'n': case 'ns': return inRange(a.n, r);
    case 's': { const n = numericValue(a.s); return n !== null && inRange(n, r); }
    default: return false;
  }
}

function atomInsideTime(a: Atom, s: Extract<ValueSet, { k: 'time' }>): boolean {
  switch (a.k) {
    case 'n': return timeContains(a.n, s) === true;
    case 's': { const t = parseIsoTime(a.s); return !Number.isNaN(t) && timeContains(t, s) === true; }
    default: return false;
  }
}

function atomCovered(a: Atom, by: readonly Atom[]): boolean {
  switch (a.k) {
    case 'b': return by.some((x) => x.k === 'b' && x.b === a.b);
    case 'n': return by.some((x) => x.k === 'n' && x.n === a.n);
    case 'ns': return by.some((x) => x.k === 'ns' && x.n === a.n);
    case 'f': return by.some((x) => x.k === 'f' && x.f === a.f);
    case 's': {
      const n = numericValue(a.s);
      return by.some((x) => (x.k === 's' && x.s === a.s) || (x.k === 'f' && x.f === foldCase(a.s)) || (x.k === 'ns' && n !== null && x.n === n));
    }
  }
}

function timeDisjoint(a: Extract<ValueSet, { k: 'time' }>, b: Extract<ValueSet, { k: 'time' }>): boolean {
  return (a.lo !== null && b.hi !== null && boundsCross(a.lo, b.hi)) || (b.lo !== null && a.hi !== null && boundsCross(b.lo, a.hi));
}

/** `a` is at least as high a lower bound as `b` (nothing below b's is above a's). */
function lowWithin(a: TimeBound | null, b: TimeBound | null): boolean {
  if (b === null) return true;
  if (a === null || a.rel !== b.rel) return false;
  return a.at > b.at || (a.at === b.at && (a.open || !b.open));
}

function highWithin(a: TimeBound | null, b: TimeBound | null): boolean {
  if (b === null) return true;
  if (a === null || a.rel !== b.rel) return false;
  return a.at < b.at || (a.at === b.at && (a.open || !b.open));
}

/** No scalar is accepted by both (certainly). */
export function disjoint(a: ValueSet, b: ValueSet): boolean {
  if (isEmptySet(a) || isEmptySet(b)) return true;
  if (a.k === 'opaque' || b.k === 'opaque' || a.k === 'exists' || b.k === 'exists') return false;
  if (a.k === 'atoms' && b.k === 'atoms') return a.atoms.every((x) => b.atoms.every((y) => atomsDisjoint(x, y)));
  if (a.k === 'atoms' || b.k === 'atoms') {
    const [at, o] = (a.k === 'atoms' ? [a, b] : [b, a]) as [Extract<ValueSet, { k: 'atoms' }>, ValueSet];
    if (o.k === 'range') return at.atoms.every((x) => atomOutsideRange(x, o));
    if (o.k === 'time') return at.atoms.every((x) => atomOutsideTime(x, o));
    return false;
  }
  if (a.k === 'range' && b.k === 'range') {
    return isEmptySet({ k: 'range', lo: Math.max(a.lo, b.lo), loOpen: a.lo > b.lo ? a.loOpen : b.lo > a.lo ? b.loOpen : a.loOpen || b.loOpen,
      hi: Math.min(a.hi, b.hi), hiOpen: a.hi < b.hi ? a.hiOpen : b.hi < a.hi ? b.hiOpen : a.hiOpen || b.hiOpen });
  }
  if (a.k === 'time' && b.k === 'time') return timeDisjoint(a, b);
  // A range against a time interval: only numbers can be in both (numeric strings are no dates,
  // dates are no numeric strings), so they are disjoint when the intervals are.
  const [r, t] = (a.k === 'range' ? [a, b] : [b, a]) as [Extract<ValueSet, { k: 'range' }>, Extract<ValueSet, { k: 'time' }>];
  const asTime: Extract<ValueSet, { k: 'time' }> = {
    k: 'time',
    lo: r.lo === -Infinity ? null : { rel: false, at: r.lo, open: r.loOpen },
    hi: r.hi === Infinity ? null : { rel: false, at: r.hi, open: r.hiOpen },
  };
  return timeDisjoint(asTime, t);
}

/** Every scalar `a` accepts is accepted by `b` (certainly); `b` = exists accepts every one. */
export function subset(a: ValueSet, b: ValueSet): boolean {
  if (b.k === 'exists') return true;
  if (isEmptySet(a)) return true;
  switch (a.k) {
    case 'exists': case 'opaque': return false;
    case 'atoms':
      if (b.k === 'atoms') return a.atoms.every((x) => atomCovered(x, b.atoms));
      if (b.k === 'range') return a.atoms.every((x) => atomInsideRange(x, b));
      if (b.k === 'time') return a.atoms.every((x) => atomInsideTime(x, b));
      return false;
    case 'range':
      if (b.k === 'range') {
        const loOk = a.lo > b.lo || (a.lo === b.lo && (a.loOpen || !b.loOpen));
        const hiOk = a.hi < b.hi || (a.hi === b.hi && (a.hiOpen || !b.hiOpen));
        return loOk && hiOk;
      }
      if (b.k === 'atoms' && a.lo === a.hi && !a.loOpen && !a.hiOpen) {
        return atomCovered({ k: 'n', n: a.lo }, b.atoms) && atomCovered({ k: 'ns', n: a.lo }, b.atoms);
      }
      return false;
    case 'time':
      return b.k === 'time' && lowWithin(a.lo, b.lo) && highWithin(a.hi, b.hi);
  }
}

/** The time interval a set of numbers stands for (firstSeen / lastSeen hold numbers only), or null. */
export function asNumberTimeInterval(s: ValueSet): { lo: TimeBound | null; hi: TimeBound | null } | null {
  if (s.k === 'time') return s;
  if (s.k === 'range') {
    return {
      lo: s.lo === -Infinity ? null : { rel: false, at: s.lo, open: s.loOpen },
      hi: s.hi === Infinity ? null : { rel: false, at: s.hi, open: s.hiOpen },
    };
  }
  return null;
}

/** No time in `lo`'s interval is at or before a time in `hi`'s interval (certainly). */
export function cannotBeOrdered(first: { lo: TimeBound | null }, last: { hi: TimeBound | null }): boolean {
  return first.lo !== null && last.hi !== null && boundsCross(first.lo, last.hi);
}
