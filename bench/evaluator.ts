/**
 * The in-memory evaluator against sift (the fastest general JSON matcher measured here)
 * and hand-written JavaScript predicates, on generated profiles × 10 attribute segments.
 * Run: npm run bench:evaluator [-- users]
 */
import siftModule from 'sift';
import type { Json, ProfileRecord } from '@strata/core';
import { compileCondition, evaluateColumns, parseCondition, popcount, ProfileColumns, type Condition } from '@strata/core';
import { bestOf, generatedProfiles, table } from './lib.ts';

const users = Number(process.argv[2] ?? 1_000_000);
const EMEA = ['GB', 'DE', 'FR', 'ES', 'IT', 'NL', 'SE', 'PL', 'AE', 'SA', 'ZA', 'NG', 'EG', 'TR', 'BE', 'CH', 'AT', 'DK', 'NO', 'IE'];

type Case = { name: string; strata: Json; sift: object; hand: (p: ProfileRecord) => boolean };
const T = (p: ProfileRecord) => p.traits as Record<string, any>;
const C = (p: ProfileRecord) => p.context as Record<string, any>;
const CASES: Case[] = [
  { name: 'plan = vip', strata: { attr: 'traits.plan', op: 'eq', value: 'vip' }, sift: { 'traits.plan': 'vip' }, hand: (p) => T(p).plan === 'vip' },
  { name: 'country in EMEA', strata: { attr: 'context.location.country', op: 'in', value: EMEA }, sift: { 'context.location.country': { $in: EMEA } }, hand: (p) => EMEA.includes(C(p).location?.country) },
  { name: 'mobile', strata: { attr: 'context.device.type', op: 'eq', value: 'mobile' }, sift: { 'context.device.type': 'mobile' }, hand: (p) => C(p).device?.type === 'mobile' },
  { name: 'locale en-*', strata: { attr: 'context.locale', op: 'starts_with', value: 'en' }, sift: { 'context.locale': { $regex: '^en' } }, hand: (p) => typeof C(p).locale === 'string' && C(p).locale.startsWith('en') },
  { name: 'marketing opt-in', strata: { attr: 'traits.marketingOptIn', op: 'eq', value: true }, sift: { 'traits.marketingOptIn': true }, hand: (p) => T(p).marketingOptIn === true },
  { name: 'known paying', strata: { all: [{ attr: 'known', op: 'eq', value: true }, { attr: 'traits.plan', op: 'in', value: ['pro', 'vip'] }] }, sift: { userId: { $ne: null }, 'traits.plan': { $in: ['pro', 'vip'] } }, hand: (p) => p.userId !== null && (T(p).plan === 'pro' || T(p).plan === 'vip') },
  { name: 'iOS', strata: { attr: 'context.os.name', op: 'eq', value: 'iOS' }, sift: { 'context.os.name': 'iOS' }, hand: (p) => C(p).os?.name === 'iOS' },
  { name: 'not US/CN', strata: { attr: 'context.location.country', op: 'nin', value: ['US', 'CN'] }, sift: { 'context.location.country': { $nin: ['US', 'CN'] } }, hand: (p) => { const c = C(p).location?.country; return c !== 'US' && c !== 'CN'; } },
  { name: 'UK not desktop', strata: { all: [{ attr: 'traits.country', op: 'eq', value: 'GB' }, { attr: 'context.device.type', op: 'neq', value: 'desktop' }] }, sift: { 'traits.country': 'GB', 'context.device.type': { $ne: 'desktop' } }, hand: (p) => T(p).country === 'GB' && C(p).device?.type !== 'desktop' },
  { name: 'basic or de-DE', strata: { any: [{ attr: 'traits.plan', op: 'eq', value: 'basic' }, { attr: 'context.locale', op: 'eq', value: 'de-DE' }] }, sift: { $or: [{ 'traits.plan': 'basic' }, { 'context.locale': 'de-DE' }] }, hand: (p) => T(p).plan === 'basic' || C(p).locale === 'de-DE' },
];

console.log(`generating ${users} profiles...`);
const profiles = generatedProfiles({ seed: 1, users, end: Date.UTC(2024, 5, 15), eventsPerUser: 4 }, false).map((x) => x.profile);
const now = Date.UTC(2024, 5, 15);
const parsed: Condition[] = CASES.map((c) => {
  const r = parseCondition(c.strata);
  if (!r.ok) throw new Error(`${c.name}: ${JSON.stringify(r.issues)}`);
  return r.value;
});
const strata = parsed.map((c) => compileCondition(c));
const sift = siftModule as unknown as (query: object) => (p: ProfileRecord) => boolean;
const sifted = CASES.map((c) => sift(c.sift));
const hand = CASES.map((c) => c.hand);
const NO_EVENTS: never[] = [];

// Same members everywhere before anything is timed.
for (const [i, c] of CASES.entries()) {
  const a = profiles.filter((p) => strata[i]!(p, NO_EVENTS, now)).length;
  const b = profiles.filter((p) => sifted[i]!(p)).length;
  const h = profiles.filter((p) => hand[i]!(p)).length;
  const col = popcount(evaluateColumns(parsed[i]!, new ProfileColumns(profiles), now));
  if (a !== b || a !== h || a !== col) throw new Error(`${c.name}: member counts differ (strata ${a}, columns ${col}, sift ${b}, hand-written ${h})`);
  console.log(`  ${c.name.padEnd(18)} ${a} members`);
}

const runAll = (fs: ((p: ProfileRecord) => boolean)[]) => () => {
  let n = 0;
  for (const f of fs) for (let i = 0; i < profiles.length; i++) if (f(profiles[i]!)) n++;
  return n;
};
const evals = profiles.length * CASES.length;
const s = bestOf(3, runAll(strata.map((f) => (p: ProfileRecord) => f(p, NO_EVENTS, now))));
const h = bestOf(3, runAll(hand));
const x = bestOf(1, runAll(sifted));
// The bulk path: attributes dictionary-encoded once (timed apart), then every segment for every profile.
const buildStart = performance.now();
const cols = new ProfileColumns(profiles);
for (const c of parsed) evaluateColumns(c, cols, now);
const build = { ms: performance.now() - buildStart };
const bulk = bestOf(3, () => parsed.reduce((n, c) => n + popcount(evaluateColumns(c, cols, now)), 0));
const rate = (ms: number) => evals / (ms / 1000);
console.log(`\n${profiles.length} profiles × ${CASES.length} attribute segments = ${evals} evaluations (best of runs)\n`);
table([
  ['evaluator', 'evaluations/s', 'ms', 'vs sift', 'vs hand-written'],
  ['strata (compiled closures)', rate(s.ms), s.ms, `${(x.ms / s.ms).toFixed(1)}×`, `${(h.ms / s.ms).toFixed(2)}×`],
  ['hand-written JS predicates', rate(h.ms), h.ms, `${(x.ms / h.ms).toFixed(1)}×`, '1.00×'],
  ['sift', rate(x.ms), x.ms, '1.0×', `${(h.ms / x.ms).toFixed(2)}×`],
  ['strata bulk (encoded columns)', rate(bulk.ms), bulk.ms, `${(x.ms / bulk.ms).toFixed(1)}×`, `${(h.ms / bulk.ms).toFixed(2)}×`],
]);
console.log(`\nencoding the ${profiles.length} profiles' attributes into columns (once, not in the figure above): ${build.ms.toFixed(0)} ms`);
if (bulk.result !== s.result) throw new Error('bulk total differs');
if (s.result !== h.result || s.result !== x.result) throw new Error('totals differ');
