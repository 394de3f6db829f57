/**
 * The 10 attribute segments of the evaluator benchmarks, each written in every library's own
 * dialect: Strata's condition language, the MongoDB query language (sift and mingo read it
 * alike), GrowthBook's targeting conditions, json-rules-engine rules, and a hand-written
 * JavaScript predicate. Shared by bench/evaluator.ts and bench/peers.ts.
 */
import type { Json, ProfileRecord } from '@strata/core';
import { EMEA } from './segments.ts';

/** A json-rules-engine condition tree (its `all` / `any` of fact conditions). */
export type RulesCondition = { all: RulesCondition[] } | { any: RulesCondition[] } | { fact: string; path?: string; operator: string; value: unknown };

export interface AttributeCase {
  name: string;
  strata: Json;
  /** MongoDB query language, as sift and mingo take it. */
  mongo: object;
  /** GrowthBook's `evalCondition` condition. */
  growthbook: object;
  /** A json-rules-engine rule's conditions (facts: the profile's own fields; `startsWith` is an operator added by the benchmark). */
  rules: RulesCondition;
  hand: (p: ProfileRecord) => boolean;
}

const T = (p: ProfileRecord) => p.traits as Record<string, any>;
const C = (p: ProfileRecord) => p.context as Record<string, any>;
const fact = (f: string, path: string | undefined, operator: string, value: unknown): RulesCondition => (path ? { fact: f, path, operator, value } : { fact: f, operator, value });

export const ATTRIBUTE_CASES: AttributeCase[] = [
  {
    name: 'plan = vip',
    strata: { attr: 'traits.plan', op: 'eq', value: 'vip' },
    mongo: { 'traits.plan': 'vip' },
    growthbook: { 'traits.plan': 'vip' },
    rules: { all: [fact('traits', '$.plan', 'equal', 'vip')] },
    hand: (p) => T(p).plan === 'vip',
  },
  {
    name: 'country in EMEA',
    strata: { attr: 'context.location.country', op: 'in', value: EMEA },
    mongo: { 'context.location.country': { $in: EMEA } },
    growthbook: { 'context.location.country': { $in: EMEA } },
    rules: { all: [fact('context', '$.location.country', 'in', EMEA)] },
    hand: (p) => EMEA.includes(C(p).location?.country),
  },
  {
    name: 'mobile',
    strata: { attr: 'context.device.type', op: 'eq', value: 'mobile' },
    mongo: { 'context.device.type': 'mobile' },
    growthbook: { 'context.device.type': 'mobile' },
    rules: { all: [fact('context', '$.device.type', 'equal', 'mobile')] },
    hand: (p) => C(p).device?.type === 'mobile',
  },
  {
    name: 'locale en-*',
    strata: { attr: 'context.locale', op: 'starts_with', value: 'en' },
    mongo: { 'context.locale': { $regex: '^en' } },
    growthbook: { 'context.locale': { $regex: '^en' } },
    rules: { all: [fact('context', '$.locale', 'startsWith', 'en')] },
    hand: (p) => typeof C(p).locale === 'string' && C(p).locale.startsWith('en'),
  },
  {
    name: 'marketing opt-in',
    strata: { attr: 'traits.marketingOptIn', op: 'eq', value: true },
    mongo: { 'traits.marketingOptIn': true },
    growthbook: { 'traits.marketingOptIn': true },
    rules: { all: [fact('traits', '$.marketingOptIn', 'equal', true)] },
    hand: (p) => T(p).marketingOptIn === true,
  },
  {
    name: 'known paying',
    strata: { all: [{ attr: 'known', op: 'eq', value: true }, { attr: 'traits.plan', op: 'in', value: ['pro', 'vip'] }] },
    mongo: { userId: { $ne: null }, 'traits.plan': { $in: ['pro', 'vip'] } },
    growthbook: { userId: { $exists: true }, 'traits.plan': { $in: ['pro', 'vip'] } },
    rules: { all: [fact('userId', undefined, 'notEqual', null), fact('traits', '$.plan', 'in', ['pro', 'vip'])] },
    hand: (p) => p.userId !== null && (T(p).plan === 'pro' || T(p).plan === 'vip'),
  },
  {
    name: 'iOS',
    strata: { attr: 'context.os.name', op: 'eq', value: 'iOS' },
    mongo: { 'context.os.name': 'iOS' },
    growthbook: { 'context.os.name': 'iOS' },
    rules: { all: [fact('context', '$.os.name', 'equal', 'iOS')] },
    hand: (p) => C(p).os?.name === 'iOS',
  },
  {
    name: 'not US/CN',
    strata: { attr: 'context.location.country', op: 'nin', value: ['US', 'CN'] },
    mongo: { 'context.location.country': { $nin: ['US', 'CN'] } },
    growthbook: { 'context.location.country': { $nin: ['US', 'CN'] } },
    rules: { all: [fact('context', '$.location.country', 'notIn', ['US', 'CN'])] },
    hand: (p) => { const c = C(p).location?.country; return c !== 'US' && c !== 'CN'; },
  },
  {
    name: 'UK not desktop',
    strata: { all: [{ attr: 'traits.country', op: 'eq', value: 'GB' }, { attr: 'context.device.type', op: 'neq', value: 'desktop' }] },
    mongo: { 'traits.country': 'GB', 'context.device.type': { $ne: 'desktop' } },
    growthbook: { 'traits.country': 'GB', 'context.device.type': { $ne: 'desktop' } },
    rules: { all: [fact('traits', '$.country', 'equal', 'GB'), fact('context', '$.device.type', 'notEqual', 'desktop')] },
    hand: (p) => T(p).country === 'GB' && C(p).device?.type !== 'desktop',
  },
  {
    name: 'basic or de-DE',
    strata: { any: [{ attr: 'traits.plan', op: 'eq', value: 'basic' }, { attr: 'context.locale', op: 'eq', value: 'de-DE' }] },
    mongo: { $or: [{ 'traits.plan': 'basic' }, { 'context.locale': 'de-DE' }] },
    growthbook: { $or: [{ 'traits.plan': 'basic' }, { 'context.locale': 'de-DE' }] },
    rules: { any: [fact('traits', '$.plan', 'equal', 'basic'), fact('context', '$.locale', 'equal', 'de-DE')] },
    hand: (p) => T(p).plan === 'basic' || C(p).locale === 'de-DE',
  },
];

/** The generator options of the attribute benchmarks' profiles. */
export const ATTRIBUTE_DATA = (profiles: number) => ({ seed: 1, users: profiles, end: Date.UTC(2024, 5, 15), eventsPerUser: 4 });

/**
 * Throws unless every evaluator finds the same members for every case; `counts[name][i]` is
 * evaluator `name`'s member count for case i. Returns the agreed counts.
 */
export function sameMembers(counts: Record<string, number[]>): number[] {
  const [first, ...rest] = Object.entries(counts);
  for (const [i, c] of ATTRIBUTE_CASES.entries()) {
    const want = first![1][i];
    if (rest.some(([, xs]) => xs[i] !== want)) {
      throw new Error(`${c.name}: member counts differ (${Object.entries(counts).map(([k, xs]) => `${k} ${xs[i]}`).join(', ')})`);
    }
  }
  return first![1];
}
