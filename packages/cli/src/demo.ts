import { AppError } from '@strata/core';
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

/** Loads `users` generated users (seeded) through the ingest path, then creates the demo segments and a loyalty programme with some activity. */
export async function loadDemo(ctx: AppContext, users: number, seed = 42): Promise<{ events: number; seconds: number }> {
  const started = Date.now();
  const end = Date.now();
  let events = 0;
  for (const batch of generateBatches({ seed, users, end }, 400)) {
    events += await submit(ctx, batch, end);
  }
  const existing = new Set((await ctx.segments.list(DEFAULT_PROJECT)).map((s) => s.name));
  for (const s of DEMO_SEGMENTS) {
    if (!existing.has(s.name)) await ctx.segments.create(DEFAULT_PROJECT, { name: s.name, condition: s.condition as never });
  }
  if (!existing.has('Known users')) await ctx.segments.createFromTemplate(DEFAULT_PROJECT, { template: 'known', params: {} });
  events += await loyaltyDemo(ctx);
  return { events, seconds: (Date.now() - started) / 1000 };
}

async function submit(ctx: AppContext, messages: readonly unknown[], receivedAt: number): Promise<number> {
  const items: IngestItem[] = [];
  // The generated context.ip is treated as HTTP ingest treats a client's: located, then dropped (unless STRATA_STORE_IP).
  const geo = { requestIp: null, storeIp: ctx.config.storeIp };
  for (const m of messages) {
    const n = normalizeMessage(m, null, receivedAt, undefined, geo);
    if (n.ok) items.push(n.item);
  }
  await ctx.ingest.submitApplied(DEFAULT_PROJECT, items, [], receivedAt);
  return items.length;
}

/**
 * The loyalty side of the demo, so that every page of the admin UI has data: two missions,
 * two rewards (one with a code pool), an experience, a running experiment over known users,
 * then "today's" searches and purchases of the first 400 known users (missions count events
 * after they start), which complete missions and pay points, and redemptions of the coupon.
 * Made once: a second demo run on the same store leaves it as it is. Returns the events sent.
 */
async function loyaltyDemo(ctx: AppContext): Promise<number> {
  const P = DEFAULT_PROJECT;
  if ((await ctx.missions.list(P)).length > 0) return 0;
  const segments = await ctx.segments.list(P);
  const id = (name: string) => segments.find((s) => s.name === name)!.id;
  const vip = id('VIP or 500+ revenue'), known = id('Known users');
  await ctx.missions.create(P, { name: 'Search three times', description: 'Find something you like', goal: { kind: 'count', event: 'search', target: 3 }, points: 30 });
  await ctx.missions.create(P, { name: 'Two purchases this week', segmentIds: [vip], goal: { kind: 'count', event: 'purchase', target: 2, within: '7d' }, points: 100 });
  const coupon = await ctx.rewards.create(P, { name: '10% coupon', type: 'coupon', cost: 30, perUserLimit: 1 });
  const gift = await ctx.rewards.create(P, { name: 'VIP gift card', type: 'voucher', cost: 100, segmentIds: [vip] });
  await ctx.rewards.addCodes(P, gift.id, Array.from({ length: 25 }, (_, i) => `GIFT-${String(i + 1).padStart(4, '0')}`));
  await ctx.experiences.create(P, {
    key: 'home-banner', name: 'Home banner', defaultPayload: { text: 'New arrivals every week' },
    variants: [{ key: 'vip', name: 'VIP banner', segmentIds: [vip], payload: { text: 'Your VIP gift card is waiting' } }],
  });
  const experiment = await ctx.experiments.create(P, { name: 'Checkout button colour', audienceSegmentId: known, salt: 'checkout-button', arms: [{ key: 'control', weight: 50 }, { key: 'green', weight: 50 }], status: 'running' });

  const rows = await ctx.store.db.selectFrom('profiles').select(['user_id', 'context']).where('project_id', '=', P).where('user_id', 'is not', null).orderBy('id').limit(400).execute();
  const userIds = rows.map((r) => r.user_id!);
  // Each user's device and place as their last visit had them (an event's context becomes the profile's).
  const contextOf = new Map(rows.map((r) => [r.user_id!, typeof r.context === 'string' ? JSON.parse(r.context) as object : r.context as object]));
  const armOf = new Map<string, string>();
  for (const arm of experiment.arms) {
    const members = await ctx.store.listMembers(P, arm.segmentId, 100_000, null);
    for (const m of members) if (m.userId) armOf.set(m.userId, arm.key);
  }
  // Missions count events from their creation on: these happen now.
  const now = ctx.clock.now();
  const at = new Date(now).toISOString();
  const messages: object[] = [];
  userIds.forEach((userId, i) => {
    // Deterministic: searches 0-4, purchases 0-2, a little more often in the "green" arm.
    const searches = i % 5, purchases = (i % 7) % 3 + (armOf.get(userId) === 'green' && i % 4 === 0 ? 1 : 0);
    const context = contextOf.get(userId);
    for (let k = 0; k < searches; k++) messages.push({ type: 'track', userId, event: 'search', properties: { query: `demo ${k}` }, context, timestamp: at });
    for (let k = 0; k < purchases; k++) messages.push({ type: 'track', userId, event: 'purchase', properties: { revenue: 40 + k * 25, currency: 'EUR' }, context, timestamp: at });
  });
  let sent = 0;
  for (let i = 0; i < messages.length; i += 400) sent += await submit(ctx, messages.slice(i, i + 400), now);
  // Half of them take the coupon; those without the points are refused (409), as in the shop.
  for (const userId of userIds.filter((_, i) => i % 2 === 0)) {
    await ctx.rewards.redeem(P, coupon.id, userId, { ref: `demo-${userId}` }).catch((e: unknown) => {
      if (!(e instanceof AppError && e.code === 'INSUFFICIENT_POINTS')) throw e;
    });
  }
  return sent;
}
