import { generateBatches } from '@strata/datagen';
import { normalizeMessage } from '@strata/server';
import type { AppContext } from '@strata/server';
import { DEFAULT_PROJECT } from '@strata/server';
import type { IngestItem } from '@strata/store';

/** The segments of the product brief, created by the demo so a new user sees real numbers. */
export const DEMO_SEGMENTS = [
  { name: 'Pricing page 5+ times in 30 days', condition: { event: '$pageview', where: [{ attr: 'properties.path', op: 'eq', value: '/pricing' }], window: { within: '30d' }, cmp: { op: 'gte', value: 5 } } },
  { name: 'Cart abandonment (7 days)', condition: { all: [{ event: 'add_to_cart', window: { within: '7d' } }, { not: { event: 'purchase', window: { within: '7d' } } }] } },
  { name: 'VIP or 500+ revenue', condition: { any: [{ attr: 'traits.plan', op: 'eq', value: 'vip' }, { event: 'purchase', agg: { fn: 'sum', prop: 'properties.revenue' }, cmp: { op: 'gte', value: 500 } }] } },
  { name: 'Resurrected', condition: { all: [{ event: '*', window: { within: '7d' } }, { event: '*', window: { from: '37d', to: '7d' }, cmp: { op: 'eq', value: 0 } }, { event: '*', window: { from: '10000d', to: '37d' } }] } },
  { name: 'UK visitors', condition: { attr: 'context.location.country', op: 'eq', value: 'GB' } },
  { name: 'Mobile', condition: { attr: 'context.device.type', op: 'eq', value: 'mobile' } },
] as const;

/** Loads `users` generated users (seeded) through the ingest path, then creates the demo segments. */
export async function loadDemo(ctx: AppContext, users: number, seed = 42): Promise<{ events: number; seconds: number }> {
  const started = Date.now();
  const end = Date.now();
  let events = 0;
  for (const batch of generateBatches({ seed, users, end }, 400)) {
    const items: IngestItem[] = [];
    for (const m of batch) {
      const n = normalizeMessage(m, null, end, undefined);
      if (n.ok) items.push(n.item);
    }
    await ctx.ingest.submit(DEFAULT_PROJECT, items, [], end);
    events += items.length;
  }
  const existing = new Set((await ctx.segments.list(DEFAULT_PROJECT)).map((s) => s.name));
  for (const s of DEMO_SEGMENTS) {
    if (!existing.has(s.name)) await ctx.segments.create(DEFAULT_PROJECT, { name: s.name, condition: s.condition as never });
  }
  return { events, seconds: (Date.now() - started) / 1000 };
}
