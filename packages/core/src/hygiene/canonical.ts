/**
 * The canonical form of a condition, behind the DUPLICATE warning: two conditions with the
 * same canonical key are equivalent (hold for exactly the same profiles, events and `now`).
 *
 * Soundness comes first: every rewrite below preserves the exact semantics of
 * docs/conditions.md, arrays and missing values included. Two equivalent conditions may
 * still get different keys (equivalence is undecidable in general); the rules are in
 * docs/hygiene.md.
 */
import type { Agg, Condition, EventNode, EventPath, ProfilePath, Scalar, SequenceNode, Test, WhereClause, Window } from '../ast.ts';
import { assertNever } from '../ast.ts';
import type { Json, JsonObject } from '../data.ts';
import { compilePredicate } from '../evaluate.ts';
import { foldCase, isNumericString } from '../values.ts';
import {
  countComplement, countIntersect, countIsAll, countIsEmpty, countSetOf, countUnion, type CountSet,
} from './value-sets.ts';

/** A referenced segment's condition when its members are exactly that condition, else null. */
export type SegmentLookup = (segmentId: string) => Condition | null;

export interface CanonicalWhere {
  readonly path: string;
  readonly test: Test;
  readonly ignoreCase: boolean;
  /** neq / nin / not_contains / not_exists: the exact negation of `test`. */
  readonly negated: boolean;
}

export type CanonicalAgg =
  | { readonly fn: 'count' | 'distinctDays' | 'firstAt' | 'lastAt' }
  | { readonly fn: 'sum' | 'avg' | 'min' | 'max'; readonly prop: string };

export type CanonicalCmp =
  /** count / distinctDays: the set of counts that pass (intervals of integers ≥ 0, null = ∞). */
  | { readonly kind: 'counts'; readonly set: CountSet }
  /** Any other aggregate (or a count compared with within_last / more_than_ago): a positive test. */
  | { readonly kind: 'test'; readonly test: Test };

export type CanonicalLeaf =
  | { readonly kind: 'attr'; readonly path: string; readonly test: Test; readonly ignoreCase: boolean }
  | {
    readonly kind: 'event'; readonly name: string | null; readonly where: readonly CanonicalWhere[];
    readonly window: Window; readonly agg: CanonicalAgg; readonly cmp: CanonicalCmp;
  }
  | {
    readonly kind: 'sequence'; readonly steps: readonly { readonly name: string | null; readonly where: readonly CanonicalWhere[] }[];
    readonly window: Window; readonly maxGapMs: number | null;
  }
  | { readonly kind: 'segment'; readonly id: string }
  | { readonly kind: 'bucket'; readonly salt: string; readonly from: number; readonly to: number };

/** Negation normal form: `not` only over leaves; no nested all/any of the same kind; sorted. */
export type CanonicalNode =
  | { readonly kind: 'true' }
  | { readonly kind: 'false' }
  | { readonly kind: 'all'; readonly children: readonly CanonicalNode[] }
  | { readonly kind: 'any'; readonly children: readonly CanonicalNode[] }
  | { readonly kind: 'not'; readonly child: CanonicalLeaf }
  | CanonicalLeaf;

const TRUE: CanonicalNode = { kind: 'true' };
const FALSE: CanonicalNode = { kind: 'false' };

// ---------------------------------------------------------------------------------------
// Keys

const keys = new WeakMap<object, string>();

/** The canonical string of a canonical node (memoised: nodes are never mutated). */
export function nodeKey(n: CanonicalNode | CanonicalWhere): string {
  let k = keys.get(n);
  if (k === undefined) {
    k = JSON.stringify(n);
    keys.set(n, k);
  }
  return k;
}

const byKey = <T extends CanonicalNode | CanonicalWhere>(a: T, b: T): number => {
  const x = nodeKey(a), y = nodeKey(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

// ---------------------------------------------------------------------------------------
// Operator tests

/** What a path can hold, for rewrites that are exact only on such values. */
export type Domain =
  | 'any' // traits, context, properties: any JSON
  | 'string' // userId, anonymousId, an event's name: a string or null
  | 'labels' // an array of strings ([] is missing)
  | 'number'; // firstSeen, lastSeen, timestamp, aggregates other than count: a number or missing

export const profilePathText = (p: ProfilePath): string => (p.kind === 'field' ? p.field : `${p.root}.${p.keys.join('.')}`);
export const eventPathText = (p: EventPath): string => (p.kind === 'field' ? p.field : `${p.root}.${p.keys.join('.')}`);

export function profileDomain(p: ProfilePath): Domain {
  if (p.kind === 'json') return 'any';
  switch (p.field) {
    case 'firstSeen': case 'lastSeen': return 'number';
    case 'labels': return 'labels';
    case 'userId': case 'anonymousId': return 'string';
    case 'known': return 'any';
  }
}

export const eventDomain = (p: EventPath): Domain => (p.kind === 'json' ? 'any' : p.field === 'timestamp' ? 'number' : 'string');

/**
 * Strings whose case folding cannot matter: ASCII without letters. No other code point folds
 * to one of these characters (a test checks it over every code point), so for `eq` and
 * `contains` with such an operand, ignoreCase changes nothing.
 */
export const isCaseless = (s: string): boolean => /^[\x00-\x40\x5b-\x60\x7b-\x7f]*$/.test(s);

/** The operand ignoreCase compares with, when replacing it by its folded form is exact. */
function folded(x: string): string {
  const f = foldCase(x);
  if (f === x) return x;
  const same = foldCase(f) === f && isNumericString(f) === isNumericString(x) && (!isNumericString(x) || Number(f) === Number(x));
  return same ? f : x;
}

const scalarKey = (x: Scalar): string => JSON.stringify(x);

/** A positive test in canonical form, or false when it never holds on the domain. */
export interface NormalTest { readonly test: Test; readonly ignoreCase: boolean }

/**
 * Normalises a positive test on a domain: operands that mean the same written one way,
 * ignoreCase dropped where it cannot matter, `in [x]` as `eq x`, `between [x, x]` as `eq x`.
 */
export function normalizeTest(test: Test, ic: boolean, domain: Domain): NormalTest | false {
  if (domain === 'number') return normalizeNumberTest(test);
  switch (test.op) {
    case 'eq': {
      const x = test.value;
      if (typeof x === 'boolean' && (domain === 'string' || domain === 'labels')) return false;
      if (typeof x !== 'string' || !ic || isCaseless(x)) return { test: { op: 'eq', value: x }, ignoreCase: false };
      return { test: { op: 'eq', value: folded(x) }, ignoreCase: true };
    }
    case 'in': {
      let values = test.values;
      if (domain === 'string' || domain === 'labels') values = values.filter((v) => typeof v !== 'boolean');
      if (values.length === 0) return false;
      const keep = ic && values.some((v) => typeof v === 'string' && !isCaseless(v));
      const seen = new Map<string, Scalar>();
      for (const v of values) {
        const w = keep && typeof v === 'string' ? folded(v) : v;
        seen.set(scalarKey(w), w);
      }
      const list = [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
      if (list.length === 1) return { test: { op: 'eq', value: list[0]! }, ignoreCase: keep };
      return { test: { op: 'in', values: list }, ignoreCase: keep };
    }
    case 'gt': case 'gte': case 'lt': case 'lte': {
      const x = test.value;
      if (typeof x === 'number' || !ic) return { test: { op: test.op, value: x }, ignoreCase: false };
      return { test: { op: test.op, value: folded(x) }, ignoreCase: true };
    }
    case 'between': {
      const { lo, hi } = test;
      if (typeof lo === typeof hi && lo === hi) return normalizeTest({ op: 'eq', value: lo }, ic, domain);
      const keep = ic && (typeof lo === 'string' || typeof hi === 'string');
      const f = (x: string | number) => (keep && typeof x === 'string' ? folded(x) : x);
      return { test: { op: 'between', lo: f(lo), hi: f(hi) }, ignoreCase: keep };
    }
    case 'contains': case 'starts_with': case 'ends_with': {
      const x = test.value;
      // On labels (always an array) `contains` is membership, exactly `eq`.
      if (domain === 'labels' && test.op === 'contains') return normalizeTest({ op: 'eq', value: x }, ic, domain);
      if (!ic || isCaseless(x)) return { test: { op: test.op, value: x }, ignoreCase: false };
      return { test: { op: test.op, value: folded(x) }, ignoreCase: true };
    }
    case 'matches':
      return { test: { op: 'matches', pattern: test.pattern }, ignoreCase: ic };
    case 'exists':
      return { test: { op: 'exists' }, ignoreCase: false };
    case 'before': case 'after':
      return { test: { op: test.op, time: test.time }, ignoreCase: false };
    case 'within_last': case 'more_than_ago':
      return { test: { op: test.op, ms: test.ms }, ignoreCase: false };
  }
}

/**
 * On a value that is a number or missing: a numeric-string operand is its number, an operand
 * no number can match makes the test false, before/after are < / >, and ignoreCase is moot.
 */
function normalizeNumberTest(test: Test): NormalTest | false {
  const num = (x: Scalar): number | null =>
    typeof x === 'number' ? x + 0 : typeof x === 'string' && isNumericString(x) ? Number(x) + 0 : null;
  const t = (test: Test): NormalTest => ({ test, ignoreCase: false });
  switch (test.op) {
    case 'eq': {
      const n = num(test.value);
      return n === null ? false : t({ op: 'eq', value: n });
    }
    case 'in': {
      const ns = [...new Set(test.values.map(num).filter((n): n is number => n !== null))].sort((a, b) => a - b);
      if (ns.length === 0) return false;
      return ns.length === 1 ? t({ op: 'eq', value: ns[0]! }) : t({ op: 'in', values: ns });
    }
    case 'gt': case 'gte': case 'lt': case 'lte': {
      const n = num(test.value);
      return n === null ? false : t({ op: test.op, value: n });
    }
    case 'between': {
      const lo = num(test.lo), hi = num(test.hi);
      if (lo === null || hi === null || lo > hi) return false;
      return lo === hi ? t({ op: 'eq', value: lo }) : t({ op: 'between', lo, hi });
    }
    case 'before': return t({ op: 'lt', value: test.time });
    case 'after': return t({ op: 'gt', value: test.time });
    case 'exists': return t({ op: 'exists' });
    case 'within_last': case 'more_than_ago': return t({ op: test.op, ms: test.ms });
    case 'contains': case 'starts_with': case 'ends_with': case 'matches': return false;
  }
}

/** Where clauses, sorted and deduplicated; 'none' when two are exact negations (no event passes). */
export function canonicalWhere(where: readonly WhereClause[]): readonly CanonicalWhere[] | 'none' {
  const out = new Map<string, CanonicalWhere>();
  for (const w of where) {
    const n = normalizeTest(w.predicate.test, w.predicate.ignoreCase, eventDomain(w.path));
    if (n === false) {
      if (!w.predicate.negated) return 'none';
      continue; // the negation of a test that never holds always holds
    }
    const c: CanonicalWhere = { path: eventPathText(w.path), test: n.test, ignoreCase: n.ignoreCase, negated: w.predicate.negated };
    out.set(nodeKey(c), c);
  }
  for (const c of out.values()) {
    if (out.has(nodeKey({ ...c, negated: !c.negated }))) return 'none';
  }
  return [...out.values()].sort(byKey);
}

export function canonicalWindow(w: Window): Window {
  switch (w.kind) {
    case 'all': return { kind: 'all' };
    case 'relative': return { kind: 'relative', fromMs: w.fromMs, toMs: w.toMs };
    case 'absolute': return { kind: 'absolute', after: w.after, before: w.before };
  }
}

export function canonicalAgg(a: Agg): CanonicalAgg {
  return 'prop' in a ? { fn: a.fn, prop: eventPathText(a.prop) } : { fn: a.fn };
}

const isCountAgg = (a: Agg | CanonicalAgg): boolean => a.fn === 'count' || a.fn === 'distinctDays';

/** The aggregate over zero selected events. */
const zeroValue = (a: Agg): number | undefined => (a.fn === 'count' || a.fn === 'distinctDays' || a.fn === 'sum' ? 0 : undefined);

// ---------------------------------------------------------------------------------------
// Conditions

interface Ctx {
  readonly resolve: SegmentLookup;
  readonly memo: Map<string, CanonicalNode>;
  readonly expanding: Set<string>;
  budget: number;
}

/** Inlined segment nodes allowed per call; past it, references stay references (still sound). */
const INLINE_BUDGET = 20_000;

/** The canonical tree of a condition (JSON-able); referenced segments are inlined when `resolve` gives their condition. */
export function canonicalize(c: Condition, resolve: SegmentLookup = () => null): CanonicalNode {
  return canon(c, true, { resolve, memo: new Map(), expanding: new Set(), budget: INLINE_BUDGET });
}

/** Equal keys ⇒ equivalent conditions. */
export function canonicalKey(c: Condition, resolve?: SegmentLookup): string {
  return nodeKey(canonicalize(c, resolve));
}

function negate(n: CanonicalNode): CanonicalNode {
  switch (n.kind) {
    case 'true': return FALSE;
    case 'false': return TRUE;
    case 'not': return n.child;
    case 'all': return makeAny(n.children.map(negate));
    case 'any': return makeAll(n.children.map(negate));
    case 'event':
      if (n.cmp.kind === 'counts') return countLeaf(n, countComplement(n.cmp.set));
      return { kind: 'not', child: n };
    default: return { kind: 'not', child: n };
  }
}

const polar = (n: CanonicalNode, positive: boolean): CanonicalNode => (positive ? n : negate(n));

function canon(c: Condition, positive: boolean, ctx: Ctx): CanonicalNode {
  switch (c.kind) {
    case 'all': {
      const kids = c.children.map((x) => canon(x, positive, ctx));
      return positive ? makeAll(kids) : makeAny(kids);
    }
    case 'any': {
      const kids = c.children.map((x) => canon(x, positive, ctx));
      return positive ? makeAny(kids) : makeAll(kids);
    }
    case 'not':
      return canon(c.child, !positive, ctx);
    case 'attr': {
      const n = normalizeTest(c.predicate.test, c.predicate.ignoreCase, profileDomain(c.path));
      const leaf: CanonicalNode = n === false ? FALSE : { kind: 'attr', path: profilePathText(c.path), test: n.test, ignoreCase: n.ignoreCase };
      return polar(leaf, positive !== c.predicate.negated);
    }
    case 'event':
      return polar(canonEvent(c), positive);
    case 'sequence':
      return polar(canonSequence(c), positive);
    case 'segment': {
      const key = `${positive ? '+' : '-'}${c.id}`;
      const hit = ctx.memo.get(key);
      if (hit) return hit;
      const cond = ctx.expanding.has(c.id) || ctx.budget <= 0 ? null : ctx.resolve(c.id);
      if (!cond) return polar({ kind: 'segment', id: c.id }, positive);
      ctx.expanding.add(c.id);
      ctx.budget -= 1;
      let size = 0;
      const sizeOf = (x: Condition): void => { size++; if (x.kind === 'all' || x.kind === 'any') x.children.forEach(sizeOf); else if (x.kind === 'not') sizeOf(x.child); };
      sizeOf(cond);
      ctx.budget -= size;
      const out = canon(cond, positive, ctx);
      ctx.expanding.delete(c.id);
      ctx.memo.set(key, out);
      return out;
    }
    case 'bucket':
      return polar({ kind: 'bucket', salt: c.salt, from: c.from, to: c.to }, positive);
    default:
      return assertNever(c);
  }
}

function countLeaf(base: Extract<CanonicalLeaf, { kind: 'event' }>, set: CountSet): CanonicalNode {
  if (countIsEmpty(set)) return FALSE;
  if (countIsAll(set)) return TRUE;
  return { kind: 'event', name: base.name, where: base.where, window: base.window, agg: base.agg, cmp: { kind: 'counts', set } };
}

/** An event leaf, with its `cmp` negation pulled out (cmp neq x ≡ not (cmp eq x) over the same aggregate). */
function canonEvent(e: EventNode): CanonicalNode {
  const where = canonicalWhere(e.where);
  if (where === 'none') {
    // No event is selected: the aggregate is its value over zero events, whatever the data.
    const zero = zeroValue(e.agg);
    const t = e.cmp.test.op;
    if (zero === undefined || (t !== 'within_last' && t !== 'more_than_ago')) {
      return compilePredicate(e.cmp)(zero, 0) ? TRUE : FALSE;
    }
  }
  const base = {
    kind: 'event' as const,
    name: e.name,
    // No event passes `event not_exists` (every event has a name): the same empty selection.
    where: where === 'none' ? [{ path: 'event', test: { op: 'exists' }, ignoreCase: false, negated: true } satisfies CanonicalWhere] : where,
    window: canonicalWindow(e.window),
    agg: canonicalAgg(e.agg),
  };
  if (isCountAgg(e.agg)) {
    const set = countSetOf(e.cmp.test);
    if (set !== null) {
      const leaf = { ...base, cmp: { kind: 'counts' as const, set } };
      return countLeaf(leaf, e.cmp.negated ? countComplement(set) : set);
    }
  }
  const n = normalizeTest(e.cmp.test, e.cmp.ignoreCase, 'number');
  // sum is 0 over zero events, never missing; count and distinctDays neither.
  const present = e.agg.fn === 'sum' || isCountAgg(e.agg);
  let leaf: CanonicalNode;
  if (n === false) leaf = FALSE;
  else if (n.test.op === 'exists' && present) leaf = TRUE;
  else leaf = { ...base, cmp: { kind: 'test', test: n.test } };
  return polar(leaf, !e.cmp.negated);
}

function canonSequence(s: SequenceNode): CanonicalNode {
  if (s.steps.length === 1) {
    // One step: some matching event in the window, whatever maxGap says.
    const step = s.steps[0]!;
    return canonEvent({
      kind: 'event', name: step.name, where: step.where, window: s.window, agg: { fn: 'count' },
      cmp: { test: { op: 'gte', value: 1 }, negated: false, ignoreCase: false },
    });
  }
  const steps: { name: string | null; where: readonly CanonicalWhere[] }[] = [];
  for (const st of s.steps) {
    const where = canonicalWhere(st.where);
    if (where === 'none') return FALSE;
    steps.push({ name: st.name, where });
  }
  return { kind: 'sequence', steps, window: canonicalWindow(s.window), maxGapMs: s.maxGapMs };
}

/** The part of an event leaf other than its comparison: leaves with the same base aggregate the same events the same way. */
const eventBaseKey = (n: Extract<CanonicalLeaf, { kind: 'event' }>): string =>
  JSON.stringify([n.name, n.where, n.window, n.agg]);

function combine(kids: readonly CanonicalNode[], conj: boolean): CanonicalNode {
  const unit = conj ? 'true' : 'false';
  const zero = conj ? FALSE : TRUE;
  const flat: CanonicalNode[] = [];
  for (const k of kids) {
    if (k.kind === (conj ? 'all' : 'any')) flat.push(...(k as { children: readonly CanonicalNode[] }).children);
    else flat.push(k);
  }
  const counts = new Map<string, Extract<CanonicalLeaf, { kind: 'event' }>>();
  const buckets = new Map<string, { salt: string; from: number; to: number }[]>();
  const rest: CanonicalNode[] = [];
  for (const k of flat) {
    if (k.kind === unit) continue;
    if (k.kind === zero.kind) return zero;
    if (k.kind === 'event' && k.cmp.kind === 'counts') {
      // The same count compared twice: one comparison with the intersection (all) or union (any).
      const key = eventBaseKey(k);
      const prev = counts.get(key);
      if (!prev) { counts.set(key, k); continue; }
      const a = (prev.cmp as { set: CountSet }).set, b = k.cmp.set;
      const merged = countLeaf(prev, conj ? countIntersect(a, b) : countUnion(a, b));
      if (merged.kind === zero.kind) return zero;
      if (merged.kind === unit) counts.delete(key);
      else counts.set(key, merged as Extract<CanonicalLeaf, { kind: 'event' }>);
      continue;
    }
    if (k.kind === 'bucket') {
      const list = buckets.get(k.salt) ?? [];
      list.push({ salt: k.salt, from: k.from, to: k.to });
      buckets.set(k.salt, list);
      continue;
    }
    rest.push(k);
  }
  rest.push(...counts.values());
  for (const list of buckets.values()) {
    if (conj) {
      // One hash, two ranges: in both is in their intersection (and an id is needed either way).
      const from = Math.max(...list.map((b) => b.from)), to = Math.min(...list.map((b) => b.to));
      if (from >= to) return zero;
      rest.push({ kind: 'bucket', salt: list[0]!.salt, from, to });
    } else {
      list.sort((a, b) => a.from - b.from);
      let cur = { ...list[0]! };
      for (const b of list.slice(1)) {
        if (b.from <= cur.to) cur.to = Math.max(cur.to, b.to);
        else { rest.push({ kind: 'bucket', ...cur }); cur = { ...b }; }
      }
      rest.push({ kind: 'bucket', ...cur });
    }
  }
  const unique = new Map<string, CanonicalNode>();
  for (const k of rest) unique.set(nodeKey(k), k);
  for (const k of unique.values()) {
    // A literal and its exact negation: false in a conjunction, true in a disjunction.
    if (k.kind === 'not' && unique.has(nodeKey(k.child))) return zero;
  }
  const list = [...unique.values()].sort(byKey);
  if (list.length === 0) return conj ? TRUE : FALSE;
  if (list.length === 1) return list[0]!;
  return conj ? { kind: 'all', children: list } : { kind: 'any', children: list };
}

const makeAll = (kids: readonly CanonicalNode[]): CanonicalNode => combine(kids, true);
const makeAny = (kids: readonly CanonicalNode[]): CanonicalNode => combine(kids, false);

// ---------------------------------------------------------------------------------------
// Back to the condition language

const UNITS = [['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]] as const;

/** A Duration string for a whole number of minutes (the largest unit that divides it). */
export function durationString(ms: number): string {
  for (const [u, size] of UNITS) if (ms % size === 0 && ms / size <= 999_999) return `${ms / size}${u}`;
  return `${Math.round(ms / 60_000)}m`;
}

const iso = (t: number): string => new Date(t).toISOString();

const NEGATED_OP: Partial<Record<Test['op'], string>> = { eq: 'neq', in: 'nin', contains: 'not_contains', exists: 'not_exists' };

function opJson(test: Test, negated: boolean): JsonObject {
  const op = negated ? NEGATED_OP[test.op] : test.op;
  if (op === undefined) throw new Error(`no negated operator for ${test.op}`);
  switch (test.op) {
    case 'eq': return { op, value: test.value };
    case 'in': return { op, value: [...test.values] };
    case 'gt': case 'gte': case 'lt': case 'lte': return { op, value: test.value };
    case 'between': return { op, value: [test.lo, test.hi] };
    case 'contains': case 'starts_with': case 'ends_with': return { op, value: test.value };
    case 'matches': return { op, value: test.pattern };
    case 'exists': return { op };
    case 'before': case 'after': return { op, value: iso(test.time) };
    case 'within_last': case 'more_than_ago': return { op, value: durationString(test.ms) };
  }
}

function windowJson(w: Window): JsonObject | undefined {
  switch (w.kind) {
    case 'all': return undefined;
    case 'relative': return w.toMs === 0 ? { within: durationString(w.fromMs) } : { from: durationString(w.fromMs), to: durationString(w.toMs) };
    case 'absolute': {
      const out: JsonObject = {};
      if (w.after !== null) out.after = iso(w.after);
      if (w.before !== null) out.before = iso(w.before);
      return out;
    }
  }
}

const whereJson = (ws: readonly CanonicalWhere[]): Json[] =>
  ws.map((w) => ({ attr: w.path, ...opJson(w.test, w.negated), ...(w.ignoreCase ? { ignoreCase: true } : {}) }));

function leafJson(n: CanonicalLeaf): Json {
  switch (n.kind) {
    case 'attr':
      return { attr: n.path, ...opJson(n.test, false), ...(n.ignoreCase ? { ignoreCase: true } : {}) };
    case 'event': {
      const head: JsonObject = { event: n.name ?? '*' };
      if (n.where.length) head.where = whereJson(n.where);
      const w = windowJson(n.window);
      if (w) head.window = w;
      head.agg = 'prop' in n.agg ? { fn: n.agg.fn, prop: n.agg.prop } : { fn: n.agg.fn };
      if (n.cmp.kind === 'test') return { ...head, cmp: opJson(n.cmp.test, false) };
      const parts: Json[] = n.cmp.set.map(([lo, hi]) => ({
        ...head,
        cmp: hi === null ? { op: 'gte', value: lo } : lo === hi ? { op: 'eq', value: lo } : { op: 'between', value: [lo, hi] },
      }));
      return parts.length === 1 ? parts[0]! : { any: parts };
    }
    case 'sequence': {
      const out: JsonObject = {
        sequence: n.steps.map((s): Json => (s.where.length ? { event: s.name ?? '*', where: whereJson(s.where) } : { event: s.name ?? '*' })),
      };
      const w = windowJson(n.window);
      if (w) out.window = w;
      if (n.maxGapMs !== null) out.maxGap = durationString(n.maxGapMs);
      return out;
    }
    case 'segment': return { segment: n.id };
    case 'bucket': return { bucket: { salt: n.salt, from: n.from, to: n.to } };
  }
}

/** A canonical tree written back in the condition language (valid, and equivalent to it). */
export function toConditionJson(n: CanonicalNode): Json {
  switch (n.kind) {
    case 'true': return { all: [] };
    case 'false': return { any: [] };
    case 'all': return { all: n.children.map(toConditionJson) };
    case 'any': return { any: n.children.map(toConditionJson) };
    case 'not': return { not: leafJson(n.child) };
    default: return leafJson(n);
  }
}
