/**
 * Worker of bench/segment-create.ts: creates `count` segments over HTTP with `concurrency`
 * requests in flight (a mix like real ones: templates, traits, events, sequences, nested), and
 * polls GET /api/health one request at a time meanwhile. Posts back every create's and every
 * health check's time in ms.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BENCH_SEGMENTS, EMEA } from './segments.ts';

export interface CreateClientData { base: string; admin: string; count: number; concurrency: number; healthEveryMs: number }
export interface CreateClientResult { createMs: number[]; healthMs: number[]; failed: string[]; ms: number; warnings: Record<string, number> }

const { base, admin, count, concurrency, healthEveryMs } = (workerData ?? {}) as CreateClientData;
const headers = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
const PLANS = ['vip', 'pro', 'basic', 'free', 'team', 'trial'];
const WINDOWS = ['1d', '3d', '7d', '14d', '21d', '30d', '45d', '60d', '90d'];
const PATHS = ['/pricing', '/products', '/cart', '/checkout', '/blog', '/seasonal/christmas', '/search', '/contact', '/account'];
const DEVICES = ['mobile', 'tablet', 'desktop'];
const SOURCES = ['google', 'newsletter', 'facebook', 'partner', 'bing'];
/** Whether the i-th segment is nested (references two others). */
export const nested = (i: number): boolean => BENCH_SEGMENTS[i % 30]?.ref !== undefined;

/**
 * The i-th segment's body: one of 20 shapes of BENCH_SEGMENTS or 10 templates, its values
 * varied by i; nested ones reference two of `created` (segments that are not nested themselves,
 * as in real projects, where nesting is shallow).
 */
export function body(i: number, created: readonly string[]): Record<string, unknown> {
  const v = Math.floor(i / 30);
  const name = `bench ${i}`;
  const within = WINDOWS[v % WINDOWS.length]!;
  const shape = i % 30;
  if (shape >= 20) {
    const t = shape - 20;
    const [template, params]: [string, Record<string, unknown>] = [
      ['high-frequency-visitor', { path: PATHS[v % PATHS.length], minViews: 2 + (v % 40), window: within }],
      ['cart-abandonment', { window: within, cartEvent: v % 2 ? 'add_to_cart' : 'Product Viewed' }],
      ['loyal', { minPurchases: 1 + (v % 20), purchaseWindow: within, minActiveDays: 1 + (v % 20), activeDaysWindow: '30d' }],
      ['vip', { planValues: [PLANS[v % PLANS.length]], minRevenue: 100 + v }],
      ['device-type', { deviceType: DEVICES[v % 3], window: within }],
      ['campaign-source', { source: `${SOURCES[v % SOURCES.length]}${v}`, window: within }],
      ['churned', { inactivity: `${2 + v}d` }],
      ['returning-visitor', { minVisits: 2 + v }],
      ['region-emea', { countries: EMEA.slice(v % 10, (v % 10) + 5 + (v % 7)) }],
      ['new', { window: `${1 + v}d` }],
    ][t] as [string, Record<string, unknown>];
    return { template, params, name };
  }
  const s = BENCH_SEGMENTS[shape]!;
  if (s.ref) {
    // Nested: two segments created earlier (when there are any).
    if (created.length < 2) return { name, condition: { attr: 'traits.plan', op: 'eq', value: `plan${i}` } };
    const a = created[(i * 7919) % created.length]!, b = created[(i * 104_729) % created.length]!;
    return { name, condition: s.name === 'Mobile VIP' ? { all: [{ segment: a }, { segment: b }] } : { all: [{ segment: a }, { not: { segment: b } }] } };
  }
  const condition = JSON.parse(JSON.stringify(s.condition), (k, x) => {
    if (k === 'within') return within;
    if (x === 'vip') return `${PLANS[v % PLANS.length]}${v}`;
    if (x === '/pricing') return PATHS[v % PATHS.length];
    if (x === 'en') return `en-${v}`;
    if (k === 'value' && typeof x === 'number') return x + v;
    if (k === 'value' && Array.isArray(x) && x.length === EMEA.length) return EMEA.slice(v % 10, (v % 10) + 3 + (v % 11));
    return x;
  });
  return { name, condition };
}

/** Ids of segments created so far, for nested conditions. */
const created: string[] = [];
const createMs = new Array<number>(count);
const healthMs: number[] = [];
const failed: string[] = [];
const warnings: Record<string, number> = {};
let next = 0;
let done = false;

async function lane(): Promise<void> {
  for (;;) {
    const i = next++;
    if (i >= count) return;
    const t = performance.now();
    const r = await fetch(`${base}/api/segments`, { method: 'POST', headers, body: JSON.stringify(body(i, created)) });
    const text = await r.text();
    createMs[i] = performance.now() - t;
    if (r.status !== 201) { failed.push(`${i}: ${r.status} ${text.slice(0, 300)}`); continue; }
    const s = JSON.parse(text) as { id: string; warnings?: { code: string }[] };
    if (!nested(i)) created.push(s.id);
    for (const w of s.warnings ?? []) warnings[w.code] = (warnings[w.code] ?? 0) + 1;
  }
}

async function health(): Promise<void> {
  while (!done) {
    const t = performance.now();
    const r = await fetch(`${base}/api/health`);
    await r.arrayBuffer();
    healthMs.push(performance.now() - t);
    await new Promise((res) => setTimeout(res, healthEveryMs));
  }
}

if (parentPort) {
  const started = performance.now();
  const polling = health();
  await Promise.all(Array.from({ length: concurrency }, lane));
  const ms = performance.now() - started;
  done = true;
  await polling;
  parentPort.postMessage({ createMs, healthMs, failed, ms, warnings } satisfies CreateClientResult);
}
