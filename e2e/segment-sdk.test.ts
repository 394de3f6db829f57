import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningApp, type RunningApp } from '@strata/server/testing';

// End to end over a real socket: Segment's own Node library, pointed at Strata with host/path.
const ADMIN = 'sta_e2e_admin';
const WRITE = 'stw_e2e_write';
let running: RunningApp;
let base: string;

beforeAll(async () => {
  running = await startListeningApp({ adminToken: ADMIN, writeKey: WRITE });
  base = running.base;
});
afterAll(async () => running.close());

it('@segment/analytics-node delivers identify, track and page calls that land in profiles and segments', async () => {
  const segment = await fetch(`${base}/api/segments`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Pricing viewers', condition: { event: '$pageview', where: [{ attr: 'properties.path', op: 'eq', value: '/pricing' }] } }),
  }).then((r) => r.json() as Promise<{ id: string }>);
  const analytics = new Analytics({ writeKey: WRITE, host: base, path: '/v1/batch', flushInterval: 50, maxEventsInBatch: 10 });
  const errors: unknown[] = [];
  analytics.on('error', (e) => errors.push(e));
  analytics.identify({ userId: 'sdk-user', traits: { plan: 'vip', email: 'a@example.com' } });
  analytics.track({ userId: 'sdk-user', event: 'Order Completed', properties: { revenue: 42.5 } });
  analytics.page({ userId: 'sdk-user', name: 'Pricing', properties: { path: '/pricing', url: `${base}/pricing` } });
  analytics.track({ anonymousId: 'sdk-anon', event: 'Viewed' });
  await analytics.closeAndFlush({ timeout: 10_000 });
  expect(errors).toEqual([]);

  const user = await fetch(`${base}/api/users/sdk-user`, { headers: { authorization: `Bearer ${ADMIN}` } }).then((r) => r.json() as Promise<any>);
  expect(user.traits).toMatchObject({ plan: 'vip', email: 'a@example.com' });
  expect(user.context.library.name).toBe('@segment/analytics-node');
  expect(user.segments.map((s: { id: string }) => s.id)).toEqual([segment.id]);
  const events = await fetch(`${base}/api/users/sdk-user/events`, { headers: { authorization: `Bearer ${ADMIN}` } }).then((r) => r.json() as Promise<any>);
  // The user's timeline also shows what Strata derived: the visit and the segment entry.
  expect(events.events.map((e: { event: string }) => e.event).sort()).toEqual(['$identify', '$pageview', '$segment_entered', '$session', 'Order Completed']);
  expect(events.events.find((e: { event: string }) => e.event === '$segment_entered').properties).toMatchObject({ segmentId: segment.id, reason: 'event' });
  const anon = await fetch(`${base}/api/users/sdk-anon`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(anon.status).toBe(200);
});
