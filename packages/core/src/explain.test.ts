import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventRecord, Json, ProfileRecord, SegmentDefinition } from './data.ts';
import { bucketOf } from './bucket.ts';
import { explainCondition, explanationLines, type Explanation, type ExplainResolver } from './explain.ts';
import { arbCase, BASE_NOW, loadFixtureCases, oracleMembers, parseWithSegments } from './testing/index.ts';

const fixtures = await loadFixtureCases();
const runs = Number(process.env.STRATA_PROPERTY_RUNS ?? 3000);

function resolverFor(segments: Readonly<Record<string, SegmentDefinition>>, profile: ProfileRecord): ExplainResolver {
  return (id) => {
    const s = segments[id];
    if (!s) return undefined;
    return {
      name: `segment ${id}`,
      condition: s.condition === null ? null : parseWithSegments(s.condition, segments),
      included: s.include.includes(profile.key),
      excluded: s.exclude.includes(profile.key),
    };
  };
}

function explainedMembers(condition: Json, profiles: readonly { profile: ProfileRecord; events: EventRecord[] }[], segments: Record<string, SegmentDefinition>, now: number): string[] {
  const c = parseWithSegments(condition, segments);
  return profiles.filter(({ profile, events }) => explainCondition(c, profile, events, now, resolverFor(segments, profile)).result).map(({ profile }) => profile.key).sort();
}

/** Every node's result follows from its children's (all, any, not), so the tree is consistent as well as the root. */
function consistent(e: Explanation): boolean {
  const kids = e.children ?? [];
  if (!kids.every(consistent)) return false;
  switch (e.kind) {
    case 'all': return e.result === kids.every((k) => k.result);
    case 'any': return e.result === kids.some((k) => k.result);
    case 'not': return e.result === !kids[0]!.result;
    default: return true;
  }
}

describe('explain agrees with the semantics', () => {
  it.each(fixtures.cases.map((c) => [c.name, c] as const))('fixture %s', (_n, c) => {
    expect(explainedMembers(c.condition, c.profiles, c.segments, c.now)).toEqual(c.expected);
  });

  it('property: the explained result is the oracle\'s, and the tree is consistent', () => {
    fc.assert(fc.property(arbCase, (c) => {
      expect(explainedMembers(c.condition, c.profiles, c.segments, c.now)).toEqual(oracleMembers(c.condition, c.profiles, c.segments, c.now));
      const cond = parseWithSegments(c.condition, c.segments);
      for (const { profile, events } of c.profiles) expect(consistent(explainCondition(cond, profile, events, c.now, resolverFor(c.segments, profile)))).toBe(true);
    }), { numRuns: Math.max(200, Math.floor(runs / 3)) });
  });
});

describe('explain says what each leaf saw', () => {
  const now = BASE_NOW;
  const DAY = 86_400_000;
  const profile: ProfileRecord = { key: '1', userId: 'u1', anonymousId: null, traits: { plan: 'free' }, context: {}, labels: ['beta'], firstSeen: now - 40 * DAY, lastSeen: now - DAY };
  const views = (n: number, path: string, ago: number): EventRecord[] =>
    Array.from({ length: n }, (_, i) => ({ name: '$pageview', timestamp: now - ago - i * 1000, properties: { path }, context: {} }));
  const events = [...views(7, '/pricing', DAY), ...views(3, '/pricing', 60 * DAY), ...views(2, '/', DAY),
    { name: 'purchase', timestamp: now - 2 * DAY, properties: { revenue: 120.5 }, context: {} }];
  const explain = (condition: Json) => explainCondition(parseWithSegments(condition, {}), profile, events, now);

  it('counts a behaviour in its window', () => {
    const e = explain({ event: '$pageview', where: [{ attr: 'properties.path', op: 'eq', value: '/pricing' }], window: { within: '30d' }, cmp: { op: 'gte', value: 5 } });
    expect(e).toMatchObject({ result: true, observed: 7, path: '' });
    expect(e.text).toBe('$pageview count where properties.path = "/pricing": 7 in the last 30 days (needs ≥ 5)');
  });

  it('says why a user is not a member, leaf by leaf, with JSON paths', () => {
    const e = explain({ all: [{ attr: 'traits.plan', op: 'eq', value: 'pro' }, { not: { event: 'purchase', window: { within: '7d' } } }, { attr: 'labels', op: 'contains', value: 'beta' }] });
    expect(e.result).toBe(false);
    expect(e.text).toBe('all of 3: 1 holds');
    expect(e.children!.map((c) => [c.path, c.result])).toEqual([['/all/0', false], ['/all/1', false], ['/all/2', true]]);
    expect(e.children![0]!.text).toBe('traits.plan is "free" (needs = "pro")');
    expect(e.children![0]!.observed).toBe('free');
    expect(e.children![1]!.children![0]!).toMatchObject({ path: '/all/1/not', result: true, observed: 1 });
    expect(explanationLines(e)).toEqual([
      '✗ traits.plan is "free" (needs = "pro")',
      "✗ not: purchase count is 1 in the last 7 days, so 'purchase count ≥ 1 in the last 7 days' holds",
      '✓ labels is ["beta"] (needs contains "beta")',
    ]);
  });

  it('says that a negation held, leading with what the leaf under it saw', () => {
    const noPurchase = explain({ not: { event: 'purchase', window: { within: '1d' } } });
    expect(noPurchase).toMatchObject({ result: true, kind: 'not' });
    expect(noPurchase.children![0]).toMatchObject({ result: false, observed: 0 });
    expect(explanationLines(noPurchase)).toEqual(["✓ not: purchase count is 0 in the last 1 day, so 'purchase count ≥ 1 in the last 1 day' does not hold"]);
    expect(explanationLines(explain({ all: [{ not: { attr: 'traits.plan', op: 'eq', value: 'pro' } }] })))
      .toEqual(['✓ not: traits.plan is "free", so \'traits.plan = "pro"\' does not hold']);
    expect(explanationLines(explain({ not: { bucket: { salt: 's', from: 0, to: 10000 } } }))).toEqual([`✗ not: bucket of "s" is ${bucketOf('s', 'u1')}, so '0 ≤ bucket of "s" < 10000' holds`]);
    expect(explanationLines(explain({ not: { sequence: [{ event: '$pageview' }, { event: 'purchase' }], window: { within: '30d' } } })))
      .toEqual(["✓ not: the sequence $pageview → purchase was not found in order in the last 30 days, so 'sequence $pageview → purchase in order in the last 30 days' does not hold"]);
    // A group under the negation: the negation's line, then the group's lines indented.
    const group = explain({ not: { all: [{ attr: 'traits.plan', op: 'eq', value: 'free' }, { event: 'signup' }] } });
    expect(explanationLines(group)).toEqual([
      '✓ not: the inner condition (all of 2: 1 holds) does not hold',
      '  ✓ traits.plan is "free" (needs = "free")',
      '  ✗ signup count: 0 all time (needs ≥ 1)',
    ]);
    // A double negation: each level says its own verdict.
    expect(explanationLines(explain({ not: { not: { attr: 'traits.plan', op: 'eq', value: 'free' } } }))).toEqual([
      '✓ not: the inner condition (not: traits.plan is "free", so \'traits.plan = "free"\' holds) does not hold',
      '  ✗ not: traits.plan is "free", so \'traits.plan = "free"\' holds',
    ]);
  });

  it('shows sums, missing values, times, windows and sequences', () => {
    expect(explain({ event: 'purchase', agg: { fn: 'sum', prop: 'properties.revenue' }, cmp: { op: 'gte', value: 500 } }).text)
      .toBe('sum of properties.revenue over purchase: 120.5 all time (needs ≥ 500)');
    expect(explain({ attr: 'traits.country', op: 'eq', value: 'DE' }).text).toBe('traits.country is missing (needs = "DE")');
    expect(explain({ attr: 'firstSeen', op: 'within_last', value: '7d' }).text).toBe(`firstSeen is ${new Date(now - 40 * DAY).toISOString()} (needs within the last 7 days)`);
    expect(explain({ event: '*', window: { from: '37d', to: '7d' }, cmp: { op: 'eq', value: 0 } })).toMatchObject({ result: true, observed: 0, text: 'any event count: 0 between 37 days and 7 days ago (needs = 0)' });
    expect(explain({ event: 'signup', agg: { fn: 'lastAt' }, cmp: { op: 'within_last', value: '1d' } })).toMatchObject({ result: false, observed: null, text: 'last signup: none all time (needs within the last 1 day)' });
    const seq = explain({ sequence: [{ event: 'purchase' }, { event: '$pageview' }], window: { within: '30d' } });
    expect(seq).toMatchObject({ result: true, observed: [1, 9] });
    expect(seq.text).toBe('sequence purchase → $pageview in the last 30 days: found in order (matching events per step: 1, 9)');
    expect(explain({ sequence: [{ event: '$pageview' }, { event: 'purchase' }], window: { within: '30d' } })).toMatchObject({ result: false, observed: [9, 1] });
  });

  it('opens referenced segments, and manual lists decide before the condition', () => {
    const segments: Record<string, SegmentDefinition> = { pro: { condition: { attr: 'traits.plan', op: 'eq', value: 'pro' }, include: ['1'], exclude: [] } };
    const e = explainCondition(parseWithSegments({ segment: 'pro' }, segments), profile, events, now, resolverFor(segments, profile));
    expect(e).toMatchObject({ result: true, text: 'member of "segment pro": yes (included by hand)' });
    expect(e.children![0]!.result).toBe(false);
  });
});
