/**
 * The static analysis behind the CONTRADICTION warning: a condition that can never be true.
 *
 * The condition is put in negation normal form (negation pushed to the leaves) and every
 * conjunction of leaves it can stand for is checked, disjunctions by branching within a
 * budget (past it: no warning). A conflict is only claimed when the exact semantics of
 * docs/conditions.md make it one, with one documented approximation: a traits, context or
 * event properties value is taken to be a single value, not a list (docs/hygiene.md).
 */
import type { Condition, EventNode, Window } from '../ast.ts';
import { assertNever } from '../ast.ts';
import { DERIVED_EVENT_NAMES, isDerivedEvent } from '../data.ts';
import { compilePredicate } from '../evaluate.ts';
import {
  canonicalAgg, canonicalize, canonicalWhere, canonicalWindow, eventPathText, normalizeTest, nodeKey, profileDomain,
  profilePathText, type CanonicalAgg, type CanonicalWhere, type SegmentLookup,
} from './canonical.ts';
import {
  asNumberTimeInterval, cannotBeOrdered, countComplement, countIntersect, countIsAll, countIsEmpty, countMax, countMin,
  countSetOf, disjoint, isEmptySet, subset, type Atom, type CountSet, type ValueSet, valueSetOf,
} from './value-sets.ts';
import { aggWords, cannotBoth, countSetWords, eventWords, literalWords, testPhrase, valueWords } from './words.ts';

export interface Contradiction {
  /** What conflicts, in words. */
  readonly message: string;
  /** JSON Pointers into the condition as written, in document order. */
  readonly paths: string[];
}

export interface ContradictionOptions {
  /**
   * Take traits, context and event properties values to be single values (default true).
   * With false, a list is allowed there too, and only conflicts that hold for lists are claimed.
   */
  readonly singleValued?: boolean;
  /** Alternatives of "any" (or of a negated "all") tried before giving up (default 1000). */
  readonly branchBudget?: number;
}

const DEFAULT_BRANCHES = 1000;
/** Leaves added across all branches before giving up. */
const MAX_STEPS = 50_000;
/** Leaves in the normal form, inlined segments included; past it, references stay opaque. */
const MAX_LEAVES = 5_000;
const DAY = 86_400_000;

// ---------------------------------------------------------------------------------------
// Facts: what a literal says, in forms that can be compared

interface Subject {
  readonly key: string;
  readonly words: string;
  /** May hold a list: positive tests never exclude each other. */
  readonly multi: boolean;
  /** Never missing. */
  readonly present: boolean;
  readonly order?: 'first' | 'last';
}

interface EventBase {
  readonly key: string;
  readonly name: string | null;
  readonly where: readonly CanonicalWhere[];
  readonly window: Window;
  readonly words: string;
}

type Fact =
  | { readonly f: 'value'; readonly subject: Subject; readonly set: ValueSet; readonly neg: boolean; readonly phrase: string }
  | { readonly f: 'count'; readonly base: EventBase; readonly fn: 'count' | 'distinctDays'; readonly set: CountSet; readonly words: string }
  | { readonly f: 'bucket'; readonly salt: string; readonly from: number; readonly to: number; readonly neg: boolean }
  | { readonly f: 'never'; readonly message: string };

interface Lit {
  readonly id: number;
  /** Where the user wrote it (a referenced segment's literals: the reference). */
  readonly path: string;
  /** The outermost referenced segment it comes from, if any. */
  readonly via: string | null;
  /** Canonical key of its positive form: the same key with the other sign is its exact negation. */
  readonly key: string | null;
  readonly neg: boolean;
  readonly words: string;
  readonly facts: readonly Fact[];
}

type Nnf =
  | { readonly t: 'and'; readonly kids: readonly Nnf[]; readonly lo: number; readonly hi: number }
  | { readonly t: 'or'; readonly kids: readonly Nnf[]; readonly lo: number; readonly hi: number; readonly path: string; readonly via: string | null }
  | { readonly t: 'lit'; readonly lit: Lit; readonly lo: number; readonly hi: number };

interface Found { readonly message: string; readonly support: readonly Lit[] }

// ---------------------------------------------------------------------------------------
// Conflicts between facts

const countWords = (fn: 'count' | 'distinctDays', base: EventBase): string =>
  fn === 'count' ? `count of ${base.words}` : `distinct days of ${base.words}`;

/** The most distinct UTC days a window's events can fall on. */
function maxDays(w: Window): number {
  switch (w.kind) {
    case 'all': return Infinity;
    // (now − from, now − to]: at most ceil(length / day) + 1 days.
    case 'relative': return Math.ceil((w.fromMs - w.toMs) / DAY) + 1;
    case 'absolute':
      return w.after === null || w.before === null ? Infinity : Math.ceil(w.before / DAY) - Math.floor(w.after / DAY);
  }
}

/** A fact that cannot hold whatever else holds. */
function aloneConflict(f: Fact): string | null {
  switch (f.f) {
    case 'never': return f.message;
    case 'value':
      if (!f.neg && isEmptySet(f.set)) return `${f.subject.words} can never ${f.phrase}`;
      if (f.neg && f.set.k === 'exists' && f.subject.present) return `${f.subject.words} is never missing`;
      return null;
    case 'count': {
      if (countIsEmpty(f.set)) return `${countWords(f.fn, f.base)} can never be ${f.words}`;
      const days = maxDays(f.base.window);
      if (f.fn === 'distinctDays' && countMin(f.set) > days) {
        return `${countWords(f.fn, f.base)} cannot be ${f.words}: the window touches at most ${days} UTC days`;
      }
      return null;
    }
    case 'bucket': return null;
  }
}

/** Events of `a` are always events of `b`: same or wider name, wider window, fewer where clauses. */
function within(a: EventBase, b: EventBase): boolean {
  const nameOk = a.name === b.name || (b.name === null && a.name !== null && !isDerivedEvent(a.name));
  if (!nameOk) return false;
  const keys = new Set(a.where.map((w) => nodeKey(w)));
  if (!b.where.every((w) => keys.has(nodeKey(w)))) return false;
  const wa = a.window, wb = b.window;
  if (wb.kind === 'all') return true;
  if (wa.kind === 'relative' && wb.kind === 'relative') return wa.fromMs <= wb.fromMs && wa.toMs >= wb.toMs;
  if (wa.kind === 'absolute' && wb.kind === 'absolute') {
    const afterOk = wb.after === null || (wa.after !== null && wa.after >= wb.after);
    const beforeOk = wb.before === null || (wa.before !== null && wa.before <= wb.before);
    return afterOk && beforeOk;
  }
  return false;
}

type CountFact = Extract<Fact, { f: 'count' }>;

/** `a` counts a subset of `b`'s events: can their counts still agree with the comparisons? */
function nestedCounts(a: CountFact, b: CountFact): string | null {
  const lowA = countMin(a.set), highB = countMax(b.set);
  const clash = a.fn === 'count' && b.fn === 'distinctDays' ? lowA >= 1 && highB === 0 : lowA > highB;
  if (!clash) return null;
  const why = a.base.key === b.base.key
    ? 'each day counted needs an event'
    : a.fn === 'distinctDays' && b.fn === 'count'
      ? 'each day counted by the first needs an event the second counts'
      : 'every event the first counts, the second counts too';
  return `${countWords(a.fn, a.base)} cannot be ${a.words} while ${countWords(b.fn, b.base)} is ${b.words} (${why})`;
}

/** "be X" → "is X", for a second clause. */
const isPhrase = (p: string): string => (p.startsWith('be ') ? `is ${p.slice(3)}` : p.startsWith('not be ') ? `is not ${p.slice(7)}` : `must ${p}`);

function pairConflict(a: Fact, b: Fact): string | null {
  if (a.f === 'value' && b.f === 'value') {
    if (a.subject.key === b.subject.key) {
      const s = a.subject;
      if (!a.neg && !b.neg && !s.multi && disjoint(a.set, b.set)) return cannotBoth(s.words, a.phrase, b.phrase);
      if (!a.neg && b.neg && subset(a.set, b.set)) return cannotBoth(s.words, a.phrase, b.phrase);
      if (a.neg && !b.neg && subset(b.set, a.set)) return cannotBoth(s.words, a.phrase, b.phrase);
      return null;
    }
    const [first, last] = a.subject.order === 'first' && b.subject.order === 'last' ? [a, b]
      : b.subject.order === 'first' && a.subject.order === 'last' ? [b, a] : [null, null];
    if (first && last && !first.neg && !last.neg) {
      const f = asNumberTimeInterval(first.set), l = asNumberTimeInterval(last.set);
      if (f && l && cannotBeOrdered(f, l)) {
        return `${first.subject.words} cannot ${first.phrase} while ${last.subject.words} ${isPhrase(last.phrase)} (firstSeen is never after lastSeen)`;
      }
    }
    return null;
  }
  if (a.f === 'count' && b.f === 'count') {
    if (a.base.key === b.base.key && a.fn === b.fn && countIsEmpty(countIntersect(a.set, b.set))) {
      return `${countWords(a.fn, a.base)} cannot be ${a.words} and ${b.words}`;
    }
    if (within(a.base, b.base)) { const m = nestedCounts(a, b); if (m) return m; }
    if (within(b.base, a.base)) { const m = nestedCounts(b, a); if (m) return m; }
    return null;
  }
  if (a.f === 'bucket' && b.f === 'bucket' && a.salt === b.salt) {
    const words = (x: typeof a) => `${x.neg ? 'outside' : 'in'} [${x.from}, ${x.to})`;
    const msg = `the bucket of salt ${valueWords(a.salt)} cannot be ${words(a)} and ${words(b)}`;
    if (!a.neg && !b.neg && (a.to <= b.from || b.to <= a.from)) return msg;
    if (!a.neg && b.neg && a.from >= b.from && a.to <= b.to) return msg;
    if (a.neg && !b.neg && b.from >= a.from && b.to <= a.to) return msg;
  }
  return null;
}

/** Several facts together: counts of one leaf intersected; a value every accepted one of which is excluded. */
function groupConflict(lits: readonly Lit[], added: Lit): Found | null {
  for (const fact of added.facts) {
    if (fact.f === 'count') {
      const same = lits.flatMap((l) => l.facts.filter((g): g is CountFact => g.f === 'count' && g.base.key === fact.base.key && g.fn === fact.fn).map((g) => [l, g] as const));
      if (same.length < 2) continue;
      const all = same.reduce<CountSet>((acc, [, g]) => countIntersect(acc, g.set), fact.set);
      if (countIsEmpty(all)) {
        return {
          message: `${countWords(fact.fn, fact.base)} cannot be ${[...same.map(([, g]) => g.words), fact.words].join(', ')} at once`,
          support: [...same.map(([l]) => l), added],
        };
      }
    }
    if (fact.f === 'value') {
      const onSubject = lits.flatMap((l) => l.facts.filter((g): g is Extract<Fact, { f: 'value' }> => g.f === 'value' && g.subject.key === fact.subject.key).map((g) => [l, g] as const));
      const all = [...onSubject, [added, fact] as const];
      const negatives = all.filter(([, g]) => g.neg && g.set.k === 'atoms');
      if (negatives.length < 2) continue;
      const excluded: Atom[] = negatives.flatMap(([, g]) => (g.set as { atoms: readonly Atom[] }).atoms);
      for (const [l, g] of all) {
        if (g.neg || g.set.k !== 'atoms' || !subset(g.set, { k: 'atoms', atoms: excluded })) continue;
        if (l !== added && !negatives.some(([n]) => n === added)) continue;
        return {
          message: `${fact.subject.words} cannot ${g.phrase} and ${negatives.map(([, n]) => n.phrase).join(' and ')}`,
          support: [l, ...negatives.map(([n]) => n)],
        };
      }
    }
  }
  return null;
}

/** The first conflict `lit` makes with literals already held, or alone. */
function conflictWith(lits: readonly Lit[], lit: Lit): Found | null {
  for (const f of lit.facts) {
    const m = aloneConflict(f);
    if (m) return { message: m, support: [lit] };
  }
  for (const l of lits) {
    for (const a of l.facts) {
      for (const b of lit.facts) {
        const m = pairConflict(a, b);
        if (m) return { message: m, support: [l, lit] };
      }
    }
    if (lit.key !== null && l.key === lit.key && l.neg !== lit.neg) {
      return { message: `${lit.neg ? l.words : lit.words} and its negation cannot both hold`, support: [l, lit] };
    }
  }
  return groupConflict(lits, lit);
}

// ---------------------------------------------------------------------------------------
// Negation normal form with literals

interface BuildCtx {
  readonly resolve: SegmentLookup;
  readonly singleValued: boolean;
  next: number;
  readonly expanding: Set<string>;
}

/** Where a leaf is reported and which segment it came from. */
interface Place { readonly path: string; readonly via: string | null }

function lit(ctx: BuildCtx, place: Place, key: string | null, neg: boolean, words: string, facts: Fact[]): Nnf {
  const id = ctx.next++;
  return { t: 'lit', lit: { id, path: place.path, via: place.via, key, neg, words, facts }, lo: id, hi: id + 1 };
}

const TRUE_NNF: Nnf = { t: 'and', kids: [], lo: 0, hi: 0 };

function build(c: Condition, pos: boolean, path: string, anchor: string | null, place: Place | null, ctx: BuildCtx): Nnf {
  // Inside an inlined segment everything is reported at the reference.
  const here: Place = place ?? { path: anchor ?? path, via: null };
  if (ctx.next > MAX_LEAVES) return opaqueLeaf(ctx, here, `a part of the condition`, null, pos);
  switch (c.kind) {
    case 'all': case 'any': {
      const conj = (c.kind === 'all') === pos;
      if (c.children.length === 0) {
        return conj ? TRUE_NNF : lit(ctx, here, null, false, '', [{ f: 'never', message: c.kind === 'any' ? 'an empty "any" is never true' : 'the negation of an empty "all" is never true' }]);
      }
      // Ids are handed out depth-first, so a subtree's literals are the range [lo, hi).
      const lo = ctx.next;
      const kids = c.children.map((x, i) => build(x, pos, `${path}/${c.kind}/${i}`, null, place, ctx));
      const hi = ctx.next;
      return conj ? { t: 'and', kids, lo, hi } : { t: 'or', kids, lo, hi, path: place ? place.path : path, via: here.via };
    }
    case 'not':
      return build(c.child, !pos, `${path}/not`, anchor ?? path, place, ctx);
    case 'attr': return attrLeaf(c, pos, here, ctx);
    case 'event': return eventLeaf(c, pos, here, ctx);
    case 'sequence': return sequenceLeaf(c, pos, here, ctx);
    case 'segment': {
      const cond = ctx.expanding.has(c.id) ? null : ctx.resolve(c.id);
      if (!cond) return opaqueLeaf(ctx, here, `membership of segment ${valueWords(c.id)}`, `segment:${c.id}`, pos);
      ctx.expanding.add(c.id);
      const inner = build(cond, pos, '', null, { path: here.path, via: here.via ?? c.id }, ctx);
      ctx.expanding.delete(c.id);
      return inner;
    }
    case 'bucket':
      return lit(ctx, here, nodeKey(canonicalize(c)), !pos, `bucket ${valueWords(c.salt)} in [${c.from}, ${c.to})`, [{ f: 'bucket', salt: c.salt, from: c.from, to: c.to, neg: !pos }]);
    default:
      return assertNever(c);
  }
}

function opaqueLeaf(ctx: BuildCtx, place: Place, words: string, key: string | null, pos: boolean): Nnf {
  return lit(ctx, place, key, !pos, words, []);
}

/** A literal whose truth does not depend on the data: nothing, or a conflict by itself. */
function constant(ctx: BuildCtx, place: Place, holds: boolean, message: string): Nnf {
  return holds ? TRUE_NNF : lit(ctx, place, null, false, '', [{ f: 'never', message }]);
}

function attrLeaf(c: Extract<Condition, { kind: 'attr' }>, pos: boolean, place: Place, ctx: BuildCtx): Nnf {
  const { test, ignoreCase, negated } = c.predicate;
  const pathText = profilePathText(c.path);
  const domain = profileDomain(c.path);
  const neg = negated !== !pos;
  const n = normalizeTest(test, ignoreCase, domain);
  if (n === false) {
    // The positive test never holds on what this path can hold.
    return constant(ctx, place, neg, `${pathText} can never ${testPhrase(test, ignoreCase, false)}`);
  }
  const subject: Subject = {
    key: `p:${pathText}`,
    words: pathText,
    multi: domain === 'labels' || (c.path.kind === 'json' && !ctx.singleValued),
    present: c.path.kind === 'field' && c.path.field === 'known',
    ...(c.path.kind === 'field' && c.path.field === 'firstSeen' ? { order: 'first' as const } : {}),
    ...(c.path.kind === 'field' && c.path.field === 'lastSeen' ? { order: 'last' as const } : {}),
  };
  const key = nodeKey({ kind: 'attr', path: pathText, test: n.test, ignoreCase: n.ignoreCase });
  const phrase = testPhrase(n.test, n.ignoreCase, neg);
  return lit(ctx, place, key, neg, literalWords(pathText, n.test, n.ignoreCase), [
    { f: 'value', subject, set: valueSetOf(n.test, n.ignoreCase), neg, phrase },
  ]);
}

/** Why no event can pass a leaf's filter (its name and where clauses), or null. */
function selectsNothing(name: string | null, where: readonly CanonicalWhere[], ctx: BuildCtx): string | null {
  const lits: Lit[] = [];
  const facts: Lit[] = [];
  let id = -1;
  const add = (words: string, subject: Subject, set: ValueSet, neg: boolean, phrase: string, key: string | null) =>
    facts.push({ id: id--, path: '', via: null, key, neg, words, facts: [{ f: 'value', subject, set, neg, phrase }] });
  const nameSubject: Subject = { key: 'event', words: 'event', multi: false, present: true };
  if (name !== null) add('', nameSubject, { k: 'atoms', atoms: [{ k: 's', s: name }] }, false, `equal ${valueWords(name)}`, null);
  else add('', nameSubject, { k: 'atoms', atoms: [...DERIVED_EVENT_NAMES].map((s) => ({ k: 's' as const, s })) }, true, 'be a non-derived event', null);
  for (const w of where) {
    const subject: Subject = {
      key: w.path, words: w.path,
      multi: w.path !== 'event' && w.path !== 'timestamp' && !ctx.singleValued,
      present: w.path === 'event' || w.path === 'timestamp',
    };
    add(w.path, subject, valueSetOf(w.test, w.ignoreCase), w.negated, testPhrase(w.test, w.ignoreCase, w.negated), nodeKey({ ...w, negated: false }));
  }
  for (const f of facts) {
    const found = conflictWith(lits, f);
    if (found) return found.message;
    lits.push(f);
  }
  return null;
}

const ZERO_OF = (fn: CanonicalAgg['fn']): number | undefined => (fn === 'count' || fn === 'distinctDays' || fn === 'sum' ? 0 : undefined);

function eventLeaf(e: EventNode, pos: boolean, place: Place, ctx: BuildCtx): Nnf {
  const where = canonicalWhere(e.where);
  const window = canonicalWindow(e.window);
  const agg = canonicalAgg(e.agg);
  const shownWhere = where === 'none' ? [] : where;
  const events = eventWords(e.name, shownWhere, window);
  const subjectWords = aggWords(agg, events);
  const nothing = where === 'none' ? 'two of its where clauses contradict each other' : selectsNothing(e.name, where, ctx);
  if (nothing !== null) {
    const zero = ZERO_OF(agg.fn);
    const t = e.cmp.test.op;
    if (zero === undefined || (t !== 'within_last' && t !== 'more_than_ago')) {
      const holds = compilePredicate(e.cmp)(zero, 0) === pos;
      const always = zero === undefined ? 'missing' : String(zero);
      return constant(ctx, place, holds,
        `no event passes the filter of ${subjectWords} (${nothing}), so it is always ${always} and can never ${testPhrase(e.cmp.test, false, e.cmp.negated !== !pos)}`);
    }
    // 0 compared with a time relative to now: true or not depending on now; nothing to say.
    return opaqueLeaf(ctx, place, subjectWords, null, pos);
  }
  const base: EventBase = { key: JSON.stringify([e.name, shownWhere, window]), name: e.name, where: shownWhere, window, words: events };
  if (agg.fn === 'count' || agg.fn === 'distinctDays') {
    const raw = countSetOf(e.cmp.test);
    if (raw !== null) {
      const set = (e.cmp.negated !== !pos) ? countComplement(raw) : raw;
      const words = countSetWords(set);
      if (countIsAll(set)) return TRUE_NNF;
      if (countIsEmpty(set)) return constant(ctx, place, false, `${countWords(agg.fn, base)} can never ${testPhrase(e.cmp.test, false, e.cmp.negated !== !pos)}`);
      return lit(ctx, place, null, false, `${countWords(agg.fn, base)} ${words}`, [{ f: 'count', base, fn: agg.fn, set, words }]);
    }
  }
  const n = normalizeTest(e.cmp.test, e.cmp.ignoreCase, 'number');
  const neg = e.cmp.negated !== !pos;
  const present = agg.fn === 'sum' || agg.fn === 'count' || agg.fn === 'distinctDays';
  if (n === false) return constant(ctx, place, neg, `${subjectWords} can never ${testPhrase(e.cmp.test, false, false)}`);
  if (n.test.op === 'exists' && present) return constant(ctx, place, !neg, `${subjectWords} is never missing`);
  const subject: Subject = { key: `a:${JSON.stringify([base.key, agg])}`, words: subjectWords, multi: false, present };
  const key = `a:${JSON.stringify([base.key, agg, n.test])}`;
  return lit(ctx, place, key, neg, literalWords(subjectWords, n.test, false), [
    { f: 'value', subject, set: valueSetOf(n.test, false), neg, phrase: testPhrase(n.test, false, neg) },
  ]);
}

function sequenceLeaf(s: Extract<Condition, { kind: 'sequence' }>, pos: boolean, place: Place, ctx: BuildCtx): Nnf {
  if (s.steps.length === 1) {
    const step = s.steps[0]!;
    return eventLeaf({
      kind: 'event', name: step.name, where: step.where, window: s.window, agg: { fn: 'count' },
      cmp: { test: { op: 'gte', value: 1 }, negated: false, ignoreCase: false },
    }, pos, place, ctx);
  }
  const window = canonicalWindow(s.window);
  const words = `the sequence ${s.steps.map((st) => st.name ?? 'any event').join(' → ')}`;
  const facts: Fact[] = [];
  for (const [i, st] of s.steps.entries()) {
    const where = canonicalWhere(st.where);
    const nothing = where === 'none' ? 'two of its where clauses contradict each other' : selectsNothing(st.name, where, ctx);
    if (nothing !== null) return constant(ctx, place, !pos, `no event can play step ${i + 1} of ${words} (${nothing})`);
    if (pos) {
      // The sequence needs an event of each step in its window.
      const w = where as readonly CanonicalWhere[];
      const base: EventBase = { key: JSON.stringify([st.name, w, window]), name: st.name, where: w, window, words: `${eventWords(st.name, w, window)} (step ${i + 1} of ${words})` };
      facts.push({ f: 'count', base, fn: 'count', set: [[1, null]], words: '≥ 1' });
    }
  }
  return lit(ctx, place, nodeKey(canonicalize(s)), !pos, words, facts);
}

// ---------------------------------------------------------------------------------------
// Search

type Outcome = { readonly kind: 'open' } | { readonly kind: 'budget' } | ({ readonly kind: 'conflict' } & Found);

const OPEN: Outcome = { kind: 'open' };
const BUDGET: Outcome = { kind: 'budget' };

class Search {
  steps = 0;
  branches = 0;
  constructor(private readonly maxBranches: number) {}

  solve(pending: readonly Nnf[], ors: readonly Extract<Nnf, { t: 'or' }>[], held: readonly Lit[]): Outcome {
    const queue = [...pending].reverse();
    const open = [...ors];
    const lits = [...held];
    while (queue.length) {
      const n = queue.pop()!;
      if (++this.steps > MAX_STEPS) return BUDGET;
      if (n.t === 'and') {
        for (let i = n.kids.length - 1; i >= 0; i--) queue.push(n.kids[i]!);
      } else if (n.t === 'or') {
        open.push(n);
      } else {
        const found = conflictWith(lits, n.lit);
        if (found) return { kind: 'conflict', ...found };
        lits.push(n.lit);
      }
    }
    if (open.length === 0) return OPEN;
    // Branch on the disjunction with the fewest alternatives.
    let pick = 0;
    for (let i = 1; i < open.length; i++) if (open[i]!.kids.length < open[pick]!.kids.length) pick = i;
    const or = open[pick]!;
    const rest = open.filter((_, i) => i !== pick);
    const failures: Found[] = [];
    for (const kid of or.kids) {
      if (++this.branches > this.maxBranches) return BUDGET;
      const r = this.solve([kid], rest, lits);
      if (r.kind !== 'conflict') return r;
      // A conflict that does not involve this choice holds for every choice.
      if (!r.support.some((l) => l.id >= or.lo && l.id < or.hi)) return r;
      failures.push(r);
    }
    const where = or.via === null ? or.path || 'the condition' : 'an "any"';
    const shown = failures.slice(0, 3).map((f) => f.message);
    if (failures.length > 3) shown.push('…');
    const support = [...new Map(failures.flatMap((f) => f.support).map((l) => [l.id, l])).values()];
    return { kind: 'conflict', message: `every alternative of ${where} is impossible: ${shown.join('; ')}`, support };
  }
}

/** Document order of JSON Pointers: numeric segments compare as numbers. */
function comparePointers(a: string, b: string): number {
  const x = a.split('/'), y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] === y[i]) continue;
    const m = Number(x[i]), n = Number(y[i]);
    if (x[i] !== '' && y[i] !== '' && Number.isInteger(m) && Number.isInteger(n)) return m - n;
    return x[i]! < y[i]! ? -1 : 1;
  }
  return x.length - y.length;
}

/**
 * Why a condition can never be true, with JSON Pointers to the parts that conflict; null when
 * no conflict is found (which does not prove it satisfiable).
 */
export function findContradiction(c: Condition, resolve: SegmentLookup = () => null, options: ContradictionOptions = {}): Contradiction | null {
  const ctx: BuildCtx = { resolve, singleValued: options.singleValued ?? true, next: 0, expanding: new Set() };
  const root = build(c, true, '', null, null, ctx);
  const r = new Search(options.branchBudget ?? DEFAULT_BRANCHES).solve([root], [], []);
  if (r.kind !== 'conflict') return null;
  const paths = [...new Set(r.support.map((l) => l.path || '/'))].sort(comparePointers);
  const via = r.support[0]?.via ?? null;
  const message = via !== null && r.support.every((l) => l.via === via) ? `segment ${valueWords(via)} can never match: ${r.message}` : r.message;
  return { message, paths };
}
