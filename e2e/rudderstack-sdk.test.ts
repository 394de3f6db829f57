import Analytics from '@rudderstack/rudder-sdk-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningApp, type RunningApp } from '@strata/server/testing';

// End to end over a real socket: RudderStack's own Node SDK with its default options (gzip-compressed batches).
const ADMIN = 'sta_e2e_admin';
const WRITE = 'stw_e2e_write';
let running: RunningApp;
let base: string;
const encodings: (string | undefined)[] = [];

beforeAll(async () => {
  running = await startListeningApp({
    adminToken: ADMIN, writeKey: WRITE,
    beforeListen: (app) => app.addHook('onRequest', async (req) => { if (req.url === '/v1/batch') encodings.push(req.headers['content-encoding']); }),
  });
  base = running.base;
});
afterAll(async () => running.close());

it('@rudderstack/rudder-sdk-node, defaults unchanged, delivers gzip batches whose identify, track and page calls land in profiles', async () => {
  const errors: unknown[] = [];
  const analytics = new Analytics(WRITE, { dataPlaneUrl: base, flushInterval: 50, retryCount: 0, errorHandler: (e) => errors.push(e) });
  analytics.identify({ userId: 'rs-user', traits: { plan: 'pro', email: 'r@example.com' } });
  analytics.track({ userId: 'rs-user', event: 'Order Completed', properties: { revenue: 12.5 } });
  analytics.page({ userId: 'rs-user', name: 'Pricing', properties: { path: '/pricing' } });
  analytics.track({ anonymousId: 'rs-anon', event: 'Viewed' });
  await analytics.flush();
  expect(errors).toEqual([]);
  expect(encodings.length).toBeGreaterThan(0);
  expect(encodings.every((e) => e === 'gzip')).toBe(true);

  const user = await fetch(`${base}/api/users/rs-user`, { headers: { authorization: `Bearer ${ADMIN}` } }).then((r) => r.json() as Promise<any>);
  expect(user.traits).toMatchObject({ plan: 'pro', email: 'r@example.com' });
  expect(user.context.library.name).toBe('analytics-node');
  const events = await fetch(`${base}/api/users/rs-user/events`, { headers: { authorization: `Bearer ${ADMIN}` } }).then((r) => r.json() as Promise<any>);
  expect(events.events.map((e: { event: string }) => e.event).sort()).toEqual(['$identify', '$pageview', '$session', 'Order Completed']);
  expect((await fetch(`${base}/api/users/rs-anon`, { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(200);
});
