import { describe, expect, it } from 'vitest';
import type { Condition } from '../ast.ts';
import type { Json } from '../data.ts';
import { parseCondition } from '../parse.ts';
import { foldCase } from '../values.ts';
import { canonicalize, canonicalKey, isCaseless, toConditionJson, type SegmentLookup } from './canonical.ts';

const SEGMENTS: Record<string, Json> = {
  pro: { attr: 'traits.plan', op: 'eq', value: 'pro' },
  buyers: { event: 'purchase', window: { within: '30d' } },
};

function parse(c: Json): Condition {
  const r = parseCondition(c, { segmentCondition: (id) => SEGMENTS[id] });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value;
}

const inline: SegmentLookup = (id) => (id in SEGMENTS ? parse(SEGMENTS[id]!) : null);
const key = (c: Json, resolve?: SegmentLookup) => canonicalKey(parse(c), resolve);

const attr = (path: string, op: string, value?: Json, ignoreCase?: boolean): Json => ({
  attr: path, op, ...(value === undefined ? {} : { value }), ...(ignoreCase === undefined ? {} : { ignoreCase }),
});
const plan = (v: Json) => attr('traits.plan', 'eq', v);
const count = (cmp?: Json, extra: Record<string, Json> = {}): Json => ({ event: 'purchase', ...extra, ...(cmp === undefined ? {} : { cmp }) });

describe('canonicalKey: equivalent conditions share a key', () => {
  const same: [string, Json, Json][] = [
    ['nested all is flattened and order does not matter', { all: [plan('a'), { all: [attr('traits.x', 'exists'), count()] }] }, { all: [count(), plan('a'), attr('traits.x', 'exists')] }],
    ['nested any is flattened', { any: [plan('a'), { any: [plan('b'), plan('c')] }] }, { any: [plan('c'), plan('b'), plan('a')] }],
    ['duplicate children are dropped', { all: [plan('a'), plan('a'), count()] }, { all: [count(), plan('a')] }],
    ['all of one child is the child', { all: [plan('a')] }, plan('a')],
    ['any of one child is the child', { any: [{ all: [plan('a')] }] }, plan('a')],
    ['an empty all is true and absorbed', { all: [plan('a'), { all: [] }] }, plan('a')],
    ['an empty any is false and absorbed by any', { any: [plan('a'), { any: [] }] }, plan('a')],
    ['false in an all makes it false', { all: [plan('a'), { any: [] }] }, { any: [] }],
    ['true in an any makes it true', { any: [plan('a'), { all: [] }] }, { all: [] }],
    ['double negation', { not: { not: plan('a') } }, plan('a')],
    ['not(neq) is eq', { not: attr('traits.plan', 'neq', 'a') }, plan('a')],
    ['neq is not(eq)', attr('traits.plan', 'neq', 'a'), { not: plan('a') }],
    ['nin is not(in)', attr('traits.plan', 'nin', ['a', 'b']), { not: attr('traits.plan', 'in', ['b', 'a']) }],
    ['not_exists is not(exists)', attr('traits.plan', 'not_exists'), { not: attr('traits.plan', 'exists') }],
    ['not_contains is not(contains)', attr('traits.plan', 'not_contains', 'x'), { not: attr('traits.plan', 'contains', 'x') }],
    ['De Morgan', { not: { all: [plan('a'), plan('b')] } }, { any: [{ not: plan('a') }, attr('traits.plan', 'neq', 'b')] }],
    ['in with one value is eq', attr('traits.plan', 'in', ['a']), plan('a')],
    ['in lists are sorted and deduplicated', attr('traits.plan', 'in', ['b', 'a', 'b']), attr('traits.plan', 'in', ['a', 'b'])],
    ['between [x, x] is eq x', attr('traits.n', 'between', [5, 5]), attr('traits.n', 'eq', 5)],
    ['a literal and its negation in an all is false', { all: [plan('a'), { not: plan('a') }] }, { any: [] }],
    ['a literal or its negation is true', { any: [plan('a'), attr('traits.plan', 'neq', 'a')] }, { all: [] }],
    ['within 7d = within 1w = within 168h', count(undefined, { window: { within: '7d' } }), count(undefined, { window: { within: '168h' } })],
    ['within 1w = within 10080m', count(undefined, { window: { within: '1w' } }), count(undefined, { window: { within: '10080m' } })],
    ['from/to in other units', count(undefined, { window: { from: '30d', to: '7d' } }), count(undefined, { window: { from: '720h', to: '1w' } })],
    ['absolute windows in other spellings', count(undefined, { window: { after: '2024-06-01' } }), count(undefined, { window: { after: '2024-06-01T02:00+02:00' } })],
    ['durations of operators', attr('lastSeen', 'within_last', '2d'), attr('lastSeen', 'within_last', '48h')],
    ['default agg and cmp', { event: 'purchase' }, { event: 'purchase', agg: { fn: 'count' }, cmp: { op: 'gte', value: 1 }, where: [] }],
    ['count gt k is gte k+1', count({ op: 'gt', value: 2 }), count({ op: 'gte', value: 3 })],
    ['count gt 2.5 is gte 3', count({ op: 'gt', value: 2.5 }), count({ op: 'gte', value: 3 })],
    ['count lt k is lte k-1', count({ op: 'lt', value: 3 }), count({ op: 'lte', value: 2 })],
    ['count eq k is between [k, k]', count({ op: 'eq', value: 3 }), count({ op: 'between', value: [3, 3] })],
    ['count eq "3" is eq 3 (a count is a number)', count({ op: 'eq', value: '3' }), count({ op: 'eq', value: 3 })],
    ['not(count ≥ 1) is count = 0', { not: { event: 'purchase' } }, count({ op: 'eq', value: 0 })],
    ['count = 0 is count ≤ 0 is count < 1', count({ op: 'lte', value: 0 }), count({ op: 'lt', value: 1 })],
    ['not(count ≥ 3) is count ≤ 2', { not: count({ op: 'gte', value: 3 }) }, count({ op: 'lte', value: 2 })],
    ['count neq 0 is count ≥ 1', count({ op: 'neq', value: 0 }), { event: 'purchase' }],
    ['count ≥ 1 and ≤ 3 is between [1, 3]', { all: [count({ op: 'gte', value: 1 }), count({ op: 'lte', value: 3 })] }, count({ op: 'between', value: [1, 3] })],
    ['count in [1, 2, 3] is between [1, 3]', count({ op: 'in', value: [3, 1, 2] }), count({ op: 'between', value: [1, 3] })],
    ['count ≥ 0 is true', count({ op: 'gte', value: 0 }), { all: [] }],
    ['count < 0 is false', count({ op: 'lt', value: 0 }), { any: [] }],
    ['distinctDays intervals too', { event: 'a', agg: { fn: 'distinctDays' }, cmp: { op: 'gt', value: 1 } }, { event: 'a', agg: { fn: 'distinctDays' }, cmp: { op: 'gte', value: 2 } }],
    ['sum cmp "5" is 5 (the sum is a number)', { event: 'a', agg: { fn: 'sum', prop: 'properties.x' }, cmp: { op: 'eq', value: '5' } }, { event: 'a', agg: { fn: 'sum', prop: 'properties.x' }, cmp: { op: 'eq', value: 5 } }],
    ['sum is never missing', { event: 'a', agg: { fn: 'sum', prop: 'properties.x' }, cmp: { op: 'exists' } }, { all: [] }],
    ['avg neq is not(avg eq)', { event: 'a', agg: { fn: 'avg', prop: 'properties.x' }, cmp: { op: 'neq', value: 5 } }, { not: { event: 'a', agg: { fn: 'avg', prop: 'properties.x' }, cmp: { op: 'eq', value: 5 } } }],
    ['firstSeen before t is firstSeen < t (a number)', attr('firstSeen', 'before', '2024-06-01'), attr('firstSeen', 'lt', Date.UTC(2024, 5, 1))],
    ['firstSeen eq "5" is eq 5', attr('firstSeen', 'eq', '5'), attr('firstSeen', 'eq', 5)],
    ['ignoreCase is irrelevant for numbers', attr('traits.n', 'eq', 5, true), attr('traits.n', 'eq', 5)],
    ['ignoreCase is irrelevant for operands without letters', attr('traits.n', 'eq', '123-45', true), attr('traits.n', 'eq', '123-45')],
    ['ignoreCase is irrelevant for exists', attr('traits.n', 'exists', undefined, true), attr('traits.n', 'exists')],
    ['ignoreCase is irrelevant for time operators', attr('traits.t', 'within_last', '7d', true), attr('traits.t', 'within_last', '7d')],
    ['ignoreCase compares folded operands', attr('traits.plan', 'eq', 'PRO', true), attr('traits.plan', 'eq', 'pro', true)],
    ['ignoreCase in lists folds and deduplicates', attr('traits.plan', 'in', ['PRO', 'pro', 'Vip'], true), attr('traits.plan', 'in', ['vip', 'pro'], true)],
    ['labels contains is labels eq (membership)', attr('labels', 'contains', 'vip'), attr('labels', 'eq', 'vip')],
    ['a one-step sequence is an event leaf', { sequence: [{ event: 'a' }], maxGap: '1h' }, { event: 'a' }],
    ['buckets of one salt intersect', { all: [{ bucket: { salt: 'x', from: 0, to: 5000 } }, { bucket: { salt: 'x', from: 2000, to: 7000 } }] }, { bucket: { salt: 'x', from: 2000, to: 5000 } }],
    ['adjacent buckets of one salt unite', { any: [{ bucket: { salt: 'x', from: 0, to: 5000 } }, { bucket: { salt: 'x', from: 5000, to: 7000 } }] }, { bucket: { salt: 'x', from: 0, to: 7000 } }],
    ['where clauses are a set', { event: 'a', where: [attr('properties.x', 'eq', 1), attr('properties.y', 'in', ['b']), attr('properties.x', 'eq', 1)] }, { event: 'a', where: [attr('properties.y', 'eq', 'b'), attr('properties.x', 'eq', 1)] }],
    ['where clauses that negate each other select nothing', { event: 'a', where: [attr('properties.x', 'eq', 1), attr('properties.x', 'neq', 1)] }, { any: [] }],
  ];
  it.each(same)('%s', (_name, a, b) => {
    expect(key(a)).toBe(key(b));
  });

  it('inlines a referenced segment whose members are its condition', () => {
    expect(key({ all: [{ segment: 'pro' }, count()] }, inline)).toBe(key({ all: [count(), plan('pro')] }));
    expect(key({ not: { segment: 'buyers' } }, inline)).toBe(key({ event: 'purchase', window: { within: '30d' }, cmp: { op: 'eq', value: 0 } }));
  });
});

describe('canonicalKey: conditions that differ keep different keys', () => {
  const different: [string, Json, Json][] = [
    ['eq 5 is not eq "5" ("5.0" equals 5 but not "5")', attr('traits.x', 'eq', 5), attr('traits.x', 'eq', '5')],
    ['eq "5" is not eq "5.0"', attr('traits.x', 'eq', '5'), attr('traits.x', 'eq', '5.0')],
    ['eq true is not eq "true"', attr('traits.x', 'eq', true), attr('traits.x', 'eq', 'true')],
    ['between is not gte and lte (on a list each may hold for another element)', attr('traits.x', 'between', [1, 3]), { all: [attr('traits.x', 'gte', 1), attr('traits.x', 'lte', 3)] }],
    ['gt 5 is not gte 6 on an attribute (5.5)', attr('traits.x', 'gt', 5), attr('traits.x', 'gte', 6)],
    ['case matters without ignoreCase', plan('PRO'), plan('pro')],
    ['ignoreCase matters for letters', attr('traits.plan', 'eq', 'pro', true), plan('pro')],
    ['ignoreCase matters for string ordering', attr('traits.plan', 'gt', '_', true), attr('traits.plan', 'gt', '_')],
    ['contains is not eq outside labels', attr('traits.tags', 'contains', 'a'), attr('traits.tags', 'eq', 'a')],
    ['labels and a trait are different paths', attr('labels', 'eq', 'a'), attr('traits.labels', 'eq', 'a')],
    ['within 7d is not within 8d', count(undefined, { window: { within: '7d' } }), count(undefined, { window: { within: '8d' } })],
    ['from 30d to 7d is not within 30d', count(undefined, { window: { from: '30d', to: '7d' } }), count(undefined, { window: { within: '30d' } })],
    ['count is not distinctDays', { event: 'a' }, { event: 'a', agg: { fn: 'distinctDays' } }],
    ['a named event is not "*"', { event: 'a' }, { event: '*' }],
    ['avg gt 2.5 is not avg gte 3', { event: 'a', agg: { fn: 'avg', prop: 'properties.x' }, cmp: { op: 'gt', value: 2.5 } }, { event: 'a', agg: { fn: 'avg', prop: 'properties.x' }, cmp: { op: 'gte', value: 3 } }],
    ['avg exists is not true (no events: missing)', { event: 'a', agg: { fn: 'avg', prop: 'properties.x' }, cmp: { op: 'exists' } }, { all: [] }],
    ['a two-step sequence is not two event leaves', { sequence: [{ event: 'a' }, { event: 'b' }] }, { all: [{ event: 'a' }, { event: 'b' }] }],
    ['buckets of different salts do not combine', { all: [{ bucket: { salt: 'x', from: 0, to: 5000 } }, { bucket: { salt: 'y', from: 2000, to: 7000 } }] }, { bucket: { salt: 'x', from: 2000, to: 5000 } }],
    ['a whole bucket range is not true (a profile with no id is in no bucket)', { bucket: { salt: 'x', from: 0, to: 10000 } }, { all: [] }],
    ['not(neq) is not neq', { not: attr('traits.plan', 'neq', 'a') }, attr('traits.plan', 'neq', 'a')],
  ];
  it.each(different)('%s', (_name, a, b) => {
    expect(key(a)).not.toBe(key(b));
  });

  it('keeps a reference when the segment is not given (manual lists or no condition)', () => {
    expect(key({ segment: 'pro' })).not.toBe(key(plan('pro')));
    expect(key({ segment: 'pro' }, () => null)).toBe(key({ segment: 'pro' }));
    expect(key({ segment: 'pro' })).not.toBe(key({ segment: 'buyers' }));
  });
});

describe('canonical tree', () => {
  it('is JSON and written back as a valid condition', () => {
    const c = parse({ all: [{ not: { all: [count({ op: 'gt', value: 2 }), attr('traits.x', 'neq', 'A', true)] } }, attr('labels', 'nin', ['b', 'a'])] });
    const tree = canonicalize(c);
    expect(JSON.parse(JSON.stringify(tree))).toEqual(tree);
    const back = toConditionJson(tree);
    expect(parseCondition(back).ok).toBe(true);
    expect(canonicalKey(parse(back))).toBe(JSON.stringify(tree));
  });

  it('writes a count set of several intervals as alternatives', () => {
    const back = toConditionJson(canonicalize(parse(count({ op: 'in', value: [0, 2, 3, 7] }))));
    expect(back).toEqual({ any: [
      { event: 'purchase', agg: { fn: 'count' }, cmp: { op: 'eq', value: 0 } },
      { event: 'purchase', agg: { fn: 'count' }, cmp: { op: 'between', value: [2, 3] } },
      { event: 'purchase', agg: { fn: 'count' }, cmp: { op: 'eq', value: 7 } },
    ] });
  });
});

describe('the case-folding facts the canonical form relies on', () => {
  it('no code point folds into an ASCII character that is not a letter, and those fold to themselves', () => {
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const ch = String.fromCodePoint(cp);
      const f = foldCase(ch);
      if (isCaseless(f) && f !== ch) throw new Error(`U+${cp.toString(16)} folds to ${JSON.stringify(f)}`);
      if (isCaseless(ch)) expect(f).toBe(ch);
    }
  });
});
