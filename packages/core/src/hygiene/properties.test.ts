/**
 * Property tests of the static hygiene checks against the naive oracle (testing/oracle.ts):
 * a contradiction found is never satisfied, equal canonical keys never disagree, rewrites that
 * keep the meaning keep the key, and the canonical tree written back means the same.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Json, JsonObject } from '../data.ts';
import { canonicalize, canonicalKey, toConditionJson } from './canonical.ts';
import { findContradiction } from './contradiction.ts';
import {
  FOCI, SEGMENT_IDS, arbCondition, arbConflictProne, arbWorld, holdsFor, isValidIn, lookupIn, mutate, parseIn, rewrite, rng,
  singleValued, type World,
} from './test-support.ts';

const RUNS = Number(process.env.HYGIENE_RUNS ?? 1);
const runs = (n: number) => ({ numRuns: Math.round(n * RUNS) });

/** Follows a JSON Pointer into a value; undefined when it leads nowhere. */
function at(doc: Json, pointer: string): Json | undefined {
  if (pointer === '/' || pointer === '') return doc;
  let cur: Json | undefined = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const k = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = Array.isArray(cur) ? cur[Number(k)] : (cur as JsonObject)[k];
  }
  return cur;
}

const worldAnd = (f: (w: World) => fc.Arbitrary<Json>) => arbWorld.chain((w) => fc.tuple(fc.constant(w), f(w)));

describe('findContradiction is sound', () => {
  /** The property: a contradiction found is satisfied by no profile, history and time tried. */
  function soundness(arb: (w: World) => fc.Arbitrary<Json>, numRuns: number): { tried: number; found: number; strict: number } {
    const n = { tried: 0, found: 0, strict: 0 };
    fc.assert(
      fc.property(worldAnd(arb), ([world, cond]) => {
        n.tried++;
        const c = parseIn(world, cond);
        const r = findContradiction(c, lookupIn(world));
        if (r) {
          n.found++;
          // Traits, context and properties hold single values here: the one approximation.
          expect(holdsFor(singleValued(world), cond).some(Boolean), `${r.message} ${JSON.stringify(cond)}`).toBe(false);
          expect(r.paths.length).toBeGreaterThan(0);
          for (const p of r.paths) expect(at(cond, p), p).toBeDefined();
        }
        const s = findContradiction(c, lookupIn(world), { singleValued: false });
        if (s) {
          n.strict++;
          // Without the approximation a claim must hold on lists too.
          expect(holdsFor(world, cond).some(Boolean), `${s.message} ${JSON.stringify(cond)}`).toBe(false);
        }
      }),
      runs(numRuns),
    );
    return n;
  }

  it.each(FOCI.map((f) => [f]))('(a) on conditions that focus on %s', (focus) => {
    const n = soundness((w) => arbConflictProne(w.now, SEGMENT_IDS, focus), 500);
    // The generator must produce contradictions, or the property says nothing.
    expect(n.found).toBeGreaterThan(n.tried * 0.04);
  });

  it('(a) on random conditions and conflict-prone ones of every focus', () => {
    const n = soundness((w) => fc.oneof({ weight: 3, arbitrary: arbConflictProne(w.now, SEGMENT_IDS) }, { weight: 1, arbitrary: arbCondition(w.now, SEGMENT_IDS, 3) }), 1500);
    expect(n.found).toBeGreaterThan(n.tried * 0.15);
    expect(n.strict).toBeGreaterThan(n.tried * 0.1);
  });
});

describe('canonicalKey is sound and catches rewrites', () => {
  it('(b) a semantics-preserving rewrite keeps the key (and the oracle agrees)', () => {
    fc.assert(
      fc.property(worldAnd((w) => arbCondition(w.now, SEGMENT_IDS, 4)), fc.integer(), ([world, a], seed) => {
        const b = rewrite(world, a, rng(seed));
        expect(isValidIn(world, b), JSON.stringify(b)).toBe(true);
        expect(holdsFor(world, b)).toEqual(holdsFor(world, a));
        const look = lookupIn(world);
        expect(canonicalKey(parseIn(world, b), look), `${JSON.stringify(a)}\n→ ${JSON.stringify(b)}`).toBe(canonicalKey(parseIn(world, a), look));
      }),
      runs(1500),
    );
  });

  it('(b) conditions with equal keys agree everywhere: near-miss mutations', () => {
    let same = 0, different = 0;
    fc.assert(
      fc.property(worldAnd((w) => fc.oneof(arbCondition(w.now, SEGMENT_IDS, 3), arbConflictProne(w.now, SEGMENT_IDS))), fc.integer(), fc.boolean(), ([world, a], seed, again) => {
        const r = rng(seed);
        let b = mutate(a, r);
        if (!isValidIn(world, b)) return;
        if (again) b = rewrite(world, b, r);
        const look = lookupIn(world);
        if (canonicalKey(parseIn(world, a), look) !== canonicalKey(parseIn(world, b), look)) { different++; return; }
        same++;
        expect(holdsFor(world, b), `${JSON.stringify(a)}\nvs ${JSON.stringify(b)}`).toEqual(holdsFor(world, a));
      }),
      runs(3000),
    );
    expect(same).toBeGreaterThan(100);
    expect(different).toBeGreaterThan(100);
  });

  it('(b) conditions with equal keys agree everywhere: look-alike leaves swapped in the same tree', () => {
    // Families of leaves that look alike; some are equivalent, most are not.
    const families: Json[][] = [
      [
        { attr: 'traits.x', op: 'eq', value: 5 }, { attr: 'traits.x', op: 'eq', value: '5' }, { attr: 'traits.x', op: 'in', value: [5] },
        { attr: 'traits.x', op: 'in', value: ['5', 5] }, { attr: 'traits.x', op: 'neq', value: 5 }, { attr: 'traits.x', op: 'eq', value: '5.0' },
        { attr: 'traits.x', op: 'between', value: [5, 5] }, { attr: 'traits.x', op: 'gte', value: 5 }, { attr: 'traits.x', op: 'eq', value: 5, ignoreCase: true },
        { not: { attr: 'traits.x', op: 'neq', value: 5 } }, { attr: 'traits.x', op: 'between', value: ['5', '5'] }, { attr: 'traits.x', op: 'in', value: [5, '5'] },
      ],
      [
        { attr: 'traits.plan', op: 'eq', value: 'a', ignoreCase: true }, { attr: 'traits.plan', op: 'eq', value: 'A', ignoreCase: true }, { attr: 'traits.plan', op: 'eq', value: 'a' },
        { attr: 'traits.plan', op: 'in', value: ['A', 'a'], ignoreCase: true }, { attr: 'traits.plan', op: 'contains', value: 'a' }, { attr: 'traits.plan', op: 'exists' },
        { attr: 'traits.plan', op: 'not_exists', ignoreCase: true }, { not: { attr: 'traits.plan', op: 'exists' } }, { attr: 'traits.plan', op: 'gt', value: '_', ignoreCase: true },
        { attr: 'traits.plan', op: 'gt', value: '_' },
      ],
      [
        { attr: 'labels', op: 'contains', value: 'a' }, { attr: 'labels', op: 'eq', value: 'a' }, { attr: 'labels', op: 'eq', value: 'A', ignoreCase: true },
        { attr: 'labels', op: 'in', value: ['a', true] }, { attr: 'labels', op: 'eq', value: 5 }, { attr: 'labels', op: 'eq', value: '5' },
      ],
      [
        { event: 'a', cmp: { op: 'gt', value: 0 } }, { event: 'a', cmp: { op: 'lt', value: 1 } }, { event: 'a', cmp: { op: 'eq', value: '0' } },
        { event: 'a', cmp: { op: 'gte', value: 2 } }, { event: 'a', cmp: { op: 'gt', value: 1.5 } }, { event: 'a', cmp: { op: 'between', value: [1, 1] } },
        { not: { event: 'a' } }, { event: 'a' }, { event: 'a', agg: { fn: 'distinctDays' } }, { event: 'a', cmp: { op: 'in', value: [1, 2, 3] } },
        { event: 'a', cmp: { op: 'nin', value: [0] } }, { sequence: [{ event: 'a' }] },
      ],
      [
        { event: 'a', window: { within: '1d' } }, { event: 'a', window: { within: '24h' } }, { event: 'a', window: { from: '1d', to: '1m' } },
        { event: 'a', window: { within: '1440m' } }, { event: 'a', window: { after: '2024-06-14' } }, { event: 'a', window: { after: '2024-06-14T02:00+02:00' } },
      ],
      [
        { event: 'a', agg: { fn: 'avg', prop: 'properties.x' }, cmp: { op: 'eq', value: '5' } }, { event: 'a', agg: { fn: 'avg', prop: 'properties.x' }, cmp: { op: 'eq', value: 5 } },
        { event: 'a', agg: { fn: 'avg', prop: 'properties.x' }, cmp: { op: 'eq', value: '5.0' } }, { event: 'a', agg: { fn: 'sum', prop: 'properties.x' }, cmp: { op: 'exists' } },
        { event: 'a', agg: { fn: 'avg', prop: 'properties.x' }, cmp: { op: 'exists' } }, { event: 'a', agg: { fn: 'avg', prop: 'properties.x' }, cmp: { op: 'gte', value: 5 } },
        { event: 'a', where: [{ attr: 'event', op: 'not_exists' }] }, { event: 'a', where: [{ attr: 'properties.x', op: 'eq', value: 1 }, { attr: 'properties.x', op: 'neq', value: 1 }] },
      ],
      [
        { attr: 'firstSeen', op: 'before', value: '2024-06-14T12:00:00Z' }, { attr: 'firstSeen', op: 'lt', value: Date.UTC(2024, 5, 14, 12) },
        { attr: 'firstSeen', op: 'lt', value: String(Date.UTC(2024, 5, 14, 12)) }, { attr: 'firstSeen', op: 'lte', value: Date.UTC(2024, 5, 14, 12) },
        { attr: 'traits.x', op: 'before', value: '2024-06-14T12:00:00Z' }, { attr: 'traits.x', op: 'lt', value: Date.UTC(2024, 5, 14, 12) },
      ],
      [
        { bucket: { salt: 'x', from: 0, to: 5000 } }, { bucket: { salt: 'x', from: 2000, to: 7000 } }, { bucket: { salt: 'x', from: 2000, to: 5000 } },
        { bucket: { salt: 'x', from: 5000, to: 7000 } }, { bucket: { salt: 'x', from: 0, to: 7000 } },
      ],
    ];
    type Shape = { leaf: [number, number, number, boolean] } | { all: Shape[] } | { any: Shape[] } | { not: Shape };
    const shape: fc.Arbitrary<Shape> = fc.letrec<{ s: Shape }>((tie) => ({
      s: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        { weight: 4, arbitrary: fc.tuple(fc.nat(families.length - 1), fc.nat(), fc.nat(), fc.boolean()).map((leaf) => ({ leaf })) },
        { weight: 1, arbitrary: fc.array(tie('s'), { maxLength: 3 }).map((all) => ({ all })) },
        { weight: 1, arbitrary: fc.array(tie('s'), { maxLength: 3 }).map((any) => ({ any })) },
        { weight: 1, arbitrary: tie('s').map((not) => ({ not })) },
      ),
    })).s;
    const build = (s: Shape, second: boolean): Json => {
      if ('leaf' in s) {
        const [f, m1, m2, swap] = s.leaf;
        const fam = families[f]!;
        return fam[(second && swap ? m2 : m1) % fam.length]!;
      }
      if ('all' in s) return { all: s.all.map((x) => build(x, second)) };
      if ('any' in s) return { any: s.any.map((x) => build(x, second)) };
      return { not: build(s.not, second) };
    };
    let same = 0, different = 0;
    fc.assert(
      fc.property(arbWorld, shape, (world, s) => {
        const a = build(s, false), b = build(s, true);
        if (canonicalKey(parseIn(world, a)) !== canonicalKey(parseIn(world, b))) { different++; return; }
        if (JSON.stringify(a) !== JSON.stringify(b)) same++;
        expect(holdsFor(world, b), `${JSON.stringify(a)}\nvs ${JSON.stringify(b)}`).toEqual(holdsFor(world, a));
      }),
      runs(3000),
    );
    expect(same).toBeGreaterThan(150);
    expect(different).toBeGreaterThan(300);
  });
});

describe('toConditionJson', () => {
  it('(c) the canonical tree written back is valid, means the same, and is a fixed point', () => {
    fc.assert(
      fc.property(worldAnd((w) => fc.oneof(arbCondition(w.now, SEGMENT_IDS, 4), arbConflictProne(w.now, SEGMENT_IDS))), ([world, cond]) => {
        const look = lookupIn(world);
        const tree = canonicalize(parseIn(world, cond), look);
        const back = toConditionJson(tree);
        expect(isValidIn(world, back), JSON.stringify(back)).toBe(true);
        expect(holdsFor(world, back), `${JSON.stringify(cond)}\n→ ${JSON.stringify(back)}`).toEqual(holdsFor(world, cond));
        expect(canonicalKey(parseIn(world, back), look)).toBe(JSON.stringify(tree));
      }),
      runs(2000),
    );
  });
});
