/**
 * fast-check arbitraries for the property tests that compare the evaluator and the SQL
 * compilers with the oracle.
 *
 * Everything is drawn from small domains on purpose: the interesting bugs live where values
 * collide (numeric strings against numbers, case variants, window edges hit to the
 * millisecond, equal timestamps in a sequence), and random wide domains almost never
 * collide. Conditions are always valid under docs/conditions.md, so every implementation
 * must evaluate them without failing. Data stays small because each case runs against
 * SQLite and PostgreSQL.
 */
import fc from 'fast-check';
import {
  isDerivedEvent,
  type EventRecord,
  type Json,
  type JsonObject,
  type ProfileRecord,
  type SegmentDefinition,
} from '../data.ts';
import { parseIsoTime } from './oracle.ts';

export interface GeneratedCase {
  now: number;
  condition: Json;
  segments: Record<string, SegmentDefinition>;
  profiles: { profile: ProfileRecord; events: EventRecord[] }[];
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The centre of every generated `now`: 2024-06-15T12:00:00Z. */
export const BASE_NOW = Date.UTC(2024, 5, 15, 12);

/** Durations used in windows, `maxGap`, `within_last` and `more_than_ago`. */
export const DURATIONS = ['1m', '90m', '2h', '1d', '7d', '1w', '30d', '37d'] as const;

export const DURATION_MS: Record<(typeof DURATIONS)[number], number> = {
  '1m': MINUTE,
  '90m': 90 * MINUTE,
  '2h': 2 * HOUR,
  '1d': DAY,
  '7d': 7 * DAY,
  '1w': 7 * DAY,
  '30d': 30 * DAY,
  '37d': 37 * DAY,
};

/** Regular expressions within the supported subset, with no engine-specific corner. */
export const SAFE_PATTERNS = [
  '^a',
  'b$',
  'a.c',
  '[0-9]+',
  '^(ab|c)$',
  '\\d',
  'é',
  '^$',
  'B',
  '^.x$',
  '^(?:a|b)+$',
  '[^a-z]',
  '\\.5',
  '^[A-C]',
  'Σ$',
  '\\W',
  '[\\w-]x',
  'İ',
] as const;

export const EVENT_NAMES = ['a', 'b', 'c', '$pageview', '$session', '$segment_entered'] as const;

const LABELS = ['vip', 'beta', 'churn-risk'] as const;

const SALTS = ['', 'exp-1', 'x'] as const;

/** ISO operands in every allowed form, near BASE_NOW so that they split the data. */
const FIXED_ISO = [
  '2024-06-01',
  '2024-06-14T12:00:00Z',
  '2024-06-15T11:00+02:00',
  '2024-06-08T12:00',
  '2024-06-15T12:00:00',
  '2024-05-16T12:00:00.000Z',
  '2024-06-14T12:00:00.5',
  '2024-06-15T13:30-01:30',
  '2023-01-01',
] as const;

const clone = <T extends Json>(v: T): T => structuredClone(v);

/** Values stored in traits, context and event properties. */
function dataValue(now: number): fc.Arbitrary<Json> {
  return fc
    .constantFrom<Json>(
      0,
      1,
      2.5,
      -3,
      '1',
      '2.5',
      'abc',
      'ABC',
      'Abc',
      'b',
      '',
      'é',
      '😀x',
      'ｚ', // U+FF5A: above the surrogates in UTF-16, below 😀 in code points
      'ΟΔΟΣ', // folds to 'οδοσ' (no final-sigma rule)
      'οδος',
      'İx', // İ has a two-code-point lower case: it stays as it is
      true,
      false,
      null,
      [],
      ['a', 'b'],
      [1, '2'],
      { k: 1 },
      '2024-06-01',
      '2024-06-14T12:00:00Z',
      '2024-06-15T11:00+02:00',
      now - DAY,
      now - 7 * DAY,
      now - 30 * DAY,
      now - 90 * MINUTE,
      now + HOUR,
    )
    .map(clone);
}

/** Objects with a few optional keys: plan, age, score, tags and nested.x. */
function smallObject(now: number): fc.Arbitrary<JsonObject> {
  const v = dataValue(now);
  return fc.record(
    {
      plan: v,
      age: v,
      score: v,
      tags: v,
      nested: fc.oneof({ weight: 3, arbitrary: fc.record({ x: v }) }, { weight: 1, arbitrary: v }),
    },
    { requiredKeys: [] },
  ) as fc.Arbitrary<JsonObject>;
}

/** Event times that land exactly on window edges, inside, outside and in the future. */
function eventTime(now: number): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(0, 90 * MINUTE, 2 * HOUR, DAY, 7 * DAY, 30 * DAY, 37 * DAY).map((o) => now - o) },
    { weight: 1, arbitrary: fc.constantFrom(-1, 1).map((d) => now - 7 * DAY + d) },
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 45 * 24 * 60 }).map((m) => now - m * MINUTE) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 400 * 24 * 60 }).map((m) => now - m * MINUTE) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 * 24 * 60 }).map((m) => now + m * MINUTE) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        Date.UTC(2024, 5, 1),
        Date.UTC(2024, 5, 14, 12),
        Date.UTC(2024, 5, 15, 9),
        Date.UTC(2024, 5, 8, 12),
      ),
    },
  );
}

function arbEvent(now: number): fc.Arbitrary<EventRecord> {
  const v = dataValue(now);
  const path = fc.oneof(fc.constantFrom<Json>('/pricing', '/home', '/PRICING', '/pricing/a'), v);
  return fc.record({
    name: fc.constantFrom(...EVENT_NAMES),
    timestamp: eventTime(now),
    properties: fc.record({ x: v, y: v, path }, { requiredKeys: [] }) as fc.Arbitrary<JsonObject>,
    // `page` and `campaign` are kept with each event by the stores, the rest shared: both paths are exercised.
    context: fc.record({ plan: v, locale: fc.constantFrom<Json>('en-US', 'fr-FR', 'EN-us'), page: fc.record({ path }, { requiredKeys: [] }), campaign: v }, {
      requiredKeys: [],
    }) as fc.Arbitrary<JsonObject>,
  });
}

function arbProfiles(now: number): fc.Arbitrary<GeneratedCase['profiles']> {
  const body = fc.record({
    known: fc.boolean(),
    alsoAnonymous: fc.boolean(),
    traits: smallObject(now),
    context: smallObject(now),
    labels: fc.subarray([...LABELS]),
    events: fc.array(arbEvent(now), { maxLength: 12 }),
  });
  return fc.array(body, { minLength: 1, maxLength: 8 }).map((bodies) =>
    bodies.map((b, i) => {
      const activity = b.events.filter((e) => !isDerivedEvent(e.name)).map((e) => e.timestamp);
      const profile: ProfileRecord = {
        key: `p${i}`,
        userId: b.known ? `u${i}` : null,
        anonymousId: !b.known || b.alsoAnonymous ? `anon-${i}` : null,
        traits: b.traits,
        context: b.context,
        labels: b.labels,
        firstSeen: activity.length === 0 ? null : Math.min(...activity),
        lastSeen: activity.length === 0 ? null : Math.max(...activity),
      };
      return { profile, events: b.events };
    }),
  );
}

// ---------------------------------------------------------------------------------------
// Conditions

type Scalar = string | number | boolean;

interface Operands {
  scalar: fc.Arbitrary<Scalar>;
  ordered: fc.Arbitrary<string | number>;
  text: fc.Arbitrary<string>;
  iso: fc.Arbitrary<string>;
  duration: fc.Arbitrary<string>;
}

function operands(now: number): Operands {
  const isoNearNow = [now - 7 * DAY, now - DAY, now].map((t) => new Date(t).toISOString());
  const orderedValues: (string | number)[] = [
    0, 1, 2.5, -3, 3, '1', '2.5', '01', 'abc', 'ABC', 'ab', 'b', 'B', '', 'é', 'É', '😀', 'ｚ', 'οδοσ', 'i',
    now - DAY, now - 7 * DAY,
  ];
  return {
    scalar: fc.constantFrom<Scalar>(
      ...orderedValues,
      '😀x',
      'Abc',
      'a',
      'vip',
      'VIP',
      'beta',
      'churn-risk',
      'u0',
      'U1',
      'anon-1',
      '$pageview',
      '/pricing',
      '2024-06-01',
      true,
      false,
    ),
    ordered: fc.constantFrom(...orderedValues),
    text: fc.constantFrom('a', 'b', 'A', 'ab', 'bc', 'abc', 'é', 'É', '😀', 'x', '', '/pricing', 'vip', 'VIP', '1', '.5', '-', 'ΟΣ', 'ς', 'İ'),
    iso: fc.constantFrom<string>(...FIXED_ISO, ...isoNearNow),
    duration: fc.constantFrom<string>(...DURATIONS),
  };
}

/** `{op, value?}` for an attribute; `withStringOps: false` for `cmp`. */
function arbOp(o: Operands, withStringOps: boolean, numbers?: fc.Arbitrary<number>): fc.Arbitrary<JsonObject> {
  const scalar = numbers === undefined ? o.scalar : fc.oneof(numbers, o.scalar);
  const ordered = numbers === undefined ? o.ordered : fc.oneof({ weight: 3, arbitrary: numbers }, o.ordered);
  const cases: fc.Arbitrary<JsonObject>[] = [
    fc.record({ op: fc.constantFrom('eq', 'neq'), value: scalar }),
    fc.record({ op: fc.constantFrom('in', 'nin'), value: fc.array(scalar, { minLength: 1, maxLength: 3 }) }),
    fc.record({ op: fc.constantFrom('gt', 'gte', 'lt', 'lte'), value: ordered }),
    fc.record({ op: fc.constant('between'), value: fc.tuple(ordered, ordered) }),
    fc.record({ op: fc.constantFrom('exists', 'not_exists') }),
    fc.record({ op: fc.constantFrom('before', 'after'), value: o.iso }),
    fc.record({ op: fc.constantFrom('within_last', 'more_than_ago'), value: o.duration }),
  ];
  if (withStringOps) {
    cases.push(
      fc.record({
        op: fc.constantFrom('contains', 'not_contains', 'starts_with', 'ends_with'),
        value: o.text,
      }),
      fc.record({ op: fc.constant('matches'), value: fc.constantFrom<string>(...SAFE_PATTERNS) }),
    );
  }
  return fc.oneof(...cases);
}

/** An attribute condition over `paths`, sometimes with `ignoreCase`. */
function arbAttr(o: Operands, paths: readonly string[]): fc.Arbitrary<JsonObject> {
  return fc
    .tuple(
      fc.constantFrom(...paths),
      arbOp(o, true),
      fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.boolean() }),
    )
    .map(([attr, op, ignoreCase]) => (ignoreCase === undefined ? { attr, ...op } : { attr, ...op, ignoreCase }));
}

const PROFILE_PATHS = [
  'userId',
  'anonymousId',
  'known',
  'firstSeen',
  'lastSeen',
  'labels',
  'traits.plan',
  'traits.age',
  'traits.score',
  'traits.tags',
  'traits.nested.x',
  'traits.nested',
  'traits.plan.k',
  'traits.tags.a',
  'traits.missing',
  'context.plan',
  'context.score',
  'context.tags',
  'context.nested.x',
] as const;

const EVENT_PATHS = [
  'event',
  'timestamp',
  'properties.x',
  'properties.y',
  'properties.path',
  'properties.x.k',
  'context.plan',
  'context.locale',
  'context.page.path',
  'context.campaign',
] as const;

const AGG_PROPS = ['properties.x', 'properties.y', 'properties.x.k', 'context.plan'] as const;

function arbWindow(o: Operands): fc.Arbitrary<JsonObject | undefined> {
  const durationPair = fc
    .tuple(fc.constantFrom(...DURATIONS), fc.constantFrom(...DURATIONS))
    .filter(([a, b]) => DURATION_MS[a] !== DURATION_MS[b])
    .map(([a, b]) => (DURATION_MS[a] > DURATION_MS[b] ? { from: a, to: b } : { from: b, to: a }));
  const isoPair = fc
    .tuple(fc.option(o.iso, { nil: undefined }), fc.option(o.iso, { nil: undefined }))
    .map(([a, b]): JsonObject => {
      if (a === undefined && b === undefined) return { after: FIXED_ISO[0] };
      if (a === undefined) return { before: b! };
      if (b === undefined) return { after: a };
      const ta = parseIsoTime(a)!;
      const tb = parseIsoTime(b)!;
      if (ta === tb) return { after: a };
      return ta < tb ? { after: a, before: b } : { after: b, before: a };
    });
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: fc.record({ within: o.duration }) },
    { weight: 1, arbitrary: durationPair },
    { weight: 1, arbitrary: isoPair },
  );
}

function arbAggCmp(o: Operands, now: number): fc.Arbitrary<JsonObject> {
  const counts = fc.constantFrom(0, 1, 2, 3);
  const amounts = fc.constantFrom(-3, 0, 1, 2.5, 3.5, 5);
  const times = fc.constantFrom(now - DAY, now - 7 * DAY, now - 30 * DAY, now);
  const cmp = (numbers: fc.Arbitrary<number>) =>
    fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: arbOp(o, false, numbers) });
  const build = (agg: JsonObject | undefined, c: JsonObject | undefined): JsonObject => {
    const out: JsonObject = {};
    if (agg !== undefined) out.agg = agg;
    if (c !== undefined) out.cmp = c;
    return out;
  };
  return fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(undefined, { fn: 'count' }), cmp(counts)).map(([a, c]) => build(a, c)) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom('sum', 'avg', 'min', 'max'), fc.constantFrom(...AGG_PROPS), cmp(amounts))
        .map(([fn, prop, c]) => build({ fn, prop }, c)),
    },
    { weight: 1, arbitrary: cmp(counts).map((c) => build({ fn: 'distinctDays' }, c)) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('firstAt', 'lastAt'), cmp(times))
        .map(([fn, c]) => build({ fn }, c)),
    },
  );
}

function arbEventLeaf(o: Operands, now: number): fc.Arbitrary<JsonObject> {
  return fc
    .tuple(
      fc.constantFrom('*', 'zzz', ...EVENT_NAMES),
      fc.array(arbAttr(o, EVENT_PATHS), { maxLength: 2 }),
      fc.boolean(),
      arbWindow(o),
      arbAggCmp(o, now),
    )
    .map(([event, where, writeEmptyWhere, window, aggCmp]) => {
      const out: JsonObject = { event };
      if (where.length > 0 || writeEmptyWhere) out.where = where;
      if (window !== undefined) out.window = window;
      return { ...out, ...aggCmp };
    });
}

function arbSequence(o: Operands): fc.Arbitrary<JsonObject> {
  const step = fc
    .tuple(fc.constantFrom('*', ...EVENT_NAMES), fc.array(arbAttr(o, EVENT_PATHS), { maxLength: 1 }))
    .map(([event, where]): JsonObject => (where.length > 0 ? { event, where } : { event }));
  return fc
    .tuple(
      fc.array(step, { minLength: 1, maxLength: 3 }),
      arbWindow(o),
      fc.option(o.duration, { nil: undefined }),
    )
    .map(([steps, window, maxGap]) => {
      const out: JsonObject = { sequence: steps };
      if (window !== undefined) out.window = window;
      if (maxGap !== undefined) out.maxGap = maxGap;
      return out;
    });
}

function arbBucket(): fc.Arbitrary<JsonObject> {
  const range = fc.oneof(
    fc.constantFrom<[number, number]>([0, 5000], [5000, 10000], [0, 10000], [0, 1]),
    fc
      .tuple(fc.integer({ min: 0, max: 10000 }), fc.integer({ min: 0, max: 10000 }))
      .filter(([a, b]) => a !== b)
      .map(([a, b]): [number, number] => (a < b ? [a, b] : [b, a])),
  );
  return fc
    .tuple(fc.constantFrom(...SALTS), range)
    .map(([salt, [from, to]]) => ({ bucket: { salt, from, to } }));
}

/** A condition of at most `levels` levels (a leaf is one level). */
function arbCondition(now: number, segmentIds: readonly string[], levels: number): fc.Arbitrary<Json> {
  const o = operands(now);
  const leaves: fc.WeightedArbitrary<Json>[] = [
    { weight: 4, arbitrary: arbAttr(o, PROFILE_PATHS) },
    { weight: 4, arbitrary: arbEventLeaf(o, now) },
    { weight: 1, arbitrary: arbSequence(o) },
    { weight: 1, arbitrary: arbBucket() },
  ];
  if (segmentIds.length > 0) {
    leaves.push({ weight: 2, arbitrary: fc.constantFrom(...segmentIds).map((segment) => ({ segment })) });
  }
  const leaf = fc.oneof(...leaves);
  let condition: fc.Arbitrary<Json> = leaf;
  for (let level = 2; level <= levels; level++) {
    const child = condition;
    condition = fc.oneof(
      { weight: 3, arbitrary: leaf },
      { weight: 1, arbitrary: fc.array(child, { maxLength: 3 }).map((all) => ({ all })) },
      { weight: 1, arbitrary: fc.array(child, { maxLength: 3 }).map((any) => ({ any })) },
      { weight: 1, arbitrary: child.map((not) => ({ not })) },
    );
  }
  return condition;
}

function arbSegment(
  now: number,
  keys: readonly string[],
  referable: readonly string[],
): fc.Arbitrary<SegmentDefinition> {
  const list = fc.subarray([...keys], { maxLength: Math.min(2, keys.length) });
  return fc.record({
    condition: fc.oneof(
      { weight: 4, arbitrary: arbCondition(now, referable, 2) },
      { weight: 1, arbitrary: fc.constant(null) },
    ),
    include: list,
    exclude: list,
  });
}

/** A whole case: `now`, profiles with events, referenced segments and a valid condition. */
export const arbCase: fc.Arbitrary<GeneratedCase> = fc
  .oneof(fc.constant(0), fc.integer({ min: -720, max: 720 }))
  .map((minutes) => BASE_NOW + minutes * MINUTE)
  .chain((now) =>
    fc.tuple(fc.constant(now), arbProfiles(now), fc.integer({ min: 0, max: 2 })),
  )
  .chain(([now, profiles, segmentCount]) => {
    const keys = profiles.map((p) => p.profile.key);
    const ids = ['s1', 's2'].slice(0, segmentCount);
    // s1 references nothing and s2 may reference s1, so there is never a cycle.
    const definitions = ids.map((_, i) => arbSegment(now, keys, ids.slice(0, i)));
    return fc
      .tuple(fc.tuple(...definitions), arbCondition(now, ids, 4))
      .map(([defs, condition]) => {
        const segments: Record<string, SegmentDefinition> = {};
        ids.forEach((id, i) => {
          segments[id] = defs[i];
        });
        return { now, condition, segments, profiles };
      });
  });
