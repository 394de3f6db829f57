import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testBackends } from '@strata/store/testing';
import { userHashOf } from './identity.ts';
import { WRITE, startTestApp, type TestApp } from './test-app.ts';

const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);
const DAY = 86_400_000;

describe.each(backends.map((b) => [b.name, b] as const))('experiences and targeting on %s', (_n, backend) => {
  let t: TestApp;
  let vip: string, de: string;
  beforeEach(async () => {
    t = await startTestApp(await backend.open(), T0);
    await t.send('/v1/batch', { batch: [
      { type: 'identify', userId: 'v1', traits: { plan: 'vip', country: 'DE' } },
      { type: 'identify', userId: 'd1', traits: { plan: 'free', country: 'DE' } },
      { type: 'identify', userId: 'f1', traits: { plan: 'free', country: 'FR' } },
    ] });
    vip = (await t.admin('POST', '/api/segments', { name: 'VIP', condition: { attr: 'traits.plan', op: 'eq', value: 'vip' } })).body.id;
    de = (await t.admin('POST', '/api/segments', { name: 'Germany', condition: { attr: 'traits.country', op: 'eq', value: 'DE' } })).body.id;
  });
  afterEach(async () => t.close());

  const targeting = async (query: string) => t.app.inject({ method: 'GET', url: `/v1/targeting?${query}`, headers: { 'x-write-key': WRITE } });

  it('gives each user the first variant they qualify for by priority, else the default, else nothing', async () => {
    const banner = await t.admin('POST', '/api/experiences', { key: 'home-banner', name: 'Home banner', defaultPayload: { text: 'Welcome' }, variants: [
      { key: 'german', payload: { text: 'Willkommen' }, segmentIds: [de], priority: 2 },
      { key: 'vip', payload: { text: 'Welcome back, VIP' }, segmentIds: [vip], priority: 1 },
    ] });
    expect(banner.status).toBe(201);
    await t.admin('POST', '/api/experiences', { key: 'vip-only', name: 'VIP corner', variants: [{ key: 'on', payload: true, segmentIds: [vip] }] });
    const get = async (user: string) => JSON.parse((await targeting(`userId=${user}`)).payload);
    expect((await get('v1')).experiences).toEqual([{ key: 'home-banner', variant: 'vip', payload: { text: 'Welcome back, VIP' } }, { key: 'vip-only', variant: 'on', payload: true }]);
    expect((await get('d1')).experiences).toEqual([{ key: 'home-banner', variant: 'german', payload: { text: 'Willkommen' } }]);
    expect((await get('f1')).experiences).toEqual([{ key: 'home-banner', variant: 'default', payload: { text: 'Welcome' } }]);
    // Not seen yet: what targets everyone.
    expect(await get('stranger')).toMatchObject({ known: false, segments: null, points: 0, experiences: [{ key: 'home-banner', variant: 'default' }] });
    // Membership is live: d1 becomes VIP and gets the VIP variant at once.
    await t.send('/v1/identify', { userId: 'd1', traits: { plan: 'vip' } });
    expect((await get('d1')).experiences[0].variant).toBe('vip');
    // A targeted segment cannot be deleted.
    const del = await t.admin('DELETE', `/api/segments/${vip}`);
    expect(del.status).toBe(409);
    expect(del.body.error.message).toContain('experience "home-banner"');
    // Inactive experiences are not served.
    await t.admin('PATCH', `/api/experiences/${banner.body.id}`, { active: false });
    expect((await get('f1')).experiences).toEqual([]);
  });

  it('keeps a payload that is a bare string, a number or false as it was given, on every store', async () => {
    // On PostgreSQL a jsonb string comes back from the driver parsed: it was once parsed again, and failed.
    for (const [key, payload] of [['text', 'Welcome'], ['number', 7], ['off', false]] as const) {
      const made = await t.admin('POST', '/api/experiences', { key, name: key, defaultPayload: payload, variants: [{ key: 'vip', payload, segmentIds: [vip] }] });
      expect(made.status, JSON.stringify(made.body)).toBe(201);
      expect(made.body.defaultPayload).toEqual(payload);
    }
    const got = JSON.parse((await targeting('userId=f1')).payload);
    expect(got.experiences).toEqual([{ key: 'number', variant: 'default', payload: 7 }, { key: 'off', variant: 'default', payload: false }, { key: 'text', variant: 'default', payload: 'Welcome' }]);
  });

  it('records $experience_viewed from the SDK, so "saw variant A in the past 14 days" is a condition', async () => {
    expect((await t.send('/v1/track', { userId: 'f1', event: '$experience_viewed', properties: { experience: 'home-banner', variant: 'default' }, timestamp: new Date(T0 - 2 * DAY).toISOString() })).status).toBe(200);
    const saw = await t.admin('POST', '/api/segments', { name: 'Saw the default banner', condition: { event: '$experience_viewed', where: [{ attr: 'properties.experience', op: 'eq', value: 'home-banner' }, { attr: 'properties.variant', op: 'eq', value: 'default' }], window: { within: '14d' } } });
    expect(saw.body.size).toBe(1);
    t.clock.advance(13 * DAY);
    await t.ctx.engine.tick();
    expect((await t.admin('GET', `/api/segments/${saw.body.id}`)).body.size).toBe(0);
  });

  it('answers the admin view, and refuses bad experiences with the field at fault', async () => {
    await t.admin('POST', '/api/users/v1/points', { amount: 40, reason: 'bonus', kind: 'earn' });
    const view = await t.admin('GET', '/api/users/v1/targeting');
    expect(view.body).toMatchObject({ userId: 'v1', known: true, points: 40 });
    expect(view.body.segments.map((s: { name: string }) => s.name).sort()).toEqual(['Germany', 'VIP']);
    expect((await t.admin('GET', '/api/users/nobody/targeting')).status).toBe(404);
    const bad = await t.admin('POST', '/api/experiences', { key: 'x', name: 'X', variants: [{ key: 'a', payload: 1, segmentIds: ['seg_nope'] }, { key: 'a', payload: 2 }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues).toEqual([
      { path: '/variants/0/segmentIds/0', message: 'unknown segment id "seg_nope"' },
      { path: '/variants/1/key', message: 'variant key "a" is used twice' },
    ]);
    await t.admin('POST', '/api/experiences', { key: 'x', name: 'X', variants: [{ key: 'a', payload: 1 }] });
    expect((await t.admin('POST', '/api/experiences', { key: 'x', name: 'Y', variants: [{ key: 'a', payload: 1 }] })).status).toBe(409);
    expect((await t.admin('POST', '/api/experiences', { key: 'y', name: 'Y', variants: [] })).status).toBe(400);
  });

  it('names no segments to a write key by default; publicSegments opens them to any caller, identity verification to verified ones', async () => {
    await t.admin('POST', '/api/experiences', { key: 'vip-only', name: 'VIP corner', variants: [{ key: 'on', payload: true, segmentIds: [vip] }] });
    const names = (body: { segments: { name: string }[] | null }) => body.segments && body.segments.map((s) => s.name).sort();
    // Default: what the user gets (the VIP variant), not which segments gave it to them.
    expect((await t.admin('GET', '/api/settings')).body.publicSegments).toBe('verified');
    const hidden = JSON.parse((await targeting('userId=v1')).payload);
    expect(hidden).toMatchObject({ known: true, segments: null, experiences: [{ key: 'vip-only', variant: 'on' }] });
    expect((await targeting('userId=v1')).payload).not.toContain(vip);
    // The admin API always names them.
    expect(names((await t.admin('GET', '/api/users/v1/targeting')).body)).toEqual(['Germany', 'VIP']);
    // Opened to any holder of the write key.
    expect((await t.admin('PATCH', '/api/settings', { publicSegments: 'always' })).body.publicSegments).toBe('always');
    expect(names(JSON.parse((await targeting('userId=v1')).payload))).toEqual(['Germany', 'VIP']);
    expect(JSON.parse((await targeting('anonymousId=nobody-yet')).payload).segments).toEqual([]);
    // Back to the default, then identity verification on: a call with the user's hash learns them.
    await t.admin('PATCH', '/api/settings', { publicSegments: 'verified' });
    expect(JSON.parse((await targeting('userId=v1')).payload).segments).toBeNull();
    const secret: string = (await t.admin('PATCH', '/api/settings', { identityVerification: { enabled: true } })).body.identityVerification.secret;
    expect(names(JSON.parse((await targeting(`userId=v1&userHash=${userHashOf(secret, 'v1')}`)).payload))).toEqual(['Germany', 'VIP']);
    // never: not even a verified call.
    await t.admin('PATCH', '/api/settings', { publicSegments: 'never' });
    const closed = JSON.parse((await targeting(`userId=v1&userHash=${userHashOf(secret, 'v1')}`)).payload);
    expect(closed).toMatchObject({ segments: null, experiences: [{ key: 'vip-only', variant: 'on' }] });
    expect((await t.admin('PATCH', '/api/settings', { publicSegments: 'everyone' })).status).toBe(400);
    expect((await t.admin('GET', '/api/settings')).body).toMatchObject({ publicSegments: 'never', identityVerification: { enabled: true, secret } });
  });

  it('requires userHash once identity verification is on', async () => {
    expect((await targeting('userId=v1')).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/v1/targeting?userId=v1' })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: `/v1/targeting?userId=v1&writeKey=${WRITE}` })).statusCode).toBe(200);
    expect((await targeting('')).statusCode).toBe(400);
    expect((await t.app.inject({ method: 'GET', url: '/v1/targeting?userId=v1&unknown=1' })).statusCode).toBe(401);
    const on = await t.admin('PATCH', '/api/settings', { identityVerification: { enabled: true } });
    const secret: string = on.body.identityVerification.secret;
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect((await targeting('userId=v1')).statusCode).toBe(401);
    expect((await targeting(`userId=v1&userHash=${userHashOf(secret, 'd1')}`)).statusCode).toBe(401);
    expect((await targeting('anonymousId=a1')).statusCode).toBe(401);
    expect((await targeting(`userId=v1&userHash=${userHashOf(secret, 'v1')}`)).statusCode).toBe(200);
    const rotated = await t.admin('PATCH', '/api/settings', { identityVerification: { enabled: true, rotateSecret: true } });
    expect(rotated.body.identityVerification.secret).not.toBe(secret);
    expect((await targeting(`userId=v1&userHash=${userHashOf(secret, 'v1')}`)).statusCode).toBe(401);
    await t.admin('PATCH', '/api/settings', { identityVerification: { enabled: false } });
    expect((await targeting('userId=v1')).statusCode).toBe(200);
    expect((await t.admin('GET', '/api/settings')).body).toMatchObject({ projectId: 'default', identityVerification: { enabled: false } });
  });
});

describe.each(backends.map((b) => [b.name, b] as const))('identity verification guards merges on %s', (_n, backend) => {
  it('refuses a write-key alias of a known user once verification is on (it would hand over their profile and points)', async () => {
    const t = await startTestApp(await backend.open(), T0);
    try {
      await t.send('/v1/batch', { batch: [{ type: 'identify', userId: 'victim' }, { type: 'identify', userId: 'mallory' }, { type: 'track', anonymousId: 'anon-1', event: 'x' }] });
      await t.admin('POST', '/api/users/victim/points', { amount: 500, reason: 'loyal', kind: 'earn' });
      await t.admin('PATCH', '/api/settings', { identityVerification: { enabled: true } });
      const one = await t.send('/v1/alias', { previousId: 'victim', userId: 'mallory' });
      expect([one.status, one.body.error.code]).toEqual([403, 'FORBIDDEN']);
      const batch = await t.send('/v1/batch', { batch: [{ type: 'alias', previousId: 'victim', userId: 'mallory' }, { type: 'alias', previousId: 'anon-1', userId: 'mallory' }] });
      expect(batch.body.rejected).toEqual([{ index: 0, message: expect.stringContaining('identity verification') }]);
      expect((await t.admin('GET', '/api/users/victim/points')).body.balance).toBe(500);
      expect((await t.admin('GET', '/api/users/mallory/points')).body.balance).toBe(0);
      // Anonymous ids still merge into the known user, and without verification aliases work as before.
      expect((await t.admin('GET', '/api/users/anon-1')).body.userId).toBe('mallory');
      await t.admin('PATCH', '/api/settings', { identityVerification: { enabled: false } });
      expect((await t.send('/v1/alias', { previousId: 'victim', userId: 'mallory' })).status).toBe(200);
      expect((await t.admin('GET', '/api/users/mallory/points')).body.balance).toBe(500);
    } finally {
      await t.close();
    }
  });
});
