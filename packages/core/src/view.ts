import type { Condition, EventNode, EventPath, Predicate, ProfilePath, SequenceNode, WhereClause, Window } from './ast.ts';
import { assertNever, walk } from './ast.ts';
import type { ProfileRecord } from './data.ts';
import { isDerivedEvent } from './data.ts';
import { aggregator, compileCondition, compilePredicate, profileGetter, sequenceCompletes } from './evaluate.ts';
import { sliceReader, type EventSlice } from './event-lists.ts';
import { toTime } from './values.ts';

/**
 * A profile as the live engine keeps it: the record, and its events indexed by name, each
 * list sorted by time, so that a behavioural leaf reads only its own name's events and finds
 * its window's edges by binary search. The lists are slices of typed-array columns
 * (event-lists.ts): leaves read times and the kept values in place, with no event objects.
 */
export interface ProfileView {
  readonly profile: ProfileRecord;
  /**
   * Events of one name sorted by time; `null`: every non-derived event (`"event": "*"`). The
   * same slice object returned again must hold the same rows (a view returns a new one once
   * its lists change): leaves keep their last answer per slice and instant (LeafTable).
   */
  events(name: string | null): EventSlice;
}

/**
 * A condition compiled over profile views. `test` is its value at `now`; `next` is the
 * earliest instant after `now` at which the value can change with no new data (time alone:
 * windows sliding, `within_last` / `more_than_ago` ageing), or Infinity. `next` may be early
 * (the value is then re-checked and found unchanged), never late.
 */
export interface ViewCondition {
  test(view: ProfileView, now: number): boolean;
  next(view: ProfileView, now: number): number;
}

export type ViewResolver = (id: string) => ViewCondition | undefined;

const NEVER: ViewCondition = { test: () => false, next: () => Infinity };

/** First index whose time is > t (lists are sorted by time). */
export function upperBound(list: EventSlice, t: number): number {
  const time = list.group.time, s = list.start;
  let lo = 0, hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (time[s + mid]! > t) hi = mid; else lo = mid + 1;
  }
  return lo;
}

/** First index whose time is >= t. */
export function lowerBound(list: EventSlice, t: number): number {
  const time = list.group.time, s = list.start;
  let lo = 0, hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (time[s + mid]! >= t) hi = mid; else lo = mid + 1;
  }
  return lo;
}

/**
 * The index range [lo, hi) of a sorted list inside a window at `now` (docs/reference.md §3
 * window edges): its two ends apart, so that a leaf read per profile and segment makes no pair.
 */
function windowLo(w: Window, list: EventSlice, now: number): number {
  switch (w.kind) {
    case 'all': return 0;
    case 'relative': return upperBound(list, now - w.fromMs);
    case 'absolute': return w.after === null ? 0 : lowerBound(list, w.after);
  }
}

function windowHi(w: Window, list: EventSlice, now: number): number {
  switch (w.kind) {
    case 'all': return list.length;
    case 'relative': return upperBound(list, now - w.toMs);
    case 'absolute': return w.before === null ? list.length : lowerBound(list, w.before);
  }
}

/** Earliest instant after `now` at which an event of a sorted list enters or leaves a relative window. */
function windowNext(w: Window, list: EventSlice, now: number): number {
  return w.kind === 'relative' ? relativeWindowNext(list, w.fromMs, w.toMs, now) : Infinity;
}

/** Earliest instant after `now` at which an event of a sorted list enters or leaves the window (now − fromMs, now − toMs]. */
export function relativeWindowNext(list: EventSlice, fromMs: number, toMs: number, now: number): number {
  // t enters at t + toMs (t <= now' - toMs) and leaves at t + fromMs (t <= now' - fromMs).
  const enter = upperBound(list, now - toMs);
  const leave = upperBound(list, now - fromMs);
  return Math.min(enter < list.length ? list.time(enter) + toMs : Infinity, leave < list.length ? list.time(leave) + fromMs : Infinity);
}

/** Whether a predicate's truth can change with time alone, for a fixed value. */
const timeRelative = (p: Predicate): boolean => p.test.op === 'within_last' || p.test.op === 'more_than_ago';

/**
 * Earliest instant after `now` at which a time-relative predicate can flip for value `v`:
 * `within_last d` holds for now' in [t, t + d); `more_than_ago d` for now' >= t + d.
 */
function predicateNext(p: Predicate, v: unknown, now: number): number {
  const t = p.test;
  if (t.op !== 'within_last' && t.op !== 'more_than_ago') return Infinity;
  let best = Infinity;
  const consider = (x: unknown) => {
    const at = toTime(x);
    if (Number.isNaN(at)) return;
    if (t.op === 'within_last' && at > now && at < best) best = at;
    const end = at + t.ms;
    if (end > now && end < best) best = end;
  };
  if (Array.isArray(v)) for (const x of v) consider(x);
  else consider(v);
  return best;
}

function whereTest(where: readonly WhereClause[]): (list: EventSlice, i: number, now: number) => boolean {
  if (where.length === 0) return () => true;
  const clauses = where.map((w) => ({ read: sliceReader(w.path), test: compilePredicate(w.predicate) }));
  return (list, i, now) => {
    for (const c of clauses) if (!c.test(c.read(list, i), now)) return false;
    return true;
  };
}

/** Earliest flip of any time-relative where clause over the given events (conservative: every event of the list). */
function whereNext(where: readonly WhereClause[]): ((list: EventSlice, now: number) => number) | null {
  const relative = where.filter((w) => timeRelative(w.predicate)).map((w) => ({ read: sliceReader(w.path), predicate: w.predicate }));
  if (relative.length === 0) return null;
  return (list, now) => {
    let best = Infinity;
    for (let i = 0; i < list.length; i++) for (const c of relative) best = Math.min(best, predicateNext(c.predicate, c.read(list, i), now));
    return best;
  };
}

/** An event leaf's aggregate over a list at an instant (before its comparison). */
type LeafValue = (list: EventSlice, now: number) => number | undefined;

/**
 * Event leaves' values shared by the conditions compiled with one table (a project's
 * segments): leaves equal but for their comparison are one function, which keeps its last
 * answer. A slice is read whole again only when it is another slice or another instant: a
 * slice's rows do not change while it may be read (a profile's view makes a new one when its
 * lists change: see ProfileView), so the same slice at the same instant has the same value.
 */
export type LeafTable = Map<string, LeafValue>;

/** A leaf's identity without its comparison: every number and string marked, so no two values read alike (-0 is not 0). */
const leafKey = (c: EventNode): string =>
  JSON.stringify([c.name, c.where, c.window, c.agg], (_k, v: unknown) => (typeof v === 'number' ? `#${Object.is(v, -0) ? '-0' : String(v)}` : typeof v === 'string' ? `$${v}` : v));

function leafValue(c: EventNode): LeafValue {
  const match = whereTest(c.where);
  const acc = aggregator(c.agg);
  const prop = 'prop' in c.agg ? sliceReader(c.agg.prop) : null;
  let last: EventSlice | null = null, at = Number.NaN, kept: number | undefined;
  return (list, now) => {
    if (list === last && now === at) return kept;
    const lo = windowLo(c.window, list, now), hi = windowHi(c.window, list, now);
    acc.reset();
    for (let i = lo; i < hi; i++) if (match(list, i, now)) acc.addAt(list.time(i), prop === null ? undefined : prop(list, i));
    kept = acc.result();
    last = list;
    at = now;
    return kept;
  };
}

function compileEvent(c: EventNode, leaves: LeafTable): ViewCondition {
  const name = c.name;
  const cmp = compilePredicate(c.cmp);
  const key = leafKey(c);
  let value = leaves.get(key);
  if (!value) leaves.set(key, (value = leafValue(c)));
  const wNext = whereNext(c.where);
  const cmpRelative = timeRelative(c.cmp);
  return {
    test: (view, now) => cmp(value(view.events(name), now), now),
    next: (view, now) => {
      const list = view.events(name);
      let best = windowNext(c.window, list, now);
      if (wNext) best = Math.min(best, wNext(list, now));
      if (cmpRelative) best = Math.min(best, predicateNext(c.cmp, value(list, now), now));
      return best;
    },
  };
}

function compileSequenceView(c: SequenceNode): ViewCondition {
  const star = c.steps.some((s) => s.name === null);
  // With a "*" step the non-derived list already holds every named step's events but derived ones.
  const names = [...new Set(c.steps.map((s) => s.name).filter((n): n is string => n !== null && (!star || isDerivedEvent(n))))];
  const lists = (view: ProfileView) => (star ? [view.events(null), ...names.map((n) => view.events(n))] : names.map((n) => view.events(n)));
  const steps = c.steps.map((s) => ({ name: s.name, match: whereTest(s.where) }));
  const k = steps.length, gap = c.maxGapMs ?? Infinity;
  const wNexts = c.steps.map((s) => whereNext(s.where)).filter((x) => x !== null);
  return {
    // As the closure evaluator (compileSequence) over the events in the window, read in place.
    test: (view, now) => {
      const hits: { t: number; mask: number }[] = [];
      for (const list of lists(view)) {
        const lo = windowLo(c.window, list, now), hi = windowHi(c.window, list, now);
        for (let i = lo; i < hi; i++) {
          const name = list.name(i);
          let mask = 0;
          for (let j = 0; j < k; j++) {
            const s = steps[j]!;
            if ((s.name === null ? !isDerivedEvent(name) : name === s.name) && s.match(list, i, now)) mask |= 1 << j;
          }
          if (mask) hits.push({ t: list.time(i), mask });
        }
      }
      return sequenceCompletes(hits, k, gap);
    },
    next: (view, now) => {
      let best = Infinity;
      for (const list of lists(view)) {
        best = Math.min(best, windowNext(c.window, list, now));
        for (const w of wNexts) best = Math.min(best, w(list, now));
      }
      return best;
    },
  };
}

function compileAttr(path: ProfilePath, predicate: Predicate, test: (p: ProfileRecord, now: number) => boolean): ViewCondition {
  if (!timeRelative(predicate)) return { test: (v, now) => test(v.profile, now), next: () => Infinity };
  const get = profileGetter(path);
  return { test: (v, now) => test(v.profile, now), next: (v, now) => predicateNext(predicate, get(v.profile), now) };
}

/** Compiles a condition over profile views (see ViewCondition). */
export function compileView(c: Condition, resolve: ViewResolver = () => undefined, leaves: LeafTable = new Map()): ViewCondition {
  switch (c.kind) {
    case 'all': case 'any': {
      const fs = c.children.map((x) => compileView(x, resolve, leaves));
      const all = c.kind === 'all';
      return {
        test: (v, now) => { for (const f of fs) if (f.test(v, now) !== all) return !all; return all; },
        next: (v, now) => { let best = Infinity; for (const f of fs) best = Math.min(best, f.next(v, now)); return best; },
      };
    }
    case 'not': {
      const f = compileView(c.child, resolve, leaves);
      return { test: (v, now) => !f.test(v, now), next: f.next };
    }
    case 'attr': {
      const f = compileCondition(c);
      return compileAttr(c.path, c.predicate, (p, now) => f(p, [], now));
    }
    case 'bucket': {
      const f = compileCondition(c);
      return { test: (v, now) => f(v.profile, [], now), next: () => Infinity };
    }
    case 'event':
      return compileEvent(c, leaves);
    case 'sequence':
      return compileSequenceView(c);
    case 'segment': {
      const id = c.id;
      return { test: (v, now) => (resolve(id) ?? NEVER).test(v, now), next: (v, now) => (resolve(id) ?? NEVER).next(v, now) };
    }
    default:
      return assertNever(c);
  }
}

/** A segment over views: (condition holds) ∪ include − exclude, by profile key. */
export function compileViewSegment(condition: Condition | null, include: ReadonlySet<string>, exclude: ReadonlySet<string>, resolve?: ViewResolver, leaves?: LeafTable): ViewCondition {
  const f = condition ? compileView(condition, resolve, leaves) : NEVER;
  if (include.size === 0 && exclude.size === 0) return f;
  return {
    test: (v, now) => !exclude.has(v.profile.key) && (include.has(v.profile.key) || f.test(v, now)),
    next: (v, now) => (exclude.has(v.profile.key) || include.has(v.profile.key) ? Infinity : f.next(v, now)),
  };
}

/** What a condition reads, so that the engine keeps just that: event names and the event paths per name. */
export interface ConditionReads {
  /** Event names read (`null`: every non-derived event). */
  readonly names: Set<string | null>;
  /** Per list (name), the event paths its where clauses and aggregates read from it. */
  readonly paths: Map<string | null, EventPath[]>;
  /** Reads the profile record (attributes, buckets). */
  readonly profile: boolean;
  /** The parts of the record read: `userId`, `anonymousId`, `firstSeen`, `lastSeen`, `labels`, `traits`, `context`. */
  readonly roots: Set<ProfileRoot>;
  /** Can change with time alone. */
  readonly timed: boolean;
  /** The relative windows read, per event list: time changes the value only at their edges, unless `otherTime`. */
  readonly windows: { readonly name: string | null; readonly fromMs: number; readonly toMs: number }[];
  /** Time-relative operators (within_last, more_than_ago) in attributes, where clauses or cmp. */
  readonly otherTime: boolean;
  /** Segments referenced directly. */
  readonly segments: Set<string>;
}

export type ProfileRoot = 'userId' | 'anonymousId' | 'firstSeen' | 'lastSeen' | 'labels' | 'traits' | 'context';

export function conditionReads(c: Condition): ConditionReads {
  const roots = new Set<ProfileRoot>();
  const names = new Set<string | null>();
  const paths = new Map<string | null, EventPath[]>();
  const segments = new Set<string>();
  let profile = false, timed = false, otherTime = false;
  const windows: { name: string | null; fromMs: number; toMs: number }[] = [];
  const read = (name: string | null, where: readonly WhereClause[], extra: EventPath[] = []) => {
    names.add(name);
    const list = paths.get(name) ?? [];
    for (const w of where) { list.push(w.path); if (timeRelative(w.predicate)) timed = otherTime = true; }
    list.push(...extra);
    paths.set(name, list);
  };
  walk(c, (n) => {
    switch (n.kind) {
      case 'attr':
        profile = true;
        if (timeRelative(n.predicate)) timed = otherTime = true;
        roots.add(n.path.kind === 'json' ? n.path.root : n.path.field === 'known' ? 'userId' : n.path.field);
        break;
      case 'bucket': profile = true; roots.add('userId'); roots.add('anonymousId'); break;
      case 'event':
        read(n.name, n.where, 'prop' in n.agg ? [n.agg.prop] : []);
        if (timeRelative(n.cmp)) timed = otherTime = true;
        if (n.window.kind === 'relative') { timed = true; windows.push({ name: n.name, fromMs: n.window.fromMs, toMs: n.window.toMs }); }
        break;
      case 'sequence': {
        const star = n.steps.some((s) => s.name === null);
        for (const s of n.steps) {
          read(s.name, s.where);
          // With a "*" step, a named non-derived step's events are read from the "*" list (compileSequenceView): so are its paths.
          if (star && s.name !== null && !isDerivedEvent(s.name)) read(null, s.where);
        }
        const w = n.window;
        if (w.kind === 'relative') {
          timed = true;
          // The lists the sequence reads (see compileSequenceView).
          const lists = new Set<string | null>(star ? [null] : []);
          for (const s of n.steps) if (s.name !== null && (!star || isDerivedEvent(s.name))) lists.add(s.name);
          for (const name of lists) windows.push({ name, fromMs: w.fromMs, toMs: w.toMs });
        }
        break;
      }
      case 'segment': segments.add(n.id); break;
      case 'all': case 'any': case 'not': break;
      default: assertNever(n);
    }
  });
  return { names, paths, profile, roots, timed, windows, otherTime, segments };
}
