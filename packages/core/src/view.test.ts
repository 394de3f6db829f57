import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toTime } from './values.ts';
import type { Json } from './data.ts';
import { arbCase, DURATION_MS, DURATIONS, EVENT_NAMES, loadFixtureCases, oracleMembers, parseWithSegments, viewMembers, viewOf, viewResolver } from './testing/index.ts';
import { compileView } from './view.ts';

type Case = typeof arbCase extends fc.Arbitrary<infer T> ? T : never;
const fixtures = await loadFixtureCases();
const runs = Number(process.env.STRATA_PROPERTY_RUNS ?? 3000);

describe('fixture cases: the view evaluator (the live engine\'s)', () => {
  it.each(fixtures.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(viewMembers(c.condition, c.profiles, c.segments, c.now)).toEqual(c.expected);
  });
});

describe('property: the view evaluator agrees with the naive oracle', () => {
  it('on random conditions and data', () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        expect(viewMembers(c.condition, c.profiles, c.segments, c.now)).toEqual(oracleMembers(c.condition, c.profiles, c.segments, c.now));
      }),
      { numRuns: runs },
    );
  });
});

describe('property: next() is the earliest instant the value can change with time alone', () => {
  /**
   * With durations drawn from DURATIONS, a value can only change with time at t + d, where t
   * is a time in the data (an event's timestamp, a time-valued attribute or property) and d
   * is 0 or one of the durations. So checking every such instant before next() — and the
   * instant just before each — proves the value constant on [now, next).
   */
  const durations = [0, ...Object.values(DURATION_MS)];
  const timesIn = (v: unknown, out: Set<number>): void => {
    if (Array.isArray(v)) { for (const x of v) timesIn(x, out); return; }
    if (v && typeof v === 'object') { for (const x of Object.values(v)) timesIn(x, out); return; }
    const t = toTime(v);
    if (Number.isFinite(t)) out.add(t);
  };
  const check = (c: Case) => {
    const f = compileView(parseWithSegments(c.condition, c.segments), viewResolver(c.segments));
    const base = new Set<number>();
    for (const { profile, events } of c.profiles) {
      timesIn([profile.traits, profile.context, profile.firstSeen, profile.lastSeen], base);
      for (const e of events) timesIn([e.timestamp, e.properties, e.context], base);
    }
    const instants = [...base].flatMap((t) => durations.map((d) => t + d)).filter((t) => t > c.now).sort((a, b) => a - b);
    for (const { profile, events } of c.profiles) {
      const view = viewOf(profile, events);
      const at = (t: number) => oracleMembers(c.condition, [{ profile, events }], c.segments, t).length === 1;
      const v0 = f.test(view, c.now);
      expect(v0).toBe(at(c.now));
      const next = f.next(view, c.now);
      expect(next).toBeGreaterThan(c.now);
      for (const t of instants) {
        if (t >= next) break;
        expect(at(t), `value changed at ${t}, before next() = ${next}`).toBe(v0);
      }
      if (next !== Infinity) {
        expect(at(next - 1), 'value changed just before next()').toBe(v0);
        // The engine re-checks at next(): the view evaluator must be right there too.
        expect(f.test(view, next)).toBe(at(next));
      }
    }
  };
  it('on random conditions and data', () => {
    fc.assert(fc.property(arbCase, check), { numRuns: runs });
  });

  /** Conditions made only of what ages with time: relative windows, within_last / more_than_ago in where, cmp and attributes. */
  const duration = fc.constantFrom(...DURATIONS);
  const relative = fc.record({ op: fc.constantFrom('within_last', 'more_than_ago'), value: duration });
  const timedLeaf: fc.Arbitrary<Json> = fc.oneof(
    fc.record({
      event: fc.constantFrom('*', ...EVENT_NAMES),
      where: fc.array(fc.tuple(fc.constantFrom('timestamp', 'properties.x', 'properties.y'), relative).map(([attr, r]) => ({ attr, ...r })), { maxLength: 2 }),
      agg: fc.record({ fn: fc.constantFrom('firstAt', 'lastAt', 'count') }),
      window: fc.option(fc.record({ within: duration }), { nil: undefined }),
    }).map(({ window, ...leaf }) => (window ? { ...leaf, window } : leaf)).chain((leaf) => (leaf.agg.fn === 'count' ? fc.constant(leaf) : relative.map((cmp) => ({ ...leaf, cmp })))),
    fc.tuple(fc.constantFrom('firstSeen', 'lastSeen', 'traits.plan', 'traits.score'), relative).map(([attr, r]) => ({ attr, ...r })),
  );
  const timedCondition: fc.Arbitrary<Json> = fc.oneof(timedLeaf, fc.record({ all: fc.array(timedLeaf, { maxLength: 3 }) }), fc.record({ not: timedLeaf }));
  it('on conditions that age with time', () => {
    fc.assert(fc.property(fc.tuple(arbCase, timedCondition).map(([c, condition]) => ({ ...c, condition })), check), { numRuns: Math.max(300, Math.floor(runs / 3)) });
  });
});
