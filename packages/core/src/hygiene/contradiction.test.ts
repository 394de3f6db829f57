import { describe, expect, it } from 'vitest';
import type { Condition } from '../ast.ts';
import type { Json } from '../data.ts';
import { parseCondition } from '../parse.ts';
import type { SegmentLookup } from './canonical.ts';
import { findContradiction, type ContradictionOptions } from './contradiction.ts';

const SEGMENTS: Record<string, Json> = {
  never: { all: [{ attr: 'traits.plan', op: 'eq', value: 'pro' }, { attr: 'traits.plan', op: 'eq', value: 'vip' }] },
  vip: { attr: 'traits.plan', op: 'eq', value: 'vip' },
  manual: { attr: 'traits.plan', op: 'eq', value: 'vip' },
};

function parse(c: Json): Condition {
  const r = parseCondition(c, { segmentCondition: (id) => SEGMENTS[id] });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value;
}

/** "manual" has manual lists: its members are not its condition, so it is not inlined. */
const inline: SegmentLookup = (id) => (id in SEGMENTS && id !== 'manual' ? parse(SEGMENTS[id]!) : null);
const find = (c: Json, options?: ContradictionOptions) => findContradiction(parse(c), inline, options);
const all = (...xs: Json[]): Json => ({ all: xs });
const attr = (path: string, op: string, value?: Json, ignoreCase?: boolean): Json => ({
  attr: path, op, ...(value === undefined ? {} : { value }), ...(ignoreCase === undefined ? {} : { ignoreCase }),
});
const ev = (name: string, extra: Record<string, Json> = {}): Json => ({ event: name, ...extra });
const T = (iso: string) => iso;

/** [name, condition, expected paths (null: no contradiction), words the message must contain]. */
type Case = [string, Json, string[] | null, string?];

const cases: Case[] = [
  // eq / in / nin
  ['two different values', all(attr('traits.plan', 'eq', 'pro'), attr('traits.score', 'gte', 1), attr('traits.plan', 'eq', 'vip')), ['/all/0', '/all/2'], 'traits.plan cannot equal both "pro" and "vip"'],
  ['the same value twice', all(attr('traits.plan', 'eq', 'pro'), attr('traits.plan', 'eq', 'pro')), null],
  ['case variants without ignoreCase', all(attr('traits.plan', 'eq', 'PRO'), attr('traits.plan', 'eq', 'pro')), ['/all/0', '/all/1']],
  ['case variants with ignoreCase on one side', all(attr('traits.plan', 'eq', 'PRO', true), attr('traits.plan', 'eq', 'pro')), null],
  ['ignoreCase, different words', all(attr('traits.plan', 'eq', 'PRO', true), attr('traits.plan', 'eq', 'vip', true)), ['/all/0', '/all/1']],
  ['5 and "5" can both hold (the number 5)', all(attr('traits.n', 'eq', 5), attr('traits.n', 'eq', '5')), null],
  ['"5" and "5.0" can both hold (the number 5)', all(attr('traits.n', 'eq', '5'), attr('traits.n', 'eq', '5.0')), null],
  ['5 and "5.0" can both hold', all(attr('traits.n', 'eq', 5), attr('traits.n', 'eq', '5.0')), null],
  ['5 and "6"', all(attr('traits.n', 'eq', 5), attr('traits.n', 'eq', '6')), ['/all/0', '/all/1']],
  ['true and "true"', all(attr('traits.b', 'eq', true), attr('traits.b', 'eq', 'true')), ['/all/0', '/all/1']],
  ['eq and an in without it', all(attr('traits.plan', 'eq', 'pro'), attr('traits.plan', 'in', ['vip', 'free'])), ['/all/0', '/all/1']],
  ['eq and an in with it', all(attr('traits.plan', 'eq', 'pro'), attr('traits.plan', 'in', ['vip', 'pro'])), null],
  ['two ins with no common value', all(attr('traits.plan', 'in', ['a', 'b']), attr('traits.plan', 'in', ['c', 'd'])), ['/all/0', '/all/1']],
  ['two ins sharing a value', all(attr('traits.plan', 'in', ['a', 'b']), attr('traits.plan', 'in', ['b', 'c'])), null],
  ['in and a nin of all of it', all(attr('traits.plan', 'in', ['a', 'b']), attr('traits.plan', 'nin', ['b', 'a', 'c'])), ['/all/0', '/all/1']],
  ['in and a nin of part of it', all(attr('traits.plan', 'in', ['a', 'b']), attr('traits.plan', 'nin', ['a'])), null],
  ['in and neq of each of its values', all(attr('traits.plan', 'in', ['a', 'b']), attr('traits.plan', 'neq', 'a'), attr('traits.plan', 'neq', 'b')), ['/all/0', '/all/1', '/all/2']],
  ['eq x and neq x', all(attr('traits.plan', 'eq', 'pro'), attr('traits.plan', 'neq', 'pro')), ['/all/0', '/all/1']],
  ['eq 5 and nin ["5"] (5 is not "5"-the-string only)', all(attr('traits.n', 'eq', 5), attr('traits.n', 'nin', ['5'])), null],
  ['eq "5" and neq 5 (the string "5" equals 5)', all(attr('traits.n', 'eq', '5'), attr('traits.n', 'neq', 5)), ['/all/0', '/all/1']],
  ['eq x and not(eq x)', all(attr('traits.plan', 'eq', 'pro'), { not: attr('traits.plan', 'eq', 'pro') }), ['/all/0', '/all/1']],
  // exists
  ['exists and not_exists', all(attr('traits.plan', 'exists'), attr('traits.plan', 'not_exists')), ['/all/0', '/all/1']],
  ['a positive operator and not_exists', all(attr('traits.plan', 'starts_with', 'p'), attr('traits.plan', 'not_exists')), ['/all/0', '/all/1'], 'be missing'],
  ['a negative operator and not_exists', all(attr('traits.plan', 'neq', 'p'), attr('traits.plan', 'not_exists')), null],
  ['known is never missing', attr('known', 'not_exists'), ['/']],
  // ranges
  ['an empty numeric range', all(attr('traits.n', 'gt', 5), attr('traits.n', 'lt', 3)), ['/all/0', '/all/1']],
  ['a one-point range', all(attr('traits.n', 'gte', 5), attr('traits.n', 'lte', 5)), null],
  ['an open point', all(attr('traits.n', 'gt', 5), attr('traits.n', 'lte', 5)), ['/all/0', '/all/1']],
  ['between with lo > hi', attr('traits.n', 'between', [5, 3]), ['/'], 'can never be between 5 and 3'],
  ['eq outside a range', all(attr('traits.n', 'eq', 7), attr('traits.n', 'between', [1, 5])), ['/all/0', '/all/1']],
  ['a numeric string outside a range', all(attr('traits.n', 'eq', '7'), attr('traits.n', 'lt', 5)), ['/all/0', '/all/1']],
  ['a non-numeric string and a numeric range', all(attr('traits.n', 'eq', 'abc'), attr('traits.n', 'gt', 5)), ['/all/0', '/all/1']],
  ['eq inside a range', all(attr('traits.n', 'eq', '3'), attr('traits.n', 'between', [1, 5])), null],
  ['string ranges are left alone', all(attr('traits.s', 'gt', 'b'), attr('traits.s', 'lt', 'a')), null],
  ['a range and the negation of a wider one', all(attr('traits.n', 'gt', 5), { not: attr('traits.n', 'gt', 3) }), ['/all/0', '/all/1']],
  // times
  ['within the last 7 days and more than 30 days ago', all(attr('firstSeen', 'within_last', '7d'), attr('firstSeen', 'more_than_ago', '30d')), ['/all/0', '/all/1'], 'firstSeen cannot be within the last 7 days and more than 30 days ago'],
  ['within the last 7 days and more than 7 days ago', all(attr('traits.t', 'within_last', '7d'), attr('traits.t', 'more_than_ago', '1w')), ['/all/0', '/all/1']],
  ['within the last 30 days and more than 7 days ago', all(attr('traits.t', 'within_last', '30d'), attr('traits.t', 'more_than_ago', '7d')), null],
  ['after t1 and before t2 ≤ t1', all(attr('traits.t', 'after', T('2024-06-10')), attr('traits.t', 'before', T('2024-06-10T00:00:00Z'))), ['/all/0', '/all/1']],
  ['after t1 and before a later t2', all(attr('traits.t', 'after', T('2024-06-10')), attr('traits.t', 'before', T('2024-06-10T00:00:00.001Z'))), null],
  ['lastSeen long ago, firstSeen recent', all(attr('lastSeen', 'more_than_ago', '30d'), attr('firstSeen', 'within_last', '7d')), ['/all/0', '/all/1'], 'firstSeen is never after lastSeen'],
  ['lastSeen more than 7 days ago, firstSeen within 7 days', all(attr('firstSeen', 'within_last', '7d'), attr('lastSeen', 'more_than_ago', '7d')), ['/all/0', '/all/1']],
  ['lastSeen a day ago, firstSeen within 30 days', all(attr('lastSeen', 'more_than_ago', '1d'), attr('firstSeen', 'within_last', '30d')), null],
  ['firstSeen after lastSeen (absolute)', all(attr('firstSeen', 'after', '2024-06-10'), attr('lastSeen', 'before', '2024-06-09')), ['/all/0', '/all/1']],
  // event leaves
  ['count ≥ 5 and ≤ 3', all(ev('purchase', { window: { within: '7d' }, cmp: { op: 'gte', value: 5 } }), ev('purchase', { window: { within: '7d' }, cmp: { op: 'lte', value: 3 } })), ['/all/0', '/all/1'], 'count of purchase in the last 7 days cannot be ≥ 5 and ≤ 3'],
  ['count ≥ 3 and ≤ 5', all(ev('purchase', { cmp: { op: 'gte', value: 3 } }), ev('purchase', { cmp: { op: 'lte', value: 5 } })), null],
  ['count ≥ 5 and ≤ 3 over different windows', all(ev('purchase', { window: { within: '30d' }, cmp: { op: 'gte', value: 5 } }), ev('purchase', { window: { within: '7d' }, cmp: { op: 'lte', value: 3 } })), null],
  ['count < 0', ev('purchase', { cmp: { op: 'lt', value: 0 } }), ['/'], 'can never be < 0'],
  ['count between 2.2 and 2.8 (no integer)', ev('purchase', { cmp: { op: 'between', value: [2.2, 2.8] } }), ['/']],
  ['at least once and never', all(ev('purchase'), { not: ev('purchase') }), ['/all/0', '/all/1']],
  ['in the last 7 days, not in the last 30', all(ev('add_to_cart', { window: { within: '7d' } }), ev('add_to_cart', { window: { within: '30d' }, cmp: { op: 'eq', value: 0 } })), ['/all/0', '/all/1'], 'add_to_cart'],
  ['in the last 30 days, not in the last 7', all(ev('add_to_cart', { window: { within: '30d' } }), ev('add_to_cart', { window: { within: '7d' }, cmp: { op: 'eq', value: 0 } })), null],
  ['a past window inside a longer one', all(ev('a', { window: { from: '30d', to: '7d' }, cmp: { op: 'gte', value: 3 } }), ev('a', { window: { within: '30d' }, cmp: { op: 'lt', value: 3 } })), ['/all/0', '/all/1']],
  ['a named event and "*"', all(ev('a', { window: { within: '7d' } }), { not: ev('*', { window: { within: '30d' } }) }), ['/all/0', '/all/1']],
  ['a derived event and "*"', all(ev('$session', { window: { within: '7d' } }), { not: ev('*', { window: { within: '30d' } }) }), null],
  ['a filtered count and the unfiltered one', all(ev('a', { where: [attr('properties.x', 'eq', 1)] }), ev('a', { cmp: { op: 'eq', value: 0 } })), ['/all/0', '/all/1']],
  ['an unfiltered count and a filtered one', all(ev('a'), ev('a', { where: [attr('properties.x', 'eq', 1)], cmp: { op: 'eq', value: 0 } })), null],
  ['absolute windows, nested', all(ev('a', { window: { after: '2024-06-02', before: '2024-06-05' } }), ev('a', { window: { after: '2024-06-01' }, cmp: { op: 'eq', value: 0 } })), ['/all/0', '/all/1']],
  ['more distinct days than a 7-day window touches', ev('a', { agg: { fn: 'distinctDays' }, window: { within: '7d' }, cmp: { op: 'gte', value: 9 } }), ['/'], 'at most 8 UTC days'],
  ['as many distinct days as a 7-day window can touch', ev('a', { agg: { fn: 'distinctDays' }, window: { within: '7d' }, cmp: { op: 'gte', value: 8 } }), null],
  ['distinct days in an absolute window', ev('a', { agg: { fn: 'distinctDays' }, window: { after: '2024-06-01', before: '2024-06-03' }, cmp: { op: 'gte', value: 3 } }), ['/']],
  ['distinct days in an absolute window, reachable', ev('a', { agg: { fn: 'distinctDays' }, window: { after: '2024-06-01', before: '2024-06-03T00:00:00.001Z' }, cmp: { op: 'gte', value: 3 } }), null],
  ['more distinct days than events', all(ev('a', { agg: { fn: 'distinctDays' }, cmp: { op: 'gte', value: 3 } }), ev('a', { cmp: { op: 'lte', value: 2 } })), ['/all/0', '/all/1']],
  ['an aggregate that is both missing and present', all(ev('a', { agg: { fn: 'avg', prop: 'properties.x' }, cmp: { op: 'gt', value: 5 } }), ev('a', { agg: { fn: 'avg', prop: 'properties.x' }, cmp: { op: 'not_exists' } })), ['/all/0', '/all/1']],
  ['an average above 5 and below 3', all(ev('a', { agg: { fn: 'avg', prop: 'properties.x' }, cmp: { op: 'gt', value: 5 } }), ev('a', { agg: { fn: 'avg', prop: 'properties.x' }, cmp: { op: 'lt', value: '3' } })), ['/all/0', '/all/1']],
  ['a sum is never missing', ev('a', { agg: { fn: 'sum', prop: 'properties.x' }, cmp: { op: 'not_exists' } }), ['/']],
  ['lastAt in the last day and more than 7 days ago', all(ev('a', { agg: { fn: 'lastAt' }, cmp: { op: 'within_last', value: '1d' } }), ev('a', { agg: { fn: 'lastAt' }, cmp: { op: 'more_than_ago', value: '7d' } })), ['/all/0', '/all/1']],
  ['where clauses that exclude each other', ev('a', { where: [attr('properties.plan', 'eq', 'a'), attr('properties.plan', 'eq', 'b')] }), ['/'], 'no event passes'],
  ['where clauses that exclude each other, count = 0', ev('a', { where: [attr('properties.plan', 'eq', 'a'), attr('properties.plan', 'eq', 'b')], cmp: { op: 'eq', value: 0 } }), null],
  ['a where clause on the name of another event', ev('a', { where: [attr('event', 'eq', 'b')] }), ['/']],
  ['"*" filtered to a derived event', ev('*', { where: [attr('event', 'eq', '$session')] }), ['/']],
  ['a sequence needs each step: not b in 30 days', all({ sequence: [{ event: 'a' }, { event: 'b' }], window: { within: '7d' } }, { not: ev('b', { window: { within: '30d' } }) }), ['/all/0', '/all/1']],
  ['a sequence and its negation', all({ sequence: [{ event: 'a' }, { event: 'b' }] }, { not: { sequence: [{ event: 'a' }, { event: 'b' }] } }), ['/all/0', '/all/1'], 'its negation'],
  // buckets
  ['buckets of one salt that do not meet', all({ bucket: { salt: 'x', from: 0, to: 5000 } }, { bucket: { salt: 'x', from: 5000, to: 10000 } }), ['/all/0', '/all/1']],
  ['buckets of one salt that meet', all({ bucket: { salt: 'x', from: 0, to: 5000 } }, { bucket: { salt: 'x', from: 4999, to: 10000 } }), null],
  ['buckets of different salts', all({ bucket: { salt: 'x', from: 0, to: 5000 } }, { bucket: { salt: 'y', from: 5000, to: 10000 } }), null],
  ['a bucket and outside a wider one', all({ bucket: { salt: 'x', from: 100, to: 200 } }, { not: { bucket: { salt: 'x', from: 0, to: 5000 } } }), ['/all/0', '/all/1']],
  // exact negation of anything
  ['contains and not_contains', all(attr('traits.name', 'contains', 'a'), attr('traits.name', 'not_contains', 'a')), ['/all/0', '/all/1']],
  ['matches and its negation', all(attr('traits.name', 'matches', '^a'), { not: attr('traits.name', 'matches', '^a') }), ['/all/0', '/all/1']],
  ['a segment reference and its negation', all({ segment: 'manual' }, { not: { segment: 'manual' } }), ['/all/0', '/all/1']],
  // segments
  ['a contradictory referenced segment', all(attr('traits.x', 'exists'), { segment: 'never' }), ['/all/1'], 'segment "never" can never match'],
  ['a referenced segment against the condition', all(attr('traits.plan', 'eq', 'pro'), { segment: 'vip' }), ['/all/0', '/all/1']],
  ['a segment with manual lists is not opened', all(attr('traits.plan', 'eq', 'pro'), { segment: 'manual' }), null],
  // lists
  ['labels hold several values', all(attr('labels', 'eq', 'a'), attr('labels', 'eq', 'b')), null],
  ['labels in disjoint lists', all(attr('labels', 'in', ['a']), attr('labels', 'in', ['b'])), null],
  ['labels: a member and not a member', all(attr('labels', 'eq', 'a'), attr('labels', 'nin', ['b', 'a'])), ['/all/0', '/all/1']],
  ['labels: contains and not_exists', all(attr('labels', 'contains', 'a'), attr('labels', 'not_exists')), ['/all/0', '/all/1']],
  ['labels: between with lo > hi', attr('labels', 'between', [5, 3]), ['/']],
  // structure
  ['every alternative conflicts', all(attr('traits.plan', 'eq', 'pro'), { any: [attr('traits.plan', 'eq', 'vip'), attr('traits.plan', 'eq', 'free')] }), ['/all/0', '/all/1/any/0', '/all/1/any/1'], 'every alternative'],
  ['one alternative is possible', all(attr('traits.plan', 'eq', 'pro'), { any: [attr('traits.plan', 'eq', 'vip'), attr('traits.plan', 'eq', 'pro')] }), null],
  ['alternatives not involved in the conflict', all({ any: [attr('traits.a', 'eq', 1), attr('traits.b', 'eq', 1)] }, attr('traits.plan', 'eq', 'pro'), attr('traits.plan', 'eq', 'vip')), ['/all/1', '/all/2']],
  ['a negated all is an alternative', all(attr('traits.plan', 'eq', 'pro'), { not: { all: [attr('traits.plan', 'eq', 'pro'), attr('traits.x', 'exists')] } }, attr('traits.x', 'exists')), ['/all/0', '/all/1/not/all/0', '/all/1/not/all/1', '/all/2']],
  ['an empty any', all(attr('traits.x', 'exists'), { any: [] }), ['/all/1']],
  ['the negation of an empty all', { not: { all: [] } }, ['/']],
  ['a path under a not points at the not', all(attr('traits.plan', 'eq', 'pro'), { not: { not: { not: attr('traits.plan', 'eq', 'pro') } } }), ['/all/0', '/all/1']],
  ['a single leaf', attr('traits.plan', 'eq', 'pro'), null],
  ['any of two conflicting pairs', { any: [all(attr('traits.plan', 'eq', 'a'), attr('traits.plan', 'eq', 'b')), all(attr('traits.x', 'gt', 5), attr('traits.x', 'lt', 1))] }, ['/any/0/all/0', '/any/0/all/1', '/any/1/all/0', '/any/1/all/1']],
];

describe('findContradiction', () => {
  it.each(cases)('%s', (_name, c, paths, words) => {
    const r = find(c);
    if (paths === null) {
      expect(r).toBeNull();
      return;
    }
    expect(r, 'expected a contradiction').not.toBeNull();
    expect(r!.paths).toEqual(paths);
    if (words) expect(r!.message).toContain(words);
  });

  it('assumes a trait holds a single value, unless told otherwise', () => {
    const c = all(attr('traits.tags', 'eq', 'a'), attr('traits.tags', 'eq', 'b'));
    expect(find(c)?.paths).toEqual(['/all/0', '/all/1']);
    expect(find(c, { singleValued: false })).toBeNull();
    // A conflict that holds for lists too is still found.
    expect(find(all(attr('traits.tags', 'eq', 'a'), attr('traits.tags', 'neq', 'a')), { singleValued: false })).not.toBeNull();
    expect(find(ev('a', { where: [attr('properties.x', 'eq', 1), attr('properties.x', 'eq', 2)] }), { singleValued: false })).toBeNull();
  });

  it('gives up (no warning) past its branch budget', () => {
    const c = { any: [all(attr('traits.plan', 'eq', 'a'), attr('traits.plan', 'eq', 'b')), all(attr('traits.plan', 'eq', 'c'), attr('traits.plan', 'eq', 'd'))] };
    expect(find(c)).not.toBeNull();
    expect(find(c, { branchBudget: 1 })).toBeNull();
  });

  it('stays within its budget on a wide disjunctive condition', () => {
    // 2^16 combinations; each alternative is compatible, so there is nothing to find.
    const wide = all(...Array.from({ length: 16 }, (_, i) => ({ any: [attr(`traits.k${i}`, 'eq', 1), attr(`traits.k${i}`, 'eq', 2)] })));
    const t0 = performance.now();
    expect(find(wide)).toBeNull();
    expect(performance.now() - t0).toBeLessThan(2000);
    // Every choice conflicts with the last leaf, independently: found without trying them all.
    const doomed = all(...Array.from({ length: 16 }, (_, i) => ({ any: [attr(`traits.k${i}`, 'eq', 1), attr(`traits.k${i}`, 'eq', 2)] })), attr('traits.plan', 'eq', 'a'), attr('traits.plan', 'eq', 'b'));
    expect(find(doomed)?.paths).toEqual(['/all/16', '/all/17']);
  });
});
