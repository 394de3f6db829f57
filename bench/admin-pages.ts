/**
 * What the admin UI's pages ask the server for, at scale: an embedded store with N known users
 * (default 1M), 20 segments whose memberships entered over the last 30 days (history and daily
 * counts), the engine loaded, the server on a real socket. Each page's requests are sent the
 * way the page sends them (at once, as a browser does) and the time until the last answer is
 * the page's load time; best and median of R loads. Baseline in the same process:
 * GET /api/health (the HTTP round trip), and the segment list's sparklines fetched the way the
 * UI did before GET /api/segments/sizes (one insights call per segment).
 * Run: npm run bench:admin [-- users]
 */
import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { table } from './lib.ts';
import { ADMIN, scaleProject } from './scale-data.ts';

const users = Number(process.argv[2] ?? 1_000_000);
const LOADS = Number(process.env.BENCH_LOADS ?? 15);
const NOW = Date.UTC(2024, 5, 15, 12);
const TARGET_MS = 1000;

const { dir, app, segmentIds, close } = await scaleProject(users, NOW, { history: true });
const address = await app.listen({ port: 0, host: '127.0.0.1' });
const headers = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };

type Req = string | { url: string; body: unknown };
async function call(r: Req): Promise<unknown> {
  const res = typeof r === 'string'
    ? await fetch(address + r, { headers })
    : await fetch(address + r.url, { method: 'POST', headers, body: JSON.stringify(r.body) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${typeof r === 'string' ? r : r.url}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

/** Loads a page LOADS times after one warm-up: best and median of the time to the last answer. */
async function page(requests: (k: number) => Req[]): Promise<{ best: number; median: number }> {
  await Promise.all(requests(0).map(call));
  const times: number[] = [];
  for (let k = 1; k <= LOADS; k++) {
    const t = performance.now();
    await Promise.all(requests(k).map(call));
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { best: times[0]!, median: times[Math.floor(times.length / 2)]! };
}

const big = segmentIds[segmentIds.length - 1]!; // "Pro or high score": the largest segment
const user = (k: number) => `u${1 + ((k * 104_729) % users)}`;
const seg = (k: number) => segmentIds[k % segmentIds.length]!;
const cursorPage = await call(`/api/segments/${big}/members?limit=100`) as { nextCursor: string };

const rows: [string, () => Promise<{ best: number; median: number }>][] = [
  ['GET /api/health (baseline: the HTTP round trip)', () => page(() => ['/api/health'])],
  ['Segments: the list', () => page(() => ['/api/segments'])],
  ['Segments: list + sparklines + warnings (whole page)', () => page(() => ['/api/segments', '/api/segments/sizes?days=30', '/api/segments/warnings'])],
  ['  sparklines as before: one insights call per segment', () => page(() => segmentIds.map((id) => `/api/segments/${id}/insights?days=30`))],
  ['Segment detail: segment, insights, warnings, members', () => page((k) => [`/api/segments/${seg(k)}`, `/api/segments/${seg(k)}/insights?days=30`, '/api/segments/warnings', `/api/segments/${seg(k)}/members?limit=25`])],
  ['Segment detail: members, next page of 100', () => page(() => [`/api/segments/${big}/members?limit=100&cursor=${encodeURIComponent(cursorPage.nextCursor)}`])],
  ['Segment detail: history tab', () => page((k) => [`/api/segments/${seg(k)}/history?limit=50`])],
  ['Segment detail: overlap tab (20 segments)', () => page((k) => ['/api/segments', { url: '/api/segments/overlap', body: { ids: [seg(k), ...segmentIds.filter((id) => id !== seg(k))] } }])],
  ['User profile: profile, events, targeting, points', () => page((k) => [`/api/users/${user(k)}`, `/api/users/${user(k)}/events?limit=100`, `/api/users/${user(k)}/targeting`, `/api/users/${user(k)}/points?limit=20`])],
  ['Segment editor: preview of a new condition', () => page((k) => [{ url: '/api/segments/preview', body: { condition: { all: [{ attr: 'traits.score', op: 'gte', value: k % 50 }, { attr: 'traits.country', op: 'in', value: ['GB', 'FR'] }] } } }])],
];
const results: [string, { best: number; median: number }][] = [];
for (const [name, run] of rows) results.push([name, await run()]);

const health = results[0]![1].median;
const whole = results[2]![1].median, before = results[3]![1].median;
console.log(`\nmachine: ${cpus()[0]?.model ?? '?'} (${cpus().length} cores), Node ${process.version}`);
console.log(`${users} users, ${segmentIds.length} segments, every membership's entry in the history over the last 30 days; ${LOADS} loads per page after a warm-up\n`);
table([
  ['page (its requests at once)', 'best (ms)', 'median (ms)', 'median / health', `≤ ${TARGET_MS} ms`],
  ...results.map(([name, r]) => [name, r.best, r.median, `${(r.median / health).toFixed(1)}×`, r.median <= TARGET_MS ? 'yes' : 'NO']),
]);
console.log(`\n(the segment list with its sparklines and warnings: ${(before / whole).toFixed(1)}× faster than the sparklines alone fetched per segment)`);
await close();
rmSync(dir, { recursive: true, force: true });
