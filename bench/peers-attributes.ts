/**
 * bench:peers, table 1 — attribute conditions: generated profiles × the 10 attribute segments
 * of bench/attribute-cases.ts, each library evaluating its own dialect of them. Member counts
 * are checked equal before any time is taken.
 */
import siftModule from 'sift';
import { evalCondition } from '@growthbook/growthbook';
import { Engine } from 'json-rules-engine';
import { Query } from 'mingo';
import type { ProfileRecord } from '@strata/core';
import { compileCondition, evaluateColumns, parseCondition, popcount, ProfileColumns, type Condition } from '@strata/core';
import { ATTRIBUTE_CASES, ATTRIBUTE_DATA, sameMembers } from './attribute-cases.ts';
import { bestOf, bestOfAsync, fmt, generatedProfiles, table } from './lib.ts';

const NOW = ATTRIBUTE_DATA(0).end;
const NO_EVENTS: never[] = [];
type Test = (p: ProfileRecord) => boolean;

/** One json-rules-engine engine holding the 10 cases as rules (a rule's name is its case index). */
function rulesEngine(): Engine {
  const engine = new Engine([], { allowUndefinedFacts: true });
  engine.addOperator('startsWith', (a: unknown, b: string) => typeof a === 'string' && a.startsWith(b));
  ATTRIBUTE_CASES.forEach((c, i) => engine.addRule({ name: String(i), conditions: c.rules as never, event: { type: 'member', params: { case: i } } }));
  return engine;
}

/** json-rules-engine's member count of each case over `profiles`: one run per profile decides all 10 rules. */
async function rulesCounts(engine: Engine, profiles: readonly ProfileRecord[]): Promise<number[]> {
  const counts = ATTRIBUTE_CASES.map(() => 0);
  for (const p of profiles) {
    const r = await engine.run(p as never);
    for (const rule of r.results) counts[Number(rule.name)]!++;
  }
  return counts;
}

export async function attributeTable(profileCount: number, rulesSample: number): Promise<void> {
  console.log(`\n=== 1. Attribute conditions: generating ${profileCount} profiles...`);
  const profiles = generatedProfiles(ATTRIBUTE_DATA(profileCount), false).map((x) => x.profile);
  const parsed: Condition[] = ATTRIBUTE_CASES.map((c) => {
    const r = parseCondition(c.strata);
    if (!r.ok) throw new Error(`${c.name}: ${JSON.stringify(r.issues)}`);
    return r.value;
  });
  const compiled = parsed.map((c) => compileCondition(c));
  const strata: Test[] = compiled.map((f) => (p) => f(p, NO_EVENTS, NOW));
  const sift = siftModule as unknown as (query: object) => Test;
  const sifted: Test[] = ATTRIBUTE_CASES.map((c) => sift(c.mongo));
  const mingo: Test[] = ATTRIBUTE_CASES.map((c) => { const q = new Query(c.mongo as never); return (p) => q.test(p as never); });
  const growthbook: Test[] = ATTRIBUTE_CASES.map((c) => (p) => evalCondition(p as never, c.growthbook as never));
  const hand: Test[] = ATTRIBUTE_CASES.map((c) => c.hand);
  const engine = rulesEngine();
  const sample = profiles.slice(0, Math.min(rulesSample, profiles.length));

  // Same members everywhere before anything is timed (json-rules-engine on its sample, against Strata on the same sample).
  const count = (f: Test, over: readonly ProfileRecord[] = profiles) => { let n = 0; for (const p of over) if (f(p)) n++; return n; };
  const cols = new ProfileColumns(profiles);
  sameMembers({
    strata: strata.map((f) => count(f)),
    'strata bulk': parsed.map((c) => popcount(evaluateColumns(c, cols, NOW))),
    growthbook: growthbook.map((f) => count(f)),
    sift: sifted.map((f) => count(f)),
    mingo: mingo.map((f) => count(f)),
    'hand-written': hand.map((f) => count(f)),
  });
  const sampleMembers = sameMembers({ strata: strata.map((f) => count(f, sample)), 'json-rules-engine': await rulesCounts(engine, sample) });
  for (const [i, c] of ATTRIBUTE_CASES.entries()) console.log(`  ${c.name.padEnd(18)} ${count(hand[i]!)} members (${sampleMembers[i]} of the first ${sample.length})`);

  const runAll = (fs: Test[]) => () => {
    let n = 0;
    for (const f of fs) for (let i = 0; i < profiles.length; i++) if (f(profiles[i]!)) n++;
    return n;
  };
  const evals = profiles.length * ATTRIBUTE_CASES.length;
  const rows: { name: string; ms: number; evals: number; peer: boolean; total: number }[] = [];
  const timed = (name: string, runs: number, fs: Test[], peer: boolean) => {
    const r = bestOf(runs, runAll(fs));
    rows.push({ name, ms: r.ms, evals, peer, total: r.result });
  };
  timed('strata compileCondition (per profile)', 3, strata, false);
  // The bulk path: attributes dictionary-encoded once (timed apart, below), then every segment for every profile.
  const encodeStart = performance.now();
  const fresh = new ProfileColumns(profiles);
  for (const c of parsed) evaluateColumns(c, fresh, NOW);
  const encodeMs = performance.now() - encodeStart;
  const bulk = bestOf(3, () => parsed.reduce((n, c) => n + popcount(evaluateColumns(c, fresh, NOW)), 0));
  rows.push({ name: 'strata evaluateColumns (bulk, encoded columns)', ms: bulk.ms, evals, peer: false, total: bulk.result });
  timed('hand-written JS predicates', 3, hand, true);
  timed('sift', 1, sifted, true);
  timed('mingo', 1, mingo, true);
  timed('@growthbook/growthbook evalCondition', 1, growthbook, true);
  const rules = await bestOfAsync(1, () => rulesCounts(engine, sample));
  rows.push({ name: `json-rules-engine (first ${sample.length} profiles, 10 rules per run)`, ms: rules.ms, evals: sample.length * ATTRIBUTE_CASES.length, peer: true, total: rules.result.reduce((a, b) => a + b, 0) });
  const totals = new Set(rows.filter((r) => r.evals === evals).map((r) => r.total));
  if (totals.size !== 1) throw new Error(`member totals differ between timed runs: ${[...totals].join(', ')}`);

  const ns = (r: (typeof rows)[number]) => (r.ms * 1e6) / r.evals;
  const fastest = rows.filter((r) => r.peer).reduce((a, b) => (ns(a) <= ns(b) ? a : b));
  const fastestLibrary = rows.filter((r) => r.peer && r.name !== 'hand-written JS predicates').reduce((a, b) => (ns(a) <= ns(b) ? a : b));
  console.log(`\n${profiles.length} profiles × ${ATTRIBUTE_CASES.length} attribute segments = ${evals} evaluations (json-rules-engine: ${sample.length} × ${ATTRIBUTE_CASES.length}); best of 3 runs (Strata, hand-written) or of 1 after a warm-up (libraries)`);
  console.log(`ratios are ns per evaluation against the fastest peer (${fastest.name}) and the fastest library (${fastestLibrary.name}); below 1 is faster\n`);
  table([
    ['evaluator', 'evaluations', 'ms', 'evaluations/s', 'ns/evaluation', 'vs fastest peer', 'vs fastest library'],
    ...rows.map((r) => [r.name, r.evals, r.ms, r.evals / (r.ms / 1000), ns(r), `${(ns(r) / ns(fastest)).toFixed(2)}×`, `${(ns(r) / ns(fastestLibrary)).toFixed(2)}×`]),
  ]);
  console.log(`\nencoding the ${profiles.length} profiles' attributes into columns (once, not in the bulk figure above): ${fmt(encodeMs)} ms`);
}
