import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { EventRecord, Json, JsonObject, ProfileRecord } from '../data.ts';
import { BASE_NOW, DURATIONS, SAFE_PATTERNS, arbCase } from './arbitraries.ts';
import { BUCKET_VECTORS } from './bucket-vectors.ts';
import { loadFixtureCases } from './fixtures.ts';
import { bucketOf, oracleMatches, oracleMembers, parseIsoTime } from './oracle.ts';

const fixtures = await loadFixtureCases();

describe('bucket hash', () => {
  const vectors = BUCKET_VECTORS;

  it('has vectors to check', () => {
    expect(vectors.length).toBeGreaterThan(0);
  });

  it.each(vectors.map((v) => [v.salt, v.id, v.bucket] as const))(
    'salt %j, id %j → %i',
    (salt, id, bucket) => {
      expect(bucketOf(salt, id)).toBe(bucket);
    },
  );
});

describe('oracle on the fixture cases', () => {
  it('has cases', () => {
    expect(fixtures.cases.length).toBeGreaterThan(0);
  });

  it.each(fixtures.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(oracleMembers(c.condition, c.profiles, c.segments, c.now)).toEqual(c.expected);
  });
});

describe('oracle spot checks', () => {
  const now = Date.UTC(2024, 5, 15, 12);
  const profile = (over: Partial<ProfileRecord> = {}): ProfileRecord => ({
    key: 'p',
    userId: 'u1',
    anonymousId: null,
    traits: {},
    context: {},
    labels: [],
    firstSeen: null,
    lastSeen: null,
    ...over,
  });
  const ev = (name: string, timestamp: number, properties: JsonObject = {}): EventRecord => ({
    name,
    timestamp,
    properties,
    context: {},
  });
  const holds = (condition: Json, p = profile(), events: EventRecord[] = []) =>
    oracleMatches(condition, p, events, {}, now);

  it('parses only the documented ISO forms, without offset meaning UTC', () => {
    expect(parseIsoTime('2024-06-01')).toBe(Date.UTC(2024, 5, 1));
    expect(parseIsoTime('2024-06-15T11:00+02:00')).toBe(Date.UTC(2024, 5, 15, 9));
    expect(parseIsoTime('2024-06-15T11:00:00.5')).toBe(Date.UTC(2024, 5, 15, 11, 0, 0, 500));
    expect(parseIsoTime('0050-01-01')).toBe(-60589296000000);
    expect(parseIsoTime('2024-06-01Z')).toBeUndefined();
    expect(parseIsoTime('2024-06-15 11:00')).toBeUndefined();
    expect(parseIsoTime('2024-06-15T11:00:00.1234Z')).toBeUndefined();
    expect(parseIsoTime('2024-02-30')).toBeUndefined();
    expect(parseIsoTime('June 1, 2024')).toBeUndefined();
  });

  it('compares numeric strings as numbers only against a number', () => {
    const p = profile({ traits: { a: '10', b: 10 } });
    expect(holds({ attr: 'traits.a', op: 'gt', value: 9 }, p)).toBe(true);
    expect(holds({ attr: 'traits.a', op: 'gt', value: '9' }, p)).toBe(false);
    expect(holds({ attr: 'traits.b', op: 'eq', value: '10.0' }, p)).toBe(true);
    expect(holds({ attr: 'traits.b', op: 'eq', value: '1e1' }, p)).toBe(false);
    expect(holds({ attr: 'traits.b', op: 'neq', value: 'x' }, p)).toBe(true);
  });

  it('orders strings by code point, not UTF-16 unit', () => {
    const p = profile({ traits: { s: '😀' } });
    expect(holds({ attr: 'traits.s', op: 'gt', value: 'ｚ' }, p)).toBe(true);
  });

  it('treats missing, null and [] alike', () => {
    for (const traits of [{}, { t: null }, { t: [] }] as JsonObject[]) {
      const p = profile({ traits });
      expect(holds({ attr: 'traits.t', op: 'exists' }, p)).toBe(false);
      expect(holds({ attr: 'traits.t', op: 'neq', value: 1 }, p)).toBe(true);
      expect(holds({ attr: 'traits.t', op: 'not_contains', value: 'a' }, p)).toBe(true);
    }
  });

  it('uses scalar array elements and nothing of objects but exists', () => {
    const p = profile({ traits: { arr: [{ k: 1 }, null, 'b'], obj: { k: 1 } } });
    expect(holds({ attr: 'traits.arr', op: 'eq', value: 'b' }, p)).toBe(true);
    expect(holds({ attr: 'traits.arr', op: 'neq', value: 'b' }, p)).toBe(false);
    expect(holds({ attr: 'traits.arr.k', op: 'exists' }, p)).toBe(false);
    expect(holds({ attr: 'traits.obj', op: 'exists' }, p)).toBe(true);
    expect(holds({ attr: 'traits.obj', op: 'neq', value: 1 }, p)).toBe(true);
    expect(holds({ attr: 'traits.obj.k', op: 'eq', value: 1 }, p)).toBe(true);
  });

  it('puts window edges where the doc tables them', () => {
    const at = (t: number) => [ev('a', t)];
    const within = { event: 'a', window: { within: '7d' } };
    expect(holds(within, profile(), at(now - 7 * 86400000))).toBe(false);
    expect(holds(within, profile(), at(now - 7 * 86400000 + 1))).toBe(true);
    expect(holds(within, profile(), at(now))).toBe(true);
    expect(holds(within, profile(), at(now + 1))).toBe(false);
    const iso = { event: 'a', window: { after: '2024-06-01', before: '2024-06-02' } };
    expect(holds(iso, profile(), at(Date.UTC(2024, 5, 1)))).toBe(true);
    expect(holds(iso, profile(), at(Date.UTC(2024, 5, 2)))).toBe(false);
  });

  it('skips derived events for "*"', () => {
    expect(holds({ event: '*' }, profile(), [ev('$session', now)])).toBe(false);
    expect(holds({ event: '$session' }, profile(), [ev('$session', now)])).toBe(true);
  });

  it('aggregates numbers and numeric strings only', () => {
    const events = [ev('a', now, { v: '2.5' }), ev('a', now, { v: 1 }), ev('a', now, { v: 'x' })];
    const sum = { event: 'a', agg: { fn: 'sum', prop: 'properties.v' }, cmp: { op: 'eq', value: 3.5 } };
    expect(holds(sum, profile(), events)).toBe(true);
    const avg = { event: 'b', agg: { fn: 'avg', prop: 'properties.v' }, cmp: { op: 'not_exists' } };
    expect(holds(avg, profile(), events)).toBe(true);
    const count0 = { event: 'b', cmp: { op: 'eq', value: 0 } };
    expect(holds(count0, profile(), events)).toBe(true);
  });

  it('needs strictly increasing times in a sequence, within maxGap', () => {
    const seq = { sequence: [{ event: 'a' }, { event: 'b' }], maxGap: '1h' };
    expect(holds(seq, profile(), [ev('a', now), ev('b', now)])).toBe(false);
    expect(holds(seq, profile(), [ev('b', now), ev('a', now - 3600000)])).toBe(true);
    expect(holds(seq, profile(), [ev('b', now), ev('a', now - 3600001)])).toBe(false);
    // The later `a` is the one that fits the gap: brute force must not commit to the first.
    expect(holds(seq, profile(), [ev('a', now - 7200000), ev('a', now - 60000), ev('b', now)])).toBe(true);
  });

  it('matches with RE2 semantics: dot matches newline, ignoreCase folds', () => {
    const p = profile({ traits: { s: 'A\nC' } });
    expect(holds({ attr: 'traits.s', op: 'matches', value: 'a.c' }, p)).toBe(false);
    expect(holds({ attr: 'traits.s', op: 'matches', value: 'a.c', ignoreCase: true }, p)).toBe(true);
  });

  it('resolves segment references with include and exclude', () => {
    const segments = {
      s1: { condition: null, include: ['p'], exclude: [] },
      s2: { condition: { segment: 's1' }, include: [], exclude: ['p'] },
    };
    expect(oracleMatches({ segment: 's1' }, profile(), [], segments, now)).toBe(true);
    expect(oracleMatches({ segment: 's2' }, profile(), [], segments, now)).toBe(false);
  });

  it('puts a profile without ids in no bucket', () => {
    const all = { bucket: { salt: '', from: 0, to: 10000 } };
    expect(holds(all, profile())).toBe(true);
    expect(holds(all, profile({ userId: null, anonymousId: null }))).toBe(false);
  });
});

describe('arbitraries', () => {
  /** Structural validity checks of the generated conditions (the parts a generator can get wrong). */
  const checkCondition = (c: Json, segmentIds: readonly string[], depth: number): void => {
    expect(depth).toBeLessThanOrEqual(4);
    const o = c as JsonObject;
    if ('all' in o || 'any' in o) {
      for (const child of (o.all ?? o.any) as Json[]) checkCondition(child, segmentIds, depth + 1);
    } else if ('not' in o) {
      checkCondition(o.not, segmentIds, depth + 1);
    } else if ('segment' in o) {
      expect(segmentIds).toContain(o.segment);
    } else if ('bucket' in o) {
      const b = o.bucket as { from: number; to: number };
      expect(0 <= b.from && b.from < b.to && b.to <= 10000).toBe(true);
    } else {
      const leaves: JsonObject[] = [];
      if ('attr' in o) leaves.push(o);
      const where = (o.where ?? []) as JsonObject[];
      leaves.push(...where);
      for (const step of (o.sequence ?? []) as JsonObject[]) leaves.push(...((step.where ?? []) as JsonObject[]));
      if (o.cmp !== undefined) leaves.push(o.cmp as JsonObject);
      for (const leaf of leaves) {
        if (leaf.op === 'in' || leaf.op === 'nin') expect((leaf.value as Json[]).length).toBeGreaterThan(0);
        if (leaf.op === 'matches') expect(SAFE_PATTERNS).toContain(leaf.value);
        if (leaf.op === 'within_last' || leaf.op === 'more_than_ago') expect(DURATIONS).toContain(leaf.value);
        if (leaf.op === 'before' || leaf.op === 'after') expect(parseIsoTime(leaf.value as string)).toBeDefined();
      }
      const w = o.window as JsonObject | undefined;
      if (w !== undefined && ('after' in w || 'before' in w)) {
        if ('after' in w && 'before' in w) {
          expect(parseIsoTime(w.after as string)!).toBeLessThan(parseIsoTime(w.before as string)!);
        }
      }
    }
  };

  it('generates valid, small cases that the oracle evaluates', () => {
    fc.assert(
      fc.property(arbCase, (c) => {
        expect(Math.abs(c.now - BASE_NOW)).toBeLessThanOrEqual(720 * 60000);
        expect(c.profiles.length).toBeGreaterThanOrEqual(1);
        expect(c.profiles.length).toBeLessThanOrEqual(8);
        const ids = Object.keys(c.segments);
        checkCondition(c.condition, ids, 1);
        ids.forEach((id, i) => {
          const def = c.segments[id];
          if (def.condition !== null) checkCondition(def.condition, ids.slice(0, i), 1);
        });
        for (const { profile, events } of c.profiles) {
          expect(events.length).toBeLessThanOrEqual(12);
          expect(profile.userId !== null || profile.anonymousId !== null).toBe(true);
        }
        const members = oracleMembers(c.condition, c.profiles, c.segments, c.now);
        const negated = oracleMembers({ not: c.condition }, c.profiles, c.segments, c.now);
        expect(members.length + negated.length).toBe(c.profiles.length);
      }),
      { numRuns: 300 },
    );
  });

  it('produces a spread of outcomes', () => {
    const samples = fc.sample(arbCase, { numRuns: 400, seed: 42 });
    let some = 0;
    let none = 0;
    for (const c of samples) {
      const n = oracleMembers(c.condition, c.profiles, c.segments, c.now).length;
      if (n === 0) none++;
      else some++;
    }
    expect(some).toBeGreaterThan(40);
    expect(none).toBeGreaterThan(40);
  });
});
