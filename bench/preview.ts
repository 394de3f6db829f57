/**
 * Preview of a behavioural segment (a page 5+ times in 30 days) over generated users and
 * events in the embedded SQLite store, against hand-written SQL for the same question on the
 * same database. The database is built once into .bench-data/ and reused.
 * Run: npm run bench:preview [-- users]   (≈10 events per user)
 */
import { configFromEnv, createContext } from '@strata/server';
import { openSqlite, SqlStore } from '@strata/store';
import { bestOfAsync, table } from './lib.ts';
import { END, previewDatabase } from './preview-data.ts';

const users = Number(process.argv[2] ?? 1_000_000);
const CONDITION = { event: '$pageview', where: [{ attr: 'properties.path', op: 'eq', value: '/pricing' }], window: { within: '30d' }, cmp: { op: 'gte', value: 5 } };

const file = await previewDatabase(users);
const { db, raw } = openSqlite({ filename: file });
const store = new SqlStore(db, 'sqlite');
const counts = raw.prepare(`SELECT (SELECT count(*) FROM profiles) AS profiles, (SELECT count(*) FROM events) AS events`).get() as { profiles: number; events: number };
const ctx = createContext(store, configFromEnv({}), { now: () => END });

const strata = await bestOfAsync(3, () => ctx.segments.preview('default', CONDITION as never));
const handSql = raw.prepare(`SELECT count(*) AS n FROM (SELECT profile_id FROM events WHERE project_id = 'default' AND name = '$pageview'
  AND ts > ? AND ts <= ? AND json_extract(properties, '$.path') = '/pricing' GROUP BY profile_id HAVING count(*) >= 5)`);
const hand = await bestOfAsync(3, async () => (handSql.get(END - 30 * 86_400_000, END) as { n: number }).n);
if (strata.result.count !== hand.result) throw new Error(`counts differ: strata ${strata.result.count}, hand-written ${hand.result}`);

console.log(`\n${counts.profiles} profiles, ${counts.events} events; "$pageview of /pricing 5+ times in 30 days": ${hand.result} members\n`);
table([
  ['query', 'ms (best of 3)', 'vs hand-written'],
  ['strata preview (count + total + 10 samples)', strata.ms, `${(strata.ms / hand.ms).toFixed(2)}×`],
  ['hand-written SQL count on the same SQLite', hand.ms, '1.00×'],
]);
await store.close();
