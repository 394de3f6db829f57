/**
 * What the per-credential rate limit (server/src/rate-limit.ts) costs a request: the same cheap
 * routes through two apps in one process, one with the limits off (the baseline) and one with
 * the defaults (STRATA_RATE_LIMIT_WRITE / _ADMIN), sent through `app.inject` (no socket, so
 * the limiter's share is not hidden by the network). Rounds alternate between the two apps;
 * the best round of each counts.
 *
 *   node --import tsx bench/rate-limit.ts [requests per round, default 3000]
 *
 * Keep the total modest: `app.inject` (light-my-request 6.6 on Node 20) retains about 9.5 KB
 * per request, with or without Strata (a bare Fastify app does the same; real HTTP does not),
 * so a few hundred thousand injected requests fill the default heap.
 */
import { RATE_LIMIT_DEFAULTS } from '@strata/core';
import { ADMIN, WRITE, startTestApp, type TestApp } from '@strata/server/testing';
import { openTestSqlite } from '@strata/store/testing';
import { table } from './lib.ts';

const N = Number(process.argv[2] ?? 3000);
const ROUNDS = 9;
const CONCURRENCY = 50;

const off = await startTestApp(await openTestSqlite(), undefined, { config: { rateLimit: { write: 0, admin: 0 } } });
// High enough that the bench never reaches it: what is measured is counting, not refusing.
const on = await startTestApp(await openTestSqlite(), undefined, { config: { rateLimit: { write: RATE_LIMIT_DEFAULTS.write * 100, admin: RATE_LIMIT_DEFAULTS.admin * 1000 } } });
for (const t of [off, on]) {
  expect200(await t.send('/v1/identify', { userId: 'u1', traits: { plan: 'pro' } }));
}

function expect200(r: { status: number }): void {
  if (r.status !== 200) throw new Error(`status ${r.status}`);
}

const ROUTES = [
  { name: 'GET /v1/targeting (write key)', url: '/v1/targeting?userId=u1', headers: { "x-write-key": WRITE } as Record<string, string> },
  { name: 'GET /api/settings (admin token)', url: '/api/settings', headers: { authorization: `Bearer ${ADMIN}` } as Record<string, string> },
];

/** µs per request of N requests, CONCURRENCY in flight. */
async function round(t: TestApp, url: string, headers: Record<string, string>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < N) {
      next++;
      const r = await t.app.inject({ method: 'GET', url, headers });
      if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${r.payload}`);
    }
  }));
  return ((performance.now() - start) * 1000) / N;
}

const rows: (string | number)[][] = [['route', 'limits off µs/req', 'limits on µs/req', 'on / off']];
for (const r of ROUTES) {
  let bestOff = Infinity;
  let bestOn = Infinity;
  await round(off, r.url, r.headers);
  await round(on, r.url, r.headers);
  for (let i = 0; i < ROUNDS; i++) {
    bestOff = Math.min(bestOff, await round(off, r.url, r.headers));
    bestOn = Math.min(bestOn, await round(on, r.url, r.headers));
  }
  rows.push([r.name, bestOff, bestOn, `${(bestOn / bestOff).toFixed(2)}×`]);
}
console.log(`${N} requests per round, ${CONCURRENCY} in flight, best of ${ROUNDS} rounds (after one warm-up round)\n`);
table(rows);
await off.close();
await on.close();
