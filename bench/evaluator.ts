/**
 * The in-memory evaluator against sift and hand-written JavaScript predicates, on generated
 * profiles × the 10 attribute segments of attribute-cases.ts (bench:peers runs the same
 * cases against more libraries).
 * Run: npm run bench:evaluator [-- users]
 */
import siftModule from 'sift';
import type { ProfileRecord } from '@strata/core';
import { compileCondition, evaluateColumns, parseCondition, popcount, ProfileColumns, type Condition } from '@strata/core';
import { ATTRIBUTE_CASES, ATTRIBUTE_DATA, sameMembers } from './attribute-cases.ts';
import { bestOf, generatedProfiles, table } from './lib.ts';

const users = Number(process.argv[2] ?? 1_000_000);
const CASES = ATTRIBUTE_CASES;

console.log(`generating ${users} profiles...`);
const profiles = generatedProfiles(ATTRIBUTE_DATA(users), false).map((x) => x.profile);
const now = Date.UTC(2024, 5, 15);
const parsed: Condition[] = CASES.map((c) => {
  const r = parseCondition(c.strata);
  if (!r.ok) throw new Error(`${c.name}: ${JSON.stringify(r.issues)}`);
  return r.value;
});
const strata = parsed.map((c) => compileCondition(c));
const sift = siftModule as unknown as (query: object) => (p: ProfileRecord) => boolean;
const sifted = CASES.map((c) => sift(c.mongo));
const hand = CASES.map((c) => c.hand);
const NO_EVENTS: never[] = [];

// Same members everywhere before anything is timed.
const count = (f: (p: ProfileRecord) => boolean) => profiles.filter(f).length;
const members = sameMembers({
  strata: strata.map((f) => count((p) => f(p, NO_EVENTS, now))),
  'strata columns': parsed.map((c) => popcount(evaluateColumns(c, new ProfileColumns(profiles), now))),
  sift: sifted.map(count),
  'hand-written': hand.map(count),
});
for (const [i, c] of CASES.entries()) console.log(`  ${c.name.padEnd(18)} ${members[i]} members`);

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
