/**
 * Behavioural leaves over every profile at once: the events of generated users (≈10 each) held
 * in columns (core/src/event-columns.ts) against the baseline of the same run, the compiled
 * per-profile evaluator (one closure call per profile over its event list, what a backfill or
 * a preview does per profile today), and a hand-written counting pass over the columns for the
 * first condition (the floor). Member counts must agree before any time is reported.
 * Run: npm run bench:event-columns [-- users]   (default 1,000,000 users, ≈10M events)
 */
import type { Condition, EventRecord } from '@strata/core';
import { compileCondition, EventColumns, evaluateEventLeaf, parseCondition, popcount } from '@strata/core';
import { BENCH_DATA, benchPeople } from './engine-data.ts';
import { BENCH_SEGMENTS } from './segments.ts';
import { bestOf, table } from './lib.ts';

const users = Number(process.argv[2] ?? 1_000_000);
const end = Date.now();
const DAY = 86_400_000;

const leaves = ['Pricing 5+ in 30d', 'Revenue 500+', 'Active 7d', 'Buyer 3+ in 90d', '3+ active days in 30d', 'Login in 7d'].map((name) => {
  const s = BENCH_SEGMENTS.find((x) => x.name === name)!;
  const r = parseCondition(s.condition);
  if (!r.ok) throw new Error(`${name}: ${JSON.stringify(r.issues)}`);
  return { name, condition: r.value as Condition };
});

console.log(`generating ${users} users (${JSON.stringify(BENCH_DATA(users, end))})...`);
const profiles: { profile: Parameters<ReturnType<typeof compileCondition>>[0]; events: EventRecord[] }[] = [];
let events = 0;
for (const p of benchPeople(users, end)) {
  profiles.push(p);
  events += p.events.length;
}
const n = profiles.length;

let t = performance.now();
const cols = EventColumns.of(leaves.map((l) => l.condition), n, (i) => profiles[i]!.events);
const buildMs = performance.now() - t;
console.log(`${n} profiles, ${events} events; columns of ${cols.rows} rows built in ${(buildMs / 1000).toFixed(2)} s, ${(cols.bytes / 2 ** 20).toFixed(0)} MiB of typed arrays (${(cols.bytes / cols.rows).toFixed(1)} bytes a row, the dictionaries' distinct values apart)`);

const rows: (string | number)[][] = [['behavioural leaf (all profiles)', 'per profile (ms, baseline)', 'columns (ms)', 'speed-up', 'members']];
for (const leaf of leaves) {
  const f = compileCondition(leaf.condition);
  const closure = bestOf(3, () => { let m = 0; for (const p of profiles) if (f(p.profile, p.events, end)) m++; return m; });
  const columns = bestOf(5, () => popcount(evaluateEventLeaf(leaf.condition as Extract<Condition, { kind: 'event' }>, cols, end)));
  if (closure.result !== columns.result) throw new Error(`${leaf.name}: ${closure.result} members per profile, ${columns.result} from columns`);
  rows.push([leaf.name, closure.ms.toFixed(1), columns.ms.toFixed(1), `${(closure.ms / columns.ms).toFixed(1)}×`, columns.result]);
}

// The floor for the first leaf ($pageview with path /pricing, 5+ in 30 days): a hand-written
// pass over the same columns, no predicates, no lookup tables beyond one code.
const first = leaves[0]!;
const hand = bestOf(5, () => {
  const g = cols.group('$pageview')!;
  const path = g.coded.get('properties.path')!;
  const code = path.values.indexOf('/pricing');
  const count = new Int32Array(n);
  const after = end - 30 * DAY;
  for (let r = 0; r < g.rows; r++) if (path.codes[r] === code && g.time[r]! > after && g.time[r]! <= end) count[g.profile[r]!]!++;
  let m = 0;
  for (let p = 0; p < n; p++) if (count[p]! >= 5) m++;
  return m;
});
if (hand.result !== Number(rows[1]![4])) throw new Error(`hand-written pass: ${hand.result} members, columns ${rows[1]![4]}`);
table(rows);
console.log(`hand-written pass over the columns, "${first.name}": ${hand.ms.toFixed(1)} ms (${hand.result} members); columns ${rows[1]![2]} ms`);
