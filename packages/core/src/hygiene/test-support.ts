/**
 * Test support for the hygiene property tests: small worlds of profiles and events whose
 * values collide on purpose with the operands (numeric strings next to numbers, case
 * variants, lists, window edges), conditions drawn from small pools so that conflicts and
 * equal keys are frequent, semantics-preserving rewrites and near-miss mutations.
 */
import fc from 'fast-check';
import type { Condition } from '../ast.ts';
import { isDerivedEvent, type EventRecord, type Json, type JsonObject, type ProfileRecord, type SegmentDefinition } from '../data.ts';
import { parseCondition } from '../parse.ts';
import { oracleMatches } from '../testing/oracle.ts';
import type { SegmentLookup } from './canonical.ts';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const BASE_NOW = Date.UTC(2024, 5, 15, 12);
const iso = (t: number) => new Date(t).toISOString();

export interface World {
  readonly now: number;
  readonly profiles: { readonly profile: ProfileRecord; readonly events: EventRecord[] }[];
  readonly segments: Record<string, SegmentDefinition>;
}

// ---------------------------------------------------------------------------------------
// Data

function values(now: number): Json[] {
  return [
    0, 1, 5, 2.5, -3, '1', '1.0', '01', '5', '5.0', '2.5', '2.50', 'a', 'A', 'b', 'ab', 'pro', 'PRO', 'vip', '', 'é', 'É',
    true, false, null, [], ['a', 'b'], ['pro'], [5, '5.0'], ['PRO', 'vip'], { k: 1 },
    '2024-06-01', iso(now - 2 * DAY), now - DAY, now - 7 * DAY, now - 30 * DAY, now + HOUR, now - 3 * HOUR,
  ];
}

const arbValue = (now: number): fc.Arbitrary<Json> => fc.constantFrom(...values(now)).map((v) => structuredClone(v));

function arbTime(now: number): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(0, HOUR, 3 * HOUR, DAY, 2 * DAY, 7 * DAY, 8 * DAY, 30 * DAY, 31 * DAY).map((o) => now - o) },
    { weight: 1, arbitrary: fc.constantFrom(-1, 1).chain((d) => fc.constantFrom(DAY, 7 * DAY, 30 * DAY).map((o) => now - o + d)) },
    // Several events in the last days, on both sides of midnight.
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 9 * 24 * 4 }).map((q) => now - q * 15 * MINUTE) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 40 * 24 }).map((h) => now - h * HOUR) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 48 }).map((h) => now + h * HOUR) },
    { weight: 1, arbitrary: fc.constantFrom(Date.UTC(2024, 5, 1), Date.UTC(2024, 5, 1) - 1, Date.UTC(2024, 4, 20)) },
  );
}

function arbEvent(now: number): fc.Arbitrary<EventRecord> {
  const v = arbValue(now);
  return fc.record({
    name: fc.constantFrom('a', 'a', 'b', '$pageview', '$session'),
    timestamp: arbTime(now),
    properties: fc.record({ x: v, plan: v }, { requiredKeys: [] }) as fc.Arbitrary<JsonObject>,
    context: fc.record({ plan: v }, { requiredKeys: [] }) as fc.Arbitrary<JsonObject>,
  });
}

const LABEL_SETS: string[][] = [[], ['a'], ['a', 'b'], ['A'], ['pro', 'vip'], ['5'], ['b', 'vip', 'a']];

/**
 * One profile per value of the pool (in traits.x, and shifted in the other attributes), all
 * sharing one event history: every attribute meets every colliding value in every world.
 */
function arbSpread(now: number): fc.Arbitrary<World['profiles']> {
  const vs = values(now);
  return fc.array(arbEvent(now), { maxLength: 8 }).map((events) =>
    vs.map((_, i) => {
      const v = (k: number) => structuredClone(vs[(i * k) % vs.length]!);
      const times = events.filter((e) => !isDerivedEvent(e.name)).map((e) => e.timestamp);
      const own = events.map((e, j) => ({ ...e, properties: { ...e.properties, x: (j + i) % 3 === 0 ? v(1) : e.properties.x ?? null } as JsonObject }));
      return {
        profile: {
          key: `v${i}`, userId: i % 3 === 0 ? null : `u${i % 4}`, anonymousId: i % 2 ? `anon-${i}` : null,
          traits: { x: v(1), plan: v(7), age: v(11) }, context: { plan: v(5) }, labels: LABEL_SETS[i % LABEL_SETS.length]!,
          firstSeen: times.length ? Math.min(...times) : null, lastSeen: times.length ? Math.max(...times) : null,
        },
        events: own,
      };
    }),
  );
}

function arbProfiles(now: number): fc.Arbitrary<World['profiles']> {
  const v = arbValue(now);
  const body = fc.record({
    userId: fc.option(fc.constantFrom('u1', 'u2', 'U1', '5', ''), { nil: null }),
    anonymousId: fc.option(fc.constantFrom('anon-1', 'anon-2'), { nil: null }),
    traits: fc.record({ plan: v, age: v, x: v }, { requiredKeys: [] }) as fc.Arbitrary<JsonObject>,
    context: fc.record({ plan: v }, { requiredKeys: [] }) as fc.Arbitrary<JsonObject>,
    labels: fc.subarray(['a', 'b', 'pro', 'vip', 'A', '5']),
    // Short histories too: firstSeen and lastSeen close together.
    events: fc.oneof(fc.array(arbEvent(now), { minLength: 1, maxLength: 2 }), fc.array(arbEvent(now), { maxLength: 12 })),
  });
  return fc.array(body, { minLength: 1, maxLength: 6 }).map((bs) =>
    bs.map((b, i) => {
      const times = b.events.filter((e) => !isDerivedEvent(e.name)).map((e) => e.timestamp);
      return {
        profile: {
          key: `p${i}`, userId: b.userId, anonymousId: b.anonymousId, traits: b.traits, context: b.context, labels: b.labels,
          firstSeen: times.length ? Math.min(...times) : null, lastSeen: times.length ? Math.max(...times) : null,
        },
        events: b.events,
      };
    }),
  );
}

/** Lists in traits, context and event properties/context replaced by their first element: the single-value world. */
export function singleValued(world: World): World {
  const flat = (v: Json): Json => {
    if (Array.isArray(v)) return v.length === 0 ? v : flat(v[0]!);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, flat(x)]));
    return v;
  };
  const obj = (o: JsonObject) => flat(o) as JsonObject;
  return {
    ...world,
    profiles: world.profiles.map(({ profile, events }) => ({
      profile: { ...profile, traits: obj(profile.traits), context: obj(profile.context) },
      events: events.map((e) => ({ ...e, properties: obj(e.properties), context: obj(e.context) })),
    })),
  };
}

// ---------------------------------------------------------------------------------------
// Conditions

const SCALARS: Json[] = [1, '1', '1.0', 5, '5', 2.5, '2.5', 'a', 'A', 'pro', 'PRO', 'vip', true, false, ''];
const NUMBERS = [0, 1, 2.5, 5, 10, -3];
const DURATIONS = ['1d', '24h', '7d', '1w', '168h', '30d', '2h', '90m'];
const ATTR_PATHS = ['traits.plan', 'traits.age', 'traits.x', 'context.plan', 'labels', 'firstSeen', 'lastSeen', 'userId', 'known'];
const WHERE_PATHS = ['properties.x', 'properties.plan', 'event', 'timestamp', 'context.plan'];

function isoOperands(now: number): string[] {
  return ['2024-06-01', '2024-06-01T02:00+02:00', iso(now - 7 * DAY), iso(now - DAY), iso(now - 2 * DAY), '2024-05-20'];
}

function arbOp(now: number, stringOps: boolean): fc.Arbitrary<JsonObject> {
  const scalar = fc.constantFrom(...SCALARS);
  const ordered = fc.oneof(fc.constantFrom(...NUMBERS), fc.constantFrom<Json>('1', 'a', 'pro'), fc.constantFrom(now - DAY, now - 7 * DAY));
  const cases: fc.Arbitrary<JsonObject>[] = [
    fc.record({ op: fc.constantFrom('eq', 'neq'), value: scalar }),
    fc.record({ op: fc.constantFrom('in', 'nin'), value: fc.array(scalar, { minLength: 1, maxLength: 3 }) }),
    fc.record({ op: fc.constantFrom('gt', 'gte', 'lt', 'lte'), value: ordered }),
    fc.record({ op: fc.constant('between'), value: fc.tuple(ordered, ordered) as fc.Arbitrary<Json> }),
    fc.record({ op: fc.constantFrom('exists', 'not_exists') }),
    fc.record({ op: fc.constantFrom('before', 'after'), value: fc.constantFrom(...isoOperands(now)) }),
    fc.record({ op: fc.constantFrom('within_last', 'more_than_ago'), value: fc.constantFrom(...DURATIONS) }),
  ];
  if (stringOps) {
    cases.push(
      fc.record({ op: fc.constantFrom('contains', 'not_contains', 'starts_with', 'ends_with'), value: fc.constantFrom('a', 'A', 'pro', '5', '') }),
      fc.record({ op: fc.constant('matches'), value: fc.constantFrom('^a', 'o$', '[0-9]') }),
    );
  }
  return fc.oneof(...cases);
}

function arbAttr(now: number, paths: readonly string[]): fc.Arbitrary<JsonObject> {
  return fc.tuple(fc.constantFrom(...paths), arbOp(now, true), fc.constantFrom<boolean | undefined>(undefined, undefined, true, false))
    .map(([attr, op, ic]) => (ic === undefined ? { attr, ...op } : { attr, ...op, ignoreCase: ic }));
}

function arbWindow(now: number): fc.Arbitrary<JsonObject | undefined> {
  return fc.oneof(
    fc.constant(undefined),
    fc.record({ within: fc.constantFrom(...DURATIONS) }),
    fc.constantFrom<JsonObject>({ from: '30d', to: '7d' }, { from: '8d', to: '1d' }, { from: '7d', to: '2h' }, { from: '2d', to: '1d' }),
    fc.constantFrom<JsonObject>({ after: iso(now - 7 * DAY) }, { before: iso(now - DAY) }, { after: '2024-06-01', before: iso(now - 2 * DAY) }),
  );
}

function arbAggCmp(now: number): fc.Arbitrary<JsonObject> {
  const counts = fc.constantFrom<Json>(0, 1, 2, 3, 8, '1', 2.5, -1);
  const cmpOf = (vals: fc.Arbitrary<Json>) => fc.oneof(
    fc.record({ op: fc.constantFrom('eq', 'neq', 'gt', 'gte', 'lt', 'lte'), value: vals }),
    fc.record({ op: fc.constantFrom('in', 'nin'), value: fc.array(vals, { minLength: 1, maxLength: 2 }) }),
    fc.record({ op: fc.constant('between'), value: fc.tuple(vals, vals) as fc.Arbitrary<Json> }),
    fc.record({ op: fc.constantFrom('exists', 'not_exists') }),
  ).filter((c) => (c.op !== 'gt' && c.op !== 'gte' && c.op !== 'lt' && c.op !== 'lte' && c.op !== 'between') || ![c.value].flat().some((x) => typeof x === 'boolean'));
  const times = fc.constantFrom<Json>(now - DAY, now - 7 * DAY, now);
  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom<Json | undefined>(undefined, { fn: 'count' }), fc.option(cmpOf(counts), { nil: undefined })).map(([agg, cmp]) => ({ ...(agg ? { agg } : {}), ...(cmp ? { cmp } : {}) })) },
    { weight: 2, arbitrary: cmpOf(counts).map((cmp) => ({ agg: { fn: 'distinctDays' }, cmp })) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom('sum', 'avg', 'min', 'max'), cmpOf(fc.constantFrom<Json>(0, 1, 5, '5', 2.5, 'a'))).map(([fn, cmp]) => ({ agg: { fn, prop: 'properties.x' }, cmp })) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom('firstAt', 'lastAt'), fc.oneof(cmpOf(times), fc.record({ op: fc.constantFrom('within_last', 'more_than_ago'), value: fc.constantFrom(...DURATIONS) }) as fc.Arbitrary<JsonObject>))
        .map(([fn, cmp]) => ({ agg: { fn }, cmp })),
    },
  );
}

function arbEventLeaf(now: number, names: readonly string[]): fc.Arbitrary<JsonObject> {
  return fc.tuple(fc.constantFrom(...names), fc.array(arbAttr(now, WHERE_PATHS), { maxLength: 2 }), arbWindow(now), arbAggCmp(now))
    .map(([event, where, window, ac]) => ({ event, ...(where.length ? { where } : {}), ...(window ? { window } : {}), ...ac }));
}

/** Counts (or distinct days) of a few events over nested windows and filters. */
function arbCountLeaf(now: number, names: readonly string[]): fc.Arbitrary<JsonObject> {
  const where = fc.constantFrom<Json[]>([], [], [{ attr: 'properties.x', op: 'eq', value: 1 }], [{ attr: 'properties.plan', op: 'in', value: ['pro', 'vip'] }]);
  const cmp = fc.oneof(
    fc.record({ op: fc.constantFrom('eq', 'neq', 'gt', 'gte', 'lt', 'lte'), value: fc.constantFrom<Json>(0, 1, 2, 3, 8, '1', 2.5) }),
    fc.record({ op: fc.constant('between'), value: fc.constantFrom<Json>([1, 3], [0, 0], [2, 9]) }),
  );
  return fc.tuple(fc.constantFrom(...names), where, arbWindow(now), fc.constantFrom<Json | undefined>(undefined, undefined, { fn: 'distinctDays' }), fc.option(cmp, { nil: undefined }))
    .map(([event, w, window, agg, c]) => ({ event, ...(w.length ? { where: w } : {}), ...(window ? { window } : {}), ...(agg ? { agg } : {}), ...(c ? { cmp: c } : {}) }));
}

/** Operands that look alike (5, "5", "5.0", "05", case variants) on one attribute. */
function arbLookAlike(): fc.Arbitrary<JsonObject> {
  const v = fc.constantFrom<Json>(5, '5', '5.0', '05', 'a', 'A', true);
  const op = fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constantFrom('eq', 'eq', 'neq'), value: v }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('in', 'nin'), value: fc.array(v, { minLength: 1, maxLength: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('gt', 'gte', 'lt', 'lte'), value: fc.constantFrom<Json>(1, 5, 4.5, '5', 'a') }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('between'), value: fc.constantFrom<Json>([1, 5], [5, 5], ['5', '5'], [5, 1]) }) },
  );
  return fc.tuple(fc.constantFrom('traits.x', 'traits.plan', 'labels'), op, fc.boolean())
    .map(([attr, o, ic]) => ({ attr, ...o, ...(ic ? { ignoreCase: true } : {}) }));
}

/** Two counts of one event over windows and filters that nest one way or the other. */
function arbCountPair(now: number): fc.Arbitrary<JsonObject> {
  const windows: (JsonObject | undefined)[] = [
    undefined, { within: '1d' }, { within: '7d' }, { within: '30d' }, { from: '30d', to: '7d' }, { from: '7d', to: '1d' }, { from: '8d', to: '2h' },
    { after: new Date(now - 7 * DAY).toISOString() }, { after: new Date(now - 2 * DAY).toISOString(), before: new Date(now - DAY).toISOString() },
  ];
  const cmps: (JsonObject | undefined)[] = [undefined, { op: 'eq', value: 0 }, { op: 'lt', value: 1 }, { op: 'gte', value: 2 }, { op: 'lte', value: 1 }, { op: 'gt', value: 0 }];
  const leaf = fc.tuple(fc.constantFrom('a', 'a', '*'), fc.constantFrom<Json[]>([], [], [{ attr: 'properties.x', op: 'exists' }]), fc.constantFrom(...windows), fc.constantFrom(...cmps), fc.constantFrom(undefined, undefined, { fn: 'distinctDays' }))
    .map(([event, where, window, cmp, agg]) => ({ event, ...(where.length ? { where } : {}), ...(window ? { window } : {}), ...(cmp ? { cmp } : {}), ...(agg ? { agg } : {}) }));
  return fc.tuple(leaf, leaf, fc.boolean()).map(([a, b, negate]) => ({ all: [a, negate ? { not: b } : b] }));
}

/** firstSeen against lastSeen with time operators (firstSeen is never after lastSeen). */
function arbSeenPair(now: number): fc.Arbitrary<JsonObject> {
  const op = fc.oneof(
    fc.record({ op: fc.constantFrom('within_last', 'more_than_ago'), value: fc.constantFrom('2h', '1d', '2d', '7d', '30d') }),
    fc.record({ op: fc.constantFrom('before', 'after'), value: fc.constantFrom(new Date(now - DAY).toISOString(), new Date(now - 3 * DAY).toISOString(), '2024-06-01') }),
    fc.record({ op: fc.constantFrom('gt', 'gte', 'lt', 'lte'), value: fc.constantFrom(now - DAY, now - 3 * DAY, now - 7 * DAY) }),
  );
  return fc.tuple(op, op).map(([f, l]) => ({ all: [{ attr: 'firstSeen', ...f }, { attr: 'lastSeen', ...l }] }));
}

/** Distinct days over short windows, where the bound of UTC days a window can touch bites. */
function arbDistinctDays(now: number): fc.Arbitrary<JsonObject> {
  const window = fc.constantFrom<JsonObject>(
    { within: '2h' }, { within: '1d' }, { within: '24h' }, { within: '2d' }, { from: '2d', to: '1d' }, { from: '3d', to: '1d' },
    { after: new Date(now - 2 * DAY).toISOString().slice(0, 10), before: new Date(now).toISOString().slice(0, 10) },
    { after: new Date(now - 2 * DAY).toISOString(), before: new Date(now).toISOString() },
  );
  return fc.tuple(fc.constantFrom('a', '*'), window, fc.constantFrom('gte', 'gt', 'eq'), fc.constantFrom(1, 2, 3, 4))
    .map(([event, w, op, value]) => ({ event, window: w, agg: { fn: 'distinctDays' }, cmp: { op, value } }));
}

function arbSequence(now: number): fc.Arbitrary<JsonObject> {
  const step = fc.tuple(fc.constantFrom('a', 'b', '*'), fc.array(arbAttr(now, WHERE_PATHS), { maxLength: 1 }))
    .map(([event, where]): JsonObject => (where.length ? { event, where } : { event }));
  return fc.tuple(fc.array(step, { minLength: 1, maxLength: 2 }), arbWindow(now), fc.option(fc.constantFrom(...DURATIONS), { nil: undefined }))
    .map(([sequence, window, maxGap]) => ({ sequence, ...(window ? { window } : {}), ...(maxGap ? { maxGap } : {}) }));
}

const arbBucket = fc.tuple(fc.constantFrom('x', 'y'), fc.constantFrom<[number, number]>([0, 5000], [5000, 10000], [2000, 7000], [0, 1], [0, 10000], [4000, 5000]))
  .map(([salt, [from, to]]) => ({ bucket: { salt, from, to } }));

export function arbLeaf(now: number, segmentIds: readonly string[]): fc.Arbitrary<Json> {
  const leaves: fc.WeightedArbitrary<Json>[] = [
    { weight: 5, arbitrary: arbAttr(now, ATTR_PATHS) },
    { weight: 4, arbitrary: arbEventLeaf(now, ['a', 'b', '*', '$session']) },
    { weight: 1, arbitrary: arbSequence(now) },
    { weight: 1, arbitrary: arbBucket },
  ];
  if (segmentIds.length) leaves.push({ weight: 1, arbitrary: fc.constantFrom(...segmentIds).map((segment) => ({ segment })) });
  return fc.oneof(...leaves);
}

/** A random condition of up to `levels` levels. */
export function arbCondition(now: number, segmentIds: readonly string[], levels = 3): fc.Arbitrary<Json> {
  const leaf = arbLeaf(now, segmentIds);
  let c: fc.Arbitrary<Json> = leaf;
  for (let i = 1; i < levels; i++) {
    const child = c;
    c = fc.oneof(
      { weight: 3, arbitrary: leaf },
      { weight: 1, arbitrary: fc.array(child, { maxLength: 3 }).map((all) => ({ all })) },
      { weight: 1, arbitrary: fc.array(child, { maxLength: 3 }).map((any) => ({ any })) },
      { weight: 1, arbitrary: child.map((not) => ({ not })) },
    );
  }
  return c;
}

/** The kinds of leaves the conflict-prone conditions focus on, one at a time. */
export const FOCI = [
  'traits.plan', 'traits.age', 'labels', 'firstSeen and lastSeen', 'userId and known', 'event leaves', 'counts', 'buckets',
  'sequences', 'distinct days', 'pairs of counts', 'firstSeen against lastSeen', 'segments', 'look-alike values',
] as const;
export type Focus = (typeof FOCI)[number];

function focusLeaf(now: number, focus: Focus, segmentIds: readonly string[]): fc.Arbitrary<Json> {
  switch (focus) {
    case 'traits.plan': return arbAttr(now, ['traits.plan']);
    case 'traits.age': return arbAttr(now, ['traits.age']);
    case 'labels': return arbAttr(now, ['labels']);
    case 'firstSeen and lastSeen': return arbAttr(now, ['firstSeen', 'lastSeen']);
    case 'userId and known': return arbAttr(now, ['userId', 'known']);
    case 'event leaves': return arbEventLeaf(now, ['a']);
    case 'counts': return arbCountLeaf(now, ['a', '*', '$session']);
    case 'buckets': return arbBucket;
    case 'sequences': return arbSequence(now);
    case 'distinct days': return arbDistinctDays(now);
    case 'pairs of counts': return arbCountPair(now);
    case 'firstSeen against lastSeen': return arbSeenPair(now);
    case 'look-alike values': return arbLookAlike();
    case 'segments': return segmentIds.length ? fc.oneof(fc.constantFrom(...segmentIds).map((segment) => ({ segment })), arbLeaf(now, segmentIds)) : arbLeaf(now, segmentIds);
  }
}

/**
 * Conditions likely to contradict themselves: one to four parts on one focus (a trait, the
 * first/last-seen times, the counts of one event, the buckets of a salt…), sometimes negated,
 * sometimes split into alternatives, sometimes with an unrelated leaf.
 */
export function arbConflictProne(now: number, segmentIds: readonly string[], only?: Focus): fc.Arbitrary<Json> {
  return (only === undefined ? fc.constantFrom(...FOCI) : fc.constant(only)).chain((f) => {
    const one = focusLeaf(now, f, segmentIds);
    const leaf = fc.oneof({ weight: 4, arbitrary: one }, { weight: 1, arbitrary: one.map((not) => ({ not })) }, { weight: 1, arbitrary: arbLeaf(now, segmentIds) });
    const part = fc.oneof({ weight: 4, arbitrary: leaf }, { weight: 1, arbitrary: fc.array(leaf, { minLength: 1, maxLength: 2 }).map((any) => ({ any })) });
    // Often just one or two parts, so that each kind of conflict is also tried on its own.
    return fc.oneof(
      { weight: 1, arbitrary: one },
      { weight: 2, arbitrary: fc.array(part, { minLength: 2, maxLength: 2 }).map((all) => ({ all })) },
      { weight: 2, arbitrary: fc.array(part, { minLength: 2, maxLength: 4 }).map((all) => ({ all })) },
    );
  });
}

function arbSegments(now: number): fc.Arbitrary<Record<string, SegmentDefinition>> {
  const def = (refs: string[]) => fc.record({
    condition: fc.oneof({ weight: 5, arbitrary: fc.oneof(arbCondition(now, refs, 2), arbConflictProne(now, refs)) }, { weight: 1, arbitrary: fc.constant(null) }),
    include: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.constant(['p0']) }),
    exclude: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.constant(['p1']) }),
  });
  return fc.tuple(def([]), def(['s1'])).map(([s1, s2]) => ({ s1, s2 }));
}

/** A world: `now`, profiles with events, and segments s1 and s2 (s2 may reference s1). */
export const arbWorld: fc.Arbitrary<World> = fc.integer({ min: -720, max: 719 })
  .map((m) => BASE_NOW + m * MINUTE)
  .chain((now) => fc.record({ now: fc.constant(now), profiles: arbProfiles(now), spread: arbSpread(now), segments: arbSegments(now) }))
  .map(({ now, profiles, spread, segments }) => ({ now, profiles: [...profiles, ...spread], segments }));

export const SEGMENT_IDS = ['s1', 's2'] as const;

// ---------------------------------------------------------------------------------------
// Evaluation

export function parseIn(world: World, c: Json): Condition {
  const r = parseCondition(c, { segmentCondition: (id) => (id in world.segments ? world.segments[id]!.condition : undefined) });
  if (!r.ok) throw new Error(`invalid condition ${JSON.stringify(c)}: ${JSON.stringify(r.issues)}`);
  return r.value;
}

export const isValidIn = (world: World, c: Json): boolean =>
  parseCondition(c, { segmentCondition: (id) => (id in world.segments ? world.segments[id]!.condition : undefined) }).ok;

/** Segments whose members are exactly their condition are inlined; the others stay references. */
export function lookupIn(world: World): SegmentLookup {
  return (id) => {
    const d = world.segments[id];
    if (!d || d.condition === null || d.include.length || d.exclude.length) return null;
    return parseIn(world, d.condition);
  };
}

/** The times each condition is evaluated at: the world's now, and a day before and after. */
export const nowsOf = (world: World): number[] => [world.now, world.now - DAY, world.now + 3 * HOUR, world.now + 2 * DAY];

export function holdsFor(world: World, c: Json): boolean[] {
  const out: boolean[] = [];
  for (const now of nowsOf(world)) for (const { profile, events } of world.profiles) out.push(oracleMatches(c, profile, events, world.segments, now));
  return out;
}

// ---------------------------------------------------------------------------------------
// Rewrites

/** A small deterministic generator, so that one drawn seed drives a whole rewrite. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const chance = (r: Rand, p: number) => r() < p;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
function shuffle<T>(r: Rand, xs: readonly T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [a[i], a[j]] = [a[j]!, a[i]!]; }
  return a;
}

const UNIT_MS: Record<string, number> = { m: MINUTE, h: HOUR, d: DAY, w: 7 * DAY };
const durMs = (d: string) => Number(d.slice(0, -1)) * UNIT_MS[d.slice(-1)]!;

/** Another spelling of the same duration. */
function respell(r: Rand, d: string): string {
  const ms = durMs(d);
  const ok = Object.entries(UNIT_MS).filter(([, u]) => ms % u === 0 && ms / u <= 999_999).map(([k, u]) => `${ms / u}${k}`);
  return pick(r, ok);
}

/** Another spelling of the same instant (offsets, Z or none, fractions). */
function respellIso(r: Rand, s: string): string {
  const t = Date.parse(s.length === 10 ? `${s}T00:00:00Z` : /[Z+-]\d\d:\d\d$|Z$/.test(s) ? s : `${s}Z`);
  if (Number.isNaN(t)) return s;
  const d = new Date(t);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const choice = Math.floor(r() * 3);
  if (choice === 0) return d.toISOString();
  if (choice === 1 && d.getUTCMilliseconds() === 0) {
    const e = new Date(t + 2 * HOUR);
    return `${pad(e.getUTCFullYear(), 4)}-${pad(e.getUTCMonth() + 1)}-${pad(e.getUTCDate())}T${pad(e.getUTCHours())}:${pad(e.getUTCMinutes())}:${pad(e.getUTCSeconds())}+02:00`;
  }
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

const NEGATION: Record<string, string> = { neq: 'eq', nin: 'in', not_contains: 'contains', not_exists: 'exists' };
const NEGATED: Record<string, string> = { eq: 'neq', in: 'nin', contains: 'not_contains', exists: 'not_exists' };

/** Same meaning, other words: the operator of an attribute or where clause. */
function rewriteOp(r: Rand, c: JsonObject, isLabels: boolean): JsonObject {
  let out: JsonObject = { ...c };
  const op = out.op as string;
  if (op === 'in' || op === 'nin') {
    let list = shuffle(r, out.value as Json[]);
    if (chance(r, 0.3)) list = [...list, pick(r, list)];
    out.value = list;
    if (new Set(list.map((x) => JSON.stringify(x))).size === 1 && chance(r, 0.5)) out = { ...out, op: op === 'in' ? 'eq' : 'neq', value: list[0]! };
  } else if ((op === 'eq' || op === 'neq') && chance(r, 0.4)) {
    out.op = op === 'eq' ? 'in' : 'nin';
    out.value = chance(r, 0.5) ? [out.value!] : [out.value!, out.value!];
  } else if (op === 'eq' && (typeof out.value === 'number' || typeof out.value === 'string') && chance(r, 0.3)) {
    out = { ...out, op: 'between', value: [out.value, out.value] };
  } else if (isLabels && (op === 'contains' || op === 'not_contains') && chance(r, 0.5)) {
    out.op = op === 'contains' ? 'eq' : 'neq';
  } else if ((op === 'within_last' || op === 'more_than_ago') && typeof out.value === 'string') {
    out.value = respell(r, out.value);
  } else if ((op === 'before' || op === 'after') && typeof out.value === 'string') {
    out.value = respellIso(r, out.value);
  }
  // ignoreCase where it cannot matter, or spelled out as false.
  const noCase = ['exists', 'not_exists', 'before', 'after', 'within_last', 'more_than_ago'].includes(out.op as string) ||
    (['gt', 'gte', 'lt', 'lte', 'eq', 'neq'].includes(out.op as string) && typeof out.value === 'number');
  if (out.ignoreCase === undefined && chance(r, 0.3)) out.ignoreCase = false;
  else if (out.ignoreCase === undefined && noCase && chance(r, 0.5)) out.ignoreCase = true;
  else if (out.ignoreCase === false && chance(r, 0.5)) delete out.ignoreCase;
  return out;
}

function rewriteWindow(r: Rand, w: JsonObject | undefined): JsonObject | undefined {
  if (!w) return w;
  if ('within' in w) return { within: respell(r, w.within as string) };
  if ('from' in w) return { from: respell(r, w.from as string), to: respell(r, w.to as string) };
  const out: JsonObject = {};
  if (w.after !== undefined) out.after = respellIso(r, w.after as string);
  if (w.before !== undefined) out.before = respellIso(r, w.before as string);
  return out;
}

/** Count comparisons in other words (the count is an integer ≥ 0). */
function rewriteCountCmp(r: Rand, cmp: JsonObject | undefined): { cmp: JsonObject | undefined; negate: boolean } {
  const c = cmp ?? { op: 'gte', value: 1 };
  const v = c.value;
  const k = typeof v === 'number' && Number.isInteger(v) ? v : null;
  const choice = Math.floor(r() * 6);
  if (choice === 0 && k !== null && c.op === 'gt') return { cmp: { op: 'gte', value: k + 1 }, negate: false };
  if (choice === 0 && k !== null && c.op === 'gte' && k >= 1) return { cmp: { op: 'gt', value: k - 1 }, negate: false };
  if (choice === 1 && k !== null && c.op === 'lt' && k >= 1) return { cmp: { op: 'lte', value: k - 1 }, negate: false };
  if (choice === 1 && k !== null && c.op === 'eq') return { cmp: { op: 'between', value: [k, k] }, negate: false };
  if (choice === 2 && k !== null && ['gt', 'gte', 'lt', 'lte'].includes(c.op as string)) {
    // not of the complementary comparison.
    const comp: Record<string, string> = { gt: 'lte', gte: 'lt', lt: 'gte', lte: 'gt' };
    return { cmp: { op: comp[c.op as string]!, value: k }, negate: true };
  }
  if (choice === 3 && k !== null && k >= 0) return { cmp: { ...c, value: String(k) }, negate: false };
  if (choice === 4 && cmp === undefined) return { cmp: { op: 'gte', value: 1 }, negate: false };
  if (choice === 5 && (c.op === 'neq' || c.op === 'nin' || c.op === 'not_exists')) return { cmp: { ...c, op: NEGATION[c.op as string]! }, negate: true };
  return { cmp, negate: false };
}

/** A semantics-preserving rewrite of a condition (valid in `world`). */
export function rewrite(world: World, c: Json, r: Rand, depth = 0): Json {
  let out = rewriteNode(world, c as JsonObject, r, depth);
  if (depth < 6) {
    const w = r();
    if (w < 0.08) out = { all: [out] };
    else if (w < 0.16) out = { any: [out] };
    else if (w < 0.22) out = { not: { not: out } };
  }
  return out;
}

function rewriteNode(world: World, c: JsonObject, r: Rand, depth: number): Json {
  const kids = (xs: Json[]) => xs.map((x) => rewrite(world, x, r, depth + 1));
  if ('all' in c || 'any' in c) {
    const kind = 'all' in c ? 'all' : 'any';
    let list = shuffle(r, kids(c[kind] as Json[]));
    if (list.length && chance(r, 0.2)) list = [...list, list[0]!];
    if (list.length >= 3 && chance(r, 0.3)) list = [list[0]!, { [kind]: list.slice(1) }];
    if (chance(r, 0.2)) {
      // De Morgan.
      const other = kind === 'all' ? 'any' : 'all';
      return { not: { [other]: list.map((x) => ({ not: x })) } };
    }
    return { [kind]: list };
  }
  if ('not' in c) {
    const inner = c.not as JsonObject;
    if ('not' in inner) return chance(r, 0.5) ? rewrite(world, inner.not!, r, depth + 1) : { not: rewrite(world, inner, r, depth + 1) };
    if ('attr' in inner && NEGATED[inner.op as string] && chance(r, 0.5)) {
      return rewriteOp(r, { ...inner, op: NEGATED[inner.op as string]! }, inner.attr === 'labels');
    }
    return { not: rewrite(world, inner, r, depth + 1) };
  }
  if ('attr' in c) {
    if (NEGATION[c.op as string] && chance(r, 0.3)) return { not: rewriteOp(r, { ...c, op: NEGATION[c.op as string]! }, c.attr === 'labels') };
    return rewriteOp(r, c, c.attr === 'labels');
  }
  if ('event' in c) {
    const out: JsonObject = { event: c.event! };
    const where = c.where as JsonObject[] | undefined;
    if (where !== undefined) {
      let ws = shuffle(r, where.map((w) => rewriteOp(r, w, false)));
      if (ws.length && chance(r, 0.2)) ws = [...ws, ws[0]!];
      if (ws.length || chance(r, 0.5)) out.where = ws;
    } else if (chance(r, 0.2)) out.where = [];
    const window = rewriteWindow(r, c.window as JsonObject | undefined);
    if (window) out.window = window;
    const agg = c.agg as JsonObject | undefined;
    const fn = (agg?.fn as string | undefined) ?? 'count';
    if (agg) out.agg = agg;
    else if (chance(r, 0.3)) out.agg = { fn: 'count' };
    let negate = false;
    if (fn === 'count' || fn === 'distinctDays') {
      const rc = rewriteCountCmp(r, c.cmp as JsonObject | undefined);
      if (rc.cmp) out.cmp = rc.cmp;
      negate = rc.negate;
    } else if (c.cmp) {
      const cmp = c.cmp as JsonObject;
      if (NEGATION[cmp.op as string] && chance(r, 0.5)) { out.cmp = { ...cmp, op: NEGATION[cmp.op as string]! }; negate = true; }
      else if (typeof cmp.value === 'number' && (fn !== 'firstAt' && fn !== 'lastAt') && chance(r, 0.3)) out.cmp = { ...cmp, value: String(cmp.value) };
      else out.cmp = cmp;
    }
    return negate ? { not: out } : out;
  }
  if ('sequence' in c) {
    const steps = c.sequence as JsonObject[];
    const window = rewriteWindow(r, c.window as JsonObject | undefined);
    if (steps.length === 1 && chance(r, 0.5)) {
      const s = steps[0]!;
      return { event: s.event!, ...(s.where ? { where: s.where } : {}), ...(window ? { window } : {}) };
    }
    const out: JsonObject = { sequence: steps.map((s) => (s.where ? { ...s, where: (s.where as JsonObject[]).map((w) => rewriteOp(r, w, false)) } : s)) };
    if (window) out.window = window;
    if (c.maxGap !== undefined) out.maxGap = respell(r, c.maxGap as string);
    return out;
  }
  if ('segment' in c) {
    const d = world.segments[c.segment as string];
    if (d && d.condition !== null && !d.include.length && !d.exclude.length && chance(r, 0.6)) return rewrite(world, d.condition, r, depth + 1);
    return c;
  }
  return c;
}

// ---------------------------------------------------------------------------------------
// Mutations: small changes that may or may not keep the meaning

/** A near-miss change somewhere in a condition (the result may be invalid; callers check). */
export function mutate(c: Json, r: Rand): Json {
  const nodes: JsonObject[] = [];
  const collect = (x: Json): void => {
    if (x === null || typeof x !== 'object' || Array.isArray(x)) return;
    nodes.push(x);
    for (const k of ['all', 'any']) if (Array.isArray(x[k])) (x[k] as Json[]).forEach(collect);
    if (x.not) collect(x.not);
    if (Array.isArray(x.where)) (x.where as Json[]).forEach(collect);
    if (x.cmp) collect(x.cmp);
  };
  const copy = structuredClone(c);
  collect(copy);
  const n = pick(r, nodes);
  const numberish = (v: Json): Json =>
    typeof v === 'number' ? pick(r, [String(v), v + 1, v - 0.5, -v]) : typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? pick(r, [Number(v), `${v}.0`, `0${v}`]) : typeof v === 'string' ? pick(r, [v.toUpperCase(), v.toLowerCase(), `${v}x`]) : v;
  if ('op' in n) {
    const op = n.op as string;
    const choice = Math.floor(r() * 6);
    if (choice === 0 && 'value' in n && !Array.isArray(n.value)) n.value = numberish(n.value!);
    else if (choice === 0 && Array.isArray(n.value) && n.value.length) { const i = Math.floor(r() * n.value.length); n.value[i] = numberish(n.value[i]!); }
    else if (choice === 1) n.ignoreCase = !(n.ignoreCase === true);
    else if (choice === 2) n.op = ({ gt: 'gte', gte: 'gt', lt: 'lte', lte: 'lt', eq: 'contains', contains: 'eq', neq: 'nin', in: 'eq', within_last: 'more_than_ago', before: 'after', exists: 'not_exists' } as Record<string, string>)[op] ?? op;
    else if (choice === 3 && op === 'between' && Array.isArray(n.value)) { n.op = 'gte'; n.value = n.value[0]!; }
    else if (choice === 4 && Array.isArray(n.value) && n.value.length > 1) n.value = n.value.slice(1);
    else if (choice === 5 && typeof n.value === 'string' && /^\d+[mhdw]$/.test(n.value)) n.value = `${Number(n.value.slice(0, -1)) + 1}${n.value.slice(-1)}`;
    else if ('attr' in n) n.attr = pick(r, ['traits.plan', 'traits.x', 'labels', 'firstSeen', 'context.plan']);
  } else if ('event' in n) {
    const choice = Math.floor(r() * 4);
    if (choice === 0) n.event = pick(r, ['a', 'b', '*']);
    else if (choice === 1) { if (n.window) delete n.window; else n.window = { within: '7d' }; }
    else if (choice === 2) { if (Array.isArray(n.where) && n.where.length) n.where = n.where.slice(1); else n.agg = { fn: 'distinctDays' }; }
    else n.window = pick<Json>(r, [{ within: '1d' }, { from: '2d', to: '1d' }, { within: '8d' }]);
  } else if ('all' in n || 'any' in n) {
    const k = 'all' in n ? 'all' : 'any';
    const list = n[k] as Json[];
    if (list.length && chance(r, 0.5)) list.pop();
    else { n[k === 'all' ? 'any' : 'all'] = list; delete n[k]; }
  } else if ('not' in n) {
    const inner = n.not!;
    delete n.not;
    Object.assign(n, inner);
  } else if ('bucket' in n) {
    const b = n.bucket as JsonObject;
    b.to = Math.min(10000, (b.to as number) + 1);
  }
  return copy;
}
