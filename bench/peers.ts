/**
 * Strata beside its peers, three tables in one run (issue "Peers side by side"):
 * 1. attribute conditions — Strata's per-profile and bulk evaluators against GrowthBook,
 *    sift, mingo, json-rules-engine and hand-written predicates (bench/peers-attributes.ts);
 * 2. behavioural segments — Strata's preview and backfill against DuckDB and SQLite with
 *    hand-written SQL, over the same events (bench/peers-behaviour.ts);
 * 3. live ingest — Strata's 200 live segments against recomputing them on a schedule, with
 *    the membership staleness of each (bench/peers-live.ts).
 * Each checks that every system finds the same members before it times anything.
 *
 * Run: npm run bench:peers [-- options]
 *   --profiles N      profiles of table 1 (default 1,000,000)
 *   --rules-sample N  of which json-rules-engine evaluates the first N (default 50,000)
 *   --events N        events of table 2, ≈10 per generated user (default 10,000,000; the store
 *                     is built once into .bench-data/)
 *   --live-users N    generated users of table 3, ≈10 events each (default 20,000)
 *   --every S         the baseline's recompute period in seconds (default 10)
 *   --only LIST       some of the tables: 1,2,3 (default all)
 */
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { attributeTable } from './peers-attributes.ts';
import { behaviourTable } from './peers-behaviour.ts';
import { liveTable } from './peers-live.ts';

const { values } = parseArgs({
  options: {
    profiles: { type: 'string', default: '1000000' },
    'rules-sample': { type: 'string', default: '50000' },
    events: { type: 'string', default: '10000000' },
    'live-users': { type: 'string', default: '20000' },
    every: { type: 'string', default: '10' },
    only: { type: 'string', default: '1,2,3' },
  },
});
const num = (name: keyof typeof values): number => {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${values[name]}`);
  return n;
};
const only = new Set(String(values.only).split(','));
if ([...only].some((x) => !['1', '2', '3'].includes(x))) throw new Error(`--only takes 1, 2 and 3 separated by commas, got ${values.only}`);
const gib = (b: number) => (b / 2 ** 30).toFixed(1);
console.log(`machine: ${cpus()[0]?.model ?? '?'} (${cpus().length} cores), ${gib(totalmem())} GiB (${gib(freemem())} free), Node ${process.version}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`sizes: ${num('profiles')} profiles (json-rules-engine: ${num('rules-sample')}); ${num('events')} events; ${num('live-users')} live-ingest users, recompute every ${num('every')} s; tables ${[...only].join(', ')}`);
if (only.has('1')) await attributeTable(num('profiles'), num('rules-sample'));
if (only.has('2')) await behaviourTable(num('events'));
if (only.has('3')) await liveTable(num('live-users'), num('every'));
