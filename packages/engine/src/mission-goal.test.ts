import { describe, expect, it } from 'vitest';
import type { EventRecord } from '@strata/core';
import { durationText, goalFilter, parseGoal, walkGoal, type AttemptState, type MissionGoal, type WalkOptions } from './mission-goal.ts';

const D = 86_400_000;
const T0 = Date.UTC(2024, 5, 15, 12);
const ev = (name: string, timestamp: number, properties: Record<string, number | string> = {}): EventRecord => ({ name, timestamp, properties, context: {} });

function goal(json: unknown): MissionGoal {
  const r = parseGoal(json);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value;
}

const once: WalkOptions = { repeatable: false, cooldownMs: 0, endsAt: null, maxCompletions: 100 };
const start: AttemptState = { startedAt: T0, completions: 0, lastCompletedAt: null };
const walk = (g: MissionGoal, events: EventRecord[], opts: WalkOptions = once, state = start) => {
  const f = goalFilter(g);
  return walkGoal(g, (e) => f(e, T0), [...events].sort((a, b) => a.timestamp - b.timestamp), state, opts);
};

describe('parseGoal', () => {
  it('reads the four kinds with where filters through the condition language', () => {
    expect(goal({ kind: 'count', event: 'purchase', where: [{ attr: 'properties.plan', op: 'eq', value: 'pro' }], target: 3 })).toMatchObject({ kind: 'count', event: 'purchase', target: 3, withinMs: null });
    expect(goal({ kind: 'streak', event: '*', days: 5 })).toMatchObject({ kind: 'streak', event: null, target: 5 });
    expect(goal({ kind: 'sum', event: 'purchase', prop: 'properties.revenue', target: 99.5, within: '30d' })).toMatchObject({ target: 99.5, withinMs: 30 * D, prop: { kind: 'json', root: 'properties', keys: ['revenue'] } });
    expect(goal({ kind: 'distinctDays', event: '$session', target: 3, within: '1w' }).target).toBe(3);
  });

  it.each([
    [{ kind: 'count', event: 'x', target: 0 }, '/target'],
    [{ kind: 'count', event: 'x', target: 1.5 }, '/target'],
    [{ kind: 'sum', event: 'x', prop: 'properties.v', target: -1 }, '/target'],
    [{ kind: 'sum', event: 'x', target: 5 }, '/prop'],
    [{ kind: 'sum', event: 'x', prop: 'timestamp', target: 5 }, '/prop'],
    [{ kind: 'streak', event: 'x', days: 8, within: '7d' }, '/days'],
    [{ kind: 'streak', event: 'x', target: 3 }, '/target'],
    [{ kind: 'distinctDays', event: 'x', target: 3, within: '48h' }, '/target'],
    [{ kind: 'count', event: '$mission_completed', target: 1 }, '/event'],
    [{ kind: 'count', event: '$segment_entered', target: 1 }, '/event'],
    [{ kind: 'count', target: 1 }, '/event'],
    [{ kind: 'count', event: 'x', target: 1, within: '7 days' }, '/within'],
    [{ kind: 'count', event: 'x', where: [{ attr: 'properties.p', op: 'nope', value: 1 }], target: 1 }, '/where/0/op'],
    [{ kind: 'count', event: 'x', where: [{ attr: 'properties.p', op: 'exists' }, { attr: 'properties.p', op: 'not_exists' }], target: 1 }, '/where'],
    [{ kind: 'count', event: 'x', where: [{ attr: 'event', op: 'eq', value: 'y' }], target: 1 }, '/where'],
    [{ kind: 'median', event: 'x', target: 1 }, '/kind'],
    [{ kind: 'count', event: 'x', target: 1, extra: true }, '/extra'],
  ])('refuses %j at %s', (json, path) => {
    const r = parseGoal(json);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map((i) => i.path)).toContain(path);
  });

  it('allows $session and a streak as long as its window', () => {
    expect(parseGoal({ kind: 'streak', event: '$session', days: 7, within: '7d' }).ok).toBe(true);
  });

  it('writes cooldowns back in the largest unit', () => {
    expect([durationText(0), durationText(7 * D), durationText(2 * D), durationText(90 * 60_000)]).toEqual([null, '1w', '2d', '90m']);
  });
});

describe('walkGoal', () => {
  it('count completes at exactly the Nth matching event, whatever order they arrived in', () => {
    const g = goal({ kind: 'count', event: 'buy', where: [{ attr: 'properties.ok', op: 'eq', value: 1 }], target: 3 });
    const evs = [ev('buy', T0 + 5, { ok: 1 }), ev('buy', T0 + 1, { ok: 1 }), ev('buy', T0 + 2, { ok: 0 }), ev('other', T0 + 3), ev('buy', T0 + 4, { ok: 1 }), ev('buy', T0 + 9, { ok: 1 })];
    expect(walk(g, evs)).toMatchObject({ completedAt: [T0 + 5], done: true, progress: 3 });
    expect(walk(g, evs.slice(0, 4))).toMatchObject({ completedAt: [], progress: 2 });
    // Before the user's start nothing counts.
    expect(walk(g, [ev('buy', T0 - 1, { ok: 1 }), ...evs.slice(0, 5)])).toMatchObject({ completedAt: [T0 + 5] });
  });

  it('distinct days and streaks are UTC days; a gap restarts the streak', () => {
    const d = goal({ kind: 'distinctDays', event: 'visit', target: 3 });
    expect(walk(d, [ev('visit', T0), ev('visit', T0 + 1000), ev('visit', T0 + 2 * D), ev('visit', T0 + 5 * D), ev('visit', T0 + 6 * D)]).completedAt).toEqual([T0 + 5 * D]);
    const s = goal({ kind: 'streak', event: 'visit', days: 3 });
    const days = [0, 1, 3, 4, 4.1, 5, 6].map((k) => ev('visit', T0 + k * D));
    expect(walk(s, days)).toMatchObject({ completedAt: [T0 + 5 * D] });
    expect(walk(s, days.slice(0, 5))).toMatchObject({ completedAt: [], progress: 2 });
  });

  it('sum completes when the running sum first reaches the target (numeric strings count, others do not)', () => {
    const g = goal({ kind: 'sum', event: 'purchase', prop: 'properties.amount', target: 100 });
    const evs = [ev('purchase', T0 + 1, { amount: 40 }), ev('purchase', T0 + 2, { amount: 'lots' }), ev('purchase', T0 + 3, { amount: '50' }), ev('purchase', T0 + 4, { amount: 10 }), ev('purchase', T0 + 5, { amount: 10 })];
    expect(walk(g, evs)).toMatchObject({ completedAt: [T0 + 4], progress: 100 });
  });

  it('within: once-only stops at the window; repeatable starts a new window where the last ended', () => {
    const g = goal({ kind: 'count', event: 'x', target: 2, within: '1d' });
    const evs = [ev('x', T0 + 1), ev('x', T0 + D + 1), ev('x', T0 + D + 2)];
    expect(walk(g, evs)).toMatchObject({ completedAt: [], progress: 1, done: false });
    // The next attempt starts empty after the completion.
    expect(walk(g, evs, { ...once, repeatable: true })).toMatchObject({ completedAt: [T0 + D + 2], progress: 0 });
  });

  it('repeatable with a cooldown: events in the cooldown do not count towards the next completion', () => {
    const g = goal({ kind: 'count', event: 'x', target: 2 });
    const evs = [1, 2, 3, 4, 60, 61, 62].map((m) => ev('x', T0 + m * 60_000));
    const r = walk(g, evs, { ...once, repeatable: true, cooldownMs: 30 * 60_000 });
    expect(r.completedAt).toEqual([T0 + 2 * 60_000, T0 + 61 * 60_000]);
    // Minute 62 falls in the cooldown after the completion at 61.
    expect(r.progress).toBe(0);
    expect(walk(g, evs, { ...once, repeatable: true, cooldownMs: 0 }).completedAt).toHaveLength(3);
    // From stored state: one completion at minute 2 already recorded.
    expect(walk(g, evs, { ...once, repeatable: true, cooldownMs: 30 * 60_000 }, { startedAt: T0, completions: 1, lastCompletedAt: T0 + 2 * 60_000 }).completedAt).toEqual([T0 + 61 * 60_000]);
  });

  it('events at or after the mission end never count', () => {
    const g = goal({ kind: 'count', event: 'x', target: 2 });
    expect(walk(g, [ev('x', T0 + 1), ev('x', T0 + 10)], { ...once, endsAt: T0 + 10 })).toMatchObject({ completedAt: [], progress: 1 });
  });
});
