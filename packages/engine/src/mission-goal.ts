import type { EventNode, EventPath, EventRecord, Issue, Json, JsonObject, Result, WhereClause } from '@strata/core';
import { aggregator, compilePredicate, DAY_MS, eventGetter, findContradiction, isDerivedEvent, isPlainObject, parseCondition, parseDuration } from '@strata/core';

export type GoalKind = 'count' | 'distinctDays' | 'streak' | 'sum';
export const GOAL_KINDS: readonly GoalKind[] = ['count', 'distinctDays', 'streak', 'sum'];

/**
 * A mission's goal, parsed: over the user's events of one name (or any event they caused),
 * filtered by `where` clauses of the condition language.
 */
export interface MissionGoal {
  readonly kind: GoalKind;
  /** null: any event the user caused (`"*"`). */
  readonly event: string | null;
  readonly where: readonly WhereClause[];
  /** count, distinctDays and sum: the target; streak: the number of consecutive days. */
  readonly target: number;
  /** sum: the summed property. */
  readonly prop: EventPath | null;
  /** The goal must be met within this long of the attempt's start; null: no limit. */
  readonly withinMs: number | null;
  /** Whether the where clauses or the summed property read the event's context. */
  readonly readsContext: boolean;
}

/** Derived events a goal may count: visits. Segment entries/exits and completions may not (a mission must not feed on Strata's own bookkeeping). */
const COUNTABLE_DERIVED: ReadonlySet<string> = new Set(['$session']);
const MAX_COUNT = 1_000_000;
const MAX_DAYS = 3660;
const MAX_SUM = 1e15;

const KEYS: Record<GoalKind, readonly string[]> = {
  count: ['kind', 'event', 'where', 'target', 'within'],
  distinctDays: ['kind', 'event', 'where', 'target', 'within'],
  streak: ['kind', 'event', 'where', 'days', 'within'],
  sum: ['kind', 'event', 'where', 'prop', 'target', 'within'],
};

/** Whole UTC days a window of `ms` holds (what a distinct-days or streak goal within it can reach). */
export const daysIn = (ms: number): number => Math.ceil(ms / DAY_MS);

/**
 * Parses and validates a goal, reporting every fault with its JSON path (relative to the goal).
 * Refuses goals that can never be met: a target ≤ 0, more days than the window holds, `where`
 * filters that contradict each other, derived events other than `$session`.
 */
export function parseGoal(input: unknown): Result<MissionGoal> {
  const issues: Issue[] = [];
  const fail = (path: string, message: string) => { issues.push({ path, message }); };
  if (!isPlainObject(input)) return { ok: false, issues: [{ path: '/', message: 'expected a goal object {kind, event, where?, target | days, prop?, within?}' }] };
  const kind = input.kind;
  if (typeof kind !== 'string' || !(GOAL_KINDS as readonly string[]).includes(kind)) {
    return { ok: false, issues: [{ path: '/kind', message: `unknown goal kind ${JSON.stringify(kind)}; expected one of ${GOAL_KINDS.join(', ')}` }] };
  }
  const k = kind as GoalKind;
  for (const key of Object.keys(input)) {
    if (!KEYS[k].includes(key)) fail(`/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, `unknown key "${key}" (a ${k} goal takes ${KEYS[k].join(', ')})`);
  }

  // The event and its filters are an event leaf of the condition language: parse them as one.
  let node: EventNode | null = null;
  if (input.event === undefined) fail('/event', 'is required (an event name, or "*" for any event the user causes)');
  else if (k === 'sum' && input.prop === undefined) fail('/prop', 'is required: the summed property, e.g. "properties.revenue"');
  else {
    const leaf: JsonObject = { event: input.event };
    if (input.where !== undefined) leaf.where = input.where;
    if (k === 'sum') leaf.agg = { fn: 'sum', prop: input.prop as Json };
    const r = parseCondition(leaf);
    if (!r.ok) for (const i of r.issues) fail(i.path.replace(/^\/agg(\/prop)?/, '/prop'), i.message);
    else if (r.value.kind === 'event') node = r.value;
  }
  if (node && node.name !== null && isDerivedEvent(node.name) && !COUNTABLE_DERIVED.has(node.name)) {
    fail('/event', `"${node.name}" is derived by Strata; a goal may count the events users cause, "*", or "$session" (visits)`);
  }
  if (node && node.where.length > 0) {
    // Only conflicts that hold whatever the values (lists included) are claimed: a refusal must be certain.
    const c = findContradiction(node, undefined, { singleValued: false });
    if (c) for (const p of c.paths) fail(p === '/' || p === '' ? '/where' : p, `no event can pass these filters, so the goal can never be met: ${c.message}`);
  }

  const targetKey = k === 'streak' ? 'days' : 'target';
  const raw = input[targetKey];
  let target = Number.NaN;
  if (raw === undefined) fail(`/${targetKey}`, 'is required');
  else if (typeof raw !== 'number' || !Number.isFinite(raw)) fail(`/${targetKey}`, 'must be a number');
  else if (k === 'sum') {
    if (raw <= 0) fail('/target', `must be greater than 0 (a sum of ${raw} is reached before anything happens)`);
    else if (raw > MAX_SUM) fail('/target', `must be at most ${MAX_SUM}`);
    else target = raw;
  } else if (!Number.isInteger(raw)) fail(`/${targetKey}`, 'must be a whole number');
  else if (raw < 1) fail(`/${targetKey}`, `must be at least 1 (${raw} is reached before anything happens)`);
  else if (raw > (k === 'count' ? MAX_COUNT : MAX_DAYS)) fail(`/${targetKey}`, `must be at most ${k === 'count' ? MAX_COUNT : MAX_DAYS}`);
  else target = raw;

  let withinMs: number | null = null;
  if (input.within !== undefined) {
    withinMs = parseDuration(input.within);
    if (withinMs === null) fail('/within', `expected a duration such as "7d" (a whole number 1-999999 and a unit m, h, d or w), got ${JSON.stringify(input.within)}`);
  }
  if (withinMs !== null && !Number.isNaN(target) && (k === 'streak' || k === 'distinctDays') && target > daysIn(withinMs)) {
    fail(`/${targetKey}`, `${k === 'streak' ? `a streak of ${target} days` : `${target} distinct days`} cannot fit within ${String(input.within)} (${daysIn(withinMs)} day${daysIn(withinMs) === 1 ? '' : 's'})`);
  }

  if (issues.length || !node || Number.isNaN(target)) return { ok: false, issues: issues.length ? issues : [{ path: '/', message: 'is not a valid goal' }] };
  const prop = node.agg.fn === 'sum' ? node.agg.prop : null;
  const readsContext = node.where.some((w) => w.path.kind === 'json' && w.path.root === 'context') || (prop?.kind === 'json' && prop.root === 'context');
  return { ok: true, value: { kind: k, event: node.name, where: node.where, target, prop, withinMs, readsContext } };
}

/** Whether an event counts toward a goal (its name and where filters; times are the caller's). */
export function goalFilter(goal: MissionGoal): (e: EventRecord, now: number) => boolean {
  const name = goal.event;
  const nameOk = name === null ? (e: EventRecord) => !isDerivedEvent(e.name) : (e: EventRecord) => e.name === name;
  if (goal.where.length === 0) return nameOk;
  const clauses = goal.where.map((w) => ({ get: eventGetter(w.path), test: compilePredicate(w.predicate) }));
  return (e, now) => {
    if (!nameOk(e)) return false;
    for (const c of clauses) if (!c.test(c.get(e), now)) return false;
    return true;
  };
}

/** The running value of an attempt: count, distinct UTC days, current streak of UTC days, or sum. */
interface Accumulator {
  add(e: EventRecord): void;
  value(): number;
  reset(): void;
  /** Timestamp of the latest event added (streaks break after a day without one). */
  last(): number | null;
}

function accumulator(goal: MissionGoal): Accumulator {
  let last: number | null = null;
  if (goal.kind === 'streak') {
    let day = Number.NaN, run = 0;
    return {
      add(e) {
        const d = Math.floor(e.timestamp / DAY_MS);
        if (d === day) return;
        run = d === day + 1 ? run + 1 : 1;
        day = d;
        last = e.timestamp;
      },
      value: () => run,
      reset() { day = Number.NaN; run = 0; last = null; },
      last: () => last,
    };
  }
  // The condition language's own aggregates: numbers and numeric strings sum, other values are skipped.
  const agg = aggregator(goal.kind === 'sum' ? { fn: 'sum', prop: goal.prop! } : { fn: goal.kind });
  return {
    add(e) { agg.add(e); last = e.timestamp; },
    value: () => agg.result() ?? 0,
    reset() { agg.reset(); last = null; },
    last: () => last,
  };
}

/** Where a user stands on a mission before new events are walked. */
export interface AttemptState {
  readonly startedAt: number;
  readonly completions: number;
  readonly lastCompletedAt: number | null;
}

export interface WalkOptions {
  readonly repeatable: boolean;
  readonly cooldownMs: number;
  /** Events at or after this instant never count (the mission's end). */
  readonly endsAt: number | null;
  /** New completions to find at most (0: report progress only). */
  readonly maxCompletions: number;
}

export interface WalkResult {
  /** Event times of the new completions, in order. */
  readonly completedAt: number[];
  /** Value of the current attempt (for a finished once-only mission: at its completion). */
  readonly progress: number;
  /** Start of the current attempt's counting (its window when the goal has `within`). */
  readonly attemptStart: number;
  /** When the first attempt's countdown began: the attempt base before windows rolled. */
  readonly base: number;
  /** Timestamp of the latest event counted in the current attempt. */
  readonly lastEventAt: number | null;
  /** A once-only mission whose goal was met (now or before). */
  readonly done: boolean;
}

/**
 * Walks a user's events (time order) from their state and finds the completions they make.
 *
 * An attempt counts events at or after its start — the user's start, then for a repeatable
 * mission the last completion plus the cooldown (and strictly after that completion) — and
 * before the mission's end. It completes at the first event with which the value reaches the
 * target. With `within`, the attempt must be met within that long of its start: once-only
 * missions then stop counting; repeatable ones start a fresh window where the last one ended.
 */
export function walkGoal(goal: MissionGoal, matches: (e: EventRecord) => boolean, events: readonly EventRecord[], state: AttemptState, opts: WalkOptions): WalkResult {
  const acc = accumulator(goal);
  const w = goal.withinMs;
  const completedAt: number[] = [];
  let last = state.lastCompletedAt;
  let done = state.completions;
  let i = 0;
  for (;;) {
    const base = last === null ? state.startedAt : Math.max(state.startedAt, last + opts.cooldownMs);
    if (!opts.repeatable && done >= 1) return { completedAt, progress: completedAt.length ? acc.value() : goal.target, attemptStart: base, base, lastEventAt: acc.last(), done: true };
    acc.reset();
    let periodStart = base;
    let hit: number | null = null;
    for (; i < events.length; i++) {
      const e = events[i]!;
      if (e.timestamp < base || (last !== null && e.timestamp <= last)) continue;
      if (opts.endsAt !== null && e.timestamp >= opts.endsAt) { i = events.length; break; }
      if (!matches(e)) continue;
      if (w !== null) {
        const p = base + Math.floor((e.timestamp - base) / w) * w;
        if (p !== periodStart) {
          if (!opts.repeatable) { i = events.length; break; }
          acc.reset();
          periodStart = p;
        }
      }
      acc.add(e);
      if (acc.value() >= goal.target) { hit = e.timestamp; i++; break; }
    }
    if (hit === null || completedAt.length >= opts.maxCompletions) {
      return { completedAt, progress: acc.value(), attemptStart: periodStart, base, lastEventAt: acc.last(), done: false };
    }
    completedAt.push(hit);
    done++;
    last = hit;
    if (!opts.repeatable) return { completedAt, progress: acc.value(), attemptStart: periodStart, base, lastEventAt: acc.last(), done: true };
  }
}

/** A duration in the largest unit that divides it ("2w", "36h", "90m"); null for 0. */
export function durationText(ms: number): string | null {
  if (ms <= 0) return null;
  for (const [unit, size] of [['w', 7 * DAY_MS], ['d', DAY_MS], ['h', 3_600_000], ['m', 60_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.ceil(ms / 60_000)}m`;
}
