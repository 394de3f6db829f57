import { generateUsers } from './packages/datagen/src/index.ts';
const end = Date.UTC(2025, 11, 15);
const N = Number(process.argv[2] ?? 10000);
const opts = { seed: 7, users: N, end };
let msgs = 0, known = 0, vip = 0, bytes = 0, maxN = 0;
const types: Record<string, number> = {}, events: Record<string, number> = {}, countries: Record<string, number> = {}, life: Record<string, number> = {}, buyer: Record<string, number> = {}, plans: Record<string, number> = {}, pages: Record<string, number> = {};
let abandon = 0, purchasers = 0, rev500 = 0, pricing5 = 0, seasonal = 0;
const counts: number[] = [];
for (const u of generateUsers(opts)) {
  const n = u.messages.length; msgs += n; counts.push(n); maxN = Math.max(maxN, n);
  if (u.userId) known++;
  if (u.meta.plan === 'vip') vip++;
  if (u.meta.plan) plans[u.meta.plan] = (plans[u.meta.plan] ?? 0) + 1;
  countries[u.meta.country] = (countries[u.meta.country] ?? 0) + 1;
  life[u.meta.lifecycle] = (life[u.meta.lifecycle] ?? 0) + 1;
  buyer[u.meta.buyer] = (buyer[u.meta.buyer] ?? 0) + 1;
  let cart = false, buy = false, pr = 0, sea = false;
  for (const m of u.messages) {
    types[m.type] = (types[m.type] ?? 0) + 1;
    if (m.event) { events[m.event] = (events[m.event] ?? 0) + 1; if (m.event === 'add_to_cart') cart = true; if (m.event === 'purchase') buy = true; }
    if (m.type === 'page') { const p = String(m.properties!.path); const k = p.replace(/\/(p\d+|[a-z-]+)$/, (x) => p.startsWith('/products/') ? '/<id>' : p.startsWith('/blog/') ? '/<slug>' : x); pages[k] = (pages[k] ?? 0) + 1; if (p === '/pricing') pr++; if (p.startsWith('/seasonal')) sea = true; }
    if (N <= 20000) bytes += JSON.stringify(m).length;
  }
  if (cart && !buy) abandon++; if (buy) purchasers++; if (u.meta.revenue >= 500) rev500++; if (pr >= 5) pricing5++; if (sea) seasonal++;
}
counts.sort((a, b) => a - b);
console.log({ N, msgs, mean: msgs / N, median: counts[N >> 1], p90: counts[Math.floor(N * 0.9)], p99: counts[Math.floor(N * 0.99)], maxN, knownShare: known / N, vipOfKnown: vip / known, avgBytes: bytes / msgs });
console.log({ types, events, plans, life, buyer, abandon, purchasers, rev500, pricing5, seasonal });
console.log(pages);
console.log(Object.entries(countries).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c}:${(100 * n / N).toFixed(1)}`).join(' '));
