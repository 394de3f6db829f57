import { describe, expect, it } from 'vitest';
import { evaluateColumns, hasBit, ProfileColumns } from './columns.ts';
import type { ProfileRecord } from './data.ts';
import { Dictionary } from './dictionary.ts';
import { compileCondition } from './evaluate.ts';
import { EventColumns } from './event-columns.ts';
import { parseCondition } from './parse.ts';

const parse = (c: unknown) => {
  const r = parseCondition(c);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value;
};
const profile = (key: string, traits: Record<string, unknown>): ProfileRecord =>
  ({ key, userId: key, anonymousId: null, traits, context: {}, labels: [], firstSeen: 0, lastSeen: 0 }) as unknown as ProfileRecord;

describe('dictionary codes', () => {
  it('share a code between equal values, scalars and JSON alike', () => {
    const d = new Dictionary();
    expect([d.code('a'), d.code(1), d.code('a'), d.code([1, 'x']), d.code([1, 'x']), d.code({ a: 1 }), d.code({ a: 1 }), d.code(null), d.code(undefined), d.code(null)])
      .toEqual([0, 1, 0, 2, 2, 3, 3, 4, 5, 4]);
  });

  it('never share one between values JSON cannot tell apart (non-finite numbers, -0)', () => {
    const d = new Dictionary();
    const codes = [[Infinity], [NaN], [null], [-0], [0], { x: -Infinity }, { x: null }].map((v) => d.code(v));
    expect(new Set(codes).size).toBe(codes.length);
    expect(d.values[codes[0]!]).toEqual([Infinity]);
  });

  it('keep the bulk evaluators exact on such values (an array holding Infinity against one holding null)', () => {
    const condition = parse({ attr: 'traits.x', op: 'gt', value: 100 });
    for (const order of [['inf', 'nul'], ['nul', 'inf']]) {
      const profiles = order.map((k) => profile(k, { x: k === 'inf' ? [Infinity] : [null] }));
      const f = compileCondition(condition);
      const want = profiles.filter((p) => f(p, [], 0)).map((p) => p.key);
      const bits = evaluateColumns(condition, new ProfileColumns(profiles), 0);
      expect(profiles.filter((_, i) => hasBit(bits, i)).map((p) => p.key)).toEqual(want);
      expect(want).toEqual(['inf']);
    }
    const leaf = parse({ event: 'e', where: [{ attr: 'properties.x', op: 'gt', value: 100 }] });
    const events = [[{ name: 'e', timestamp: 1, properties: { x: [Infinity] }, context: {} }], [{ name: 'e', timestamp: 1, properties: { x: [null] }, context: {} }]];
    for (const order of [[0, 1], [1, 0]]) {
      const evs = order.map((i) => events[i]!) as never[];
      const profiles = order.map((i) => profile(`p${i}`, {}));
      const cols = EventColumns.of([leaf], 2, (i) => evs[i]!);
      const bits = evaluateColumns(leaf, new ProfileColumns(profiles), 10, { events: (i) => evs[i]!, eventColumns: cols });
      expect(profiles.filter((_, i) => hasBit(bits, i)).map((p) => p.key)).toEqual(['p0']);
    }
  });
});
