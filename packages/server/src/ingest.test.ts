import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testBackends } from '@strata/store/testing';
import { startTestApp, WRITE, type TestApp } from './test-app.ts';

const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);

describe.each(backends.map((b) => [b.name, b] as const))('ingest on %s', (_n, backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp(await backend.open(), T0);
  });
  afterEach(async () => t.close());

  const events = async (id: string) => (await t.admin('GET', `/api/users/${id}/events?limit=1000`)).body.events as { event: string; properties: any; timestamp: string }[];

  it('accepts every endpoint and short path, with each write-key form and any content type', async () => {
    const basic = `Basic ${Buffer.from(`${WRITE}:`).toString('base64')}`;
    const calls: [string, object, Record<string, string>][] = [
      ['/v1/track', { userId: 'u1', event: 'a' }, {}],
      ['/v1/t', { userId: 'u1', event: 'b' }, { authorization: basic, 'x-write-key': '' }],
      ['/v1/page', { userId: 'u1', name: 'Home', properties: { path: '/' } }, { 'content-type': 'text/plain' }],
      ['/v1/p', { userId: 'u1', writeKey: WRITE, properties: { path: '/x' } }, { 'x-write-key': '' }],
      ['/v1/identify', { userId: 'u1', traits: { plan: 'pro' } }, {}],
      ['/v1/i', { userId: 'u1', traits: { age: 3 } }, {}],
      ['/v1/screen', { userId: 'u1', name: 'Home' }, {}],
      ['/v1/s', { userId: 'u1', name: 'Cart' }, {}],
      ['/v1/group', { userId: 'u1', groupId: 'g1', traits: { n: 1 } }, {}],
      ['/v1/g', { userId: 'u1', groupId: 'g2' }, {}],
      ['/v1/alias', { userId: 'u1', previousId: 'old-1' }, {}],
      ['/v1/a', { userId: 'u1', previousId: 'old-2' }, {}],
      ['/v1/batch', { batch: [{ type: 'track', userId: 'u1', event: 'c' }] }, {}],
      ['/v1/b', { batch: [{ type: 'track', userId: 'u1', event: 'd' }] }, { 'content-type': 'application/x-www-form-urlencoded' }],
    ];
    for (const [path, body, headers] of calls) {
      const r = await t.send(path, body, headers);
      expect([path, r.status, r.body]).toEqual([path, 200, { success: true, position: expect.any(Number) }]);
    }
    const names = (await events('u1')).map((e) => e.event).sort();
    expect(names).toEqual(['$alias', '$alias', '$group', '$group', '$identify', '$identify', '$pageview', '$pageview', '$screen', '$screen', '$session', 'a', 'b', 'c', 'd']);
    const profile = (await t.admin('GET', '/api/users/u1')).body;
    expect(profile.traits).toEqual({ plan: 'pro', age: 3 });
    expect((await t.admin('GET', '/api/users/old-1')).body.userId).toBe('u1');
  });

  it('answers 401 without a write key or with a wrong one, in the error shape', async () => {
    const none = await t.app.inject({ method: 'POST', url: '/v1/track', payload: { userId: 'u', event: 'a' } });
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe('UNAUTHORIZED');
    const wrong = await t.send('/v1/track', { userId: 'u', event: 'a' }, { 'x-write-key': 'nope' });
    expect(wrong.status).toBe(401);
  });

  it('answers 400 naming the fault for bad JSON, bad fields, oversize events and batches', async () => {
    const bad = await t.send('/v1/track', '{"userId": "u", ');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/not valid JSON/);
    const noEvent = await t.send('/v1/track', { userId: 'u' });
    expect(noEvent.status).toBe(400);
    expect(noEvent.body.error.issues).toEqual([expect.objectContaining({ path: '/event' })]);
    const noId = await t.send('/v1/track', { event: 'x' });
    expect(noId.body.error.issues[0].path).toBe('/userId');
    const derived = await t.send('/v1/track', { userId: 'u', event: '$segment_entered' });
    expect(derived.status).toBe(400);
    expect(derived.body.error.message).toMatch(/derived/);
    const big = await t.send('/v1/track', { userId: 'u', event: 'x', properties: { blob: 'x'.repeat(33 * 1024) } });
    expect(big.status).toBe(400);
    expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    const many = await t.send('/v1/batch', { batch: Array.from({ length: 2501 }, () => ({ type: 'track', userId: 'u', event: 'x' })) });
    expect(many.status).toBe(400);
    const huge = await t.send('/v1/batch', { batch: Array.from({ length: 40 }, () => ({ type: 'track', userId: 'u', event: 'x', properties: { b: 'y'.repeat(14000) } })) });
    expect(huge.status).toBe(400);
    expect(huge.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect((await t.admin('GET', '/api/users/u')).status).toBe(404);
  });

  it('stores the valid items of a batch, reports the rejected ones and keeps them as warnings', async () => {
    const r = await t.send('/v1/batch', { batch: [
      { type: 'track', userId: 'u2', event: 'ok' },
      { type: 'track', userId: 'u2' },
      { type: 'nope', userId: 'u2' },
      { type: 'identify', anonymousId: 'a2', traits: 'x' },
    ] });
    expect(r.status).toBe(200);
    expect(r.body.success).toBe(true);
    expect(r.body.rejected.map((x: { index: number }) => x.index)).toEqual([1, 2, 3]);
    expect(r.body.rejected[0].message).toMatch(/event/);
    expect((await events('u2')).map((e) => e.event).sort()).toEqual(['$session', 'ok']);
    const w = await t.admin('GET', '/api/ingest/warnings');
    expect(w.body.total).toBe(3);
    expect(w.body.warnings.map((x: { index: number }) => x.index).sort()).toEqual([1, 2, 3]);
    const allBad = await t.send('/v1/batch', { batch: [{ type: 'track', userId: 'u3' }] });
    expect(allBad.status).toBe(400);
    expect(allBad.body.error.issues[0].path).toBe('/batch/0/event');
  });

  it('de-duplicates by messageId per project', async () => {
    for (let i = 0; i < 3; i++) expect((await t.send('/v1/track', { userId: 'u4', event: 'buy', messageId: 'm-1' })).status).toBe(200);
    await t.send('/v1/batch', { batch: [{ type: 'track', userId: 'u4', event: 'buy', messageId: 'm-1' }, { type: 'track', userId: 'u4', event: 'buy', messageId: 'm-2' }, { type: 'track', userId: 'u4', event: 'buy', messageId: 'm-2' }] });
    expect((await events('u4')).filter((e) => e.event === 'buy')).toHaveLength(2);
  });

  it('corrects client clock skew with sentAt, per message and per batch', async () => {
    const orig = '2024-06-15T10:00:00.000Z';
    const sent = '2024-06-15T10:30:00.000Z';
    await t.send('/v1/track', { userId: 'u5', event: 'skew', timestamp: orig, sentAt: sent });
    await t.send('/v1/batch', { sentAt: sent, batch: [{ type: 'track', userId: 'u5', event: 'skew2', originalTimestamp: orig }] });
    await t.send('/v1/track', { userId: 'u5', event: 'plain', timestamp: orig });
    await t.send('/v1/track', { userId: 'u5', event: 'none' });
    const byName = Object.fromEntries((await events('u5')).map((e) => [e.event, e.timestamp]));
    expect(byName.skew).toBe(new Date(T0 - 30 * 60_000).toISOString());
    expect(byName.skew2).toBe(new Date(T0 - 30 * 60_000).toISOString());
    expect(byName.plain).toBe(orig);
    expect(byName.none).toBe(new Date(T0).toISOString());
  });

  it('answers CORS preflights on ingest routes', async () => {
    const r = await t.app.inject({ method: 'OPTIONS', url: '/v1/batch', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' } });
    expect(r.statusCode).toBeLessThan(300);
    expect(r.headers['access-control-allow-origin']).toBe('*');
  });

  it('merges an anonymous profile into the known one on identify, carrying events and traits', async () => {
    await t.send('/v1/page', { anonymousId: 'anon-1', properties: { path: '/pricing' }, timestamp: '2024-06-15T11:00:00Z' });
    await t.send('/v1/identify', { anonymousId: 'anon-1', traits: { plan: 'free', color: 'red' }, timestamp: '2024-06-15T11:01:00Z' });
    await t.send('/v1/identify', { userId: 'known-1', traits: { plan: 'pro' }, timestamp: '2024-06-15T11:05:00Z' });
    // anon-1 has no userId yet; now the user logs in on that device: both profiles merge.
    await t.send('/v1/identify', { userId: 'known-1', anonymousId: 'anon-1', timestamp: '2024-06-15T11:06:00Z' });
    const p = (await t.admin('GET', '/api/users/anon-1')).body;
    expect(p.userId).toBe('known-1');
    expect(p.anonymousIds).toContain('anon-1');
    expect(p.traits).toEqual({ plan: 'pro', color: 'red' });
    expect(p.firstSeen).toBe('2024-06-15T11:00:00.000Z');
    const names = (await events('known-1')).map((e) => e.event);
    expect(names.filter((n) => n === '$pageview')).toHaveLength(1);
    expect(names.filter((n) => n === '$identify')).toHaveLength(3);
    // One visit: the merged events are within 30 minutes of each other.
    expect(names.filter((n) => n === '$session')).toHaveLength(1);
    const anonymousUpgrade = await t.send('/v1/track', { anonymousId: 'anon-9', event: 'x' });
    expect(anonymousUpgrade.status).toBe(200);
    await t.send('/v1/identify', { anonymousId: 'anon-9', userId: 'known-9' });
    expect((await t.admin('GET', '/api/users/known-9')).body.anonymousId).toBe('anon-9');
  });

  it('derives visits with their attributes and splits them after 30 minutes of inactivity', async () => {
    const ctx = { campaign: { source: 'newsletter', medium: 'email' }, device: { type: 'ios' }, locale: 'en-GB', location: { country: 'GB' }, page: { url: 'https://shop.example/sale?utm_source=ignored', path: '/sale', referrer: 'https://www.google.com/search?q=x' } };
    await t.send('/v1/page', { userId: 'v1', properties: { path: '/sale' }, context: ctx, timestamp: '2024-06-15T08:00:00Z' });
    await t.send('/v1/track', { userId: 'v1', event: 'x', timestamp: '2024-06-15T08:20:00Z' });
    await t.send('/v1/track', { userId: 'v1', event: 'y', timestamp: '2024-06-15T08:50:01Z' });
    const sessions = (await events('v1')).filter((e) => e.event === '$session').sort((a, b) => a.timestamp.localeCompare(b.timestamp));
    expect(sessions.map((s) => s.timestamp)).toEqual(['2024-06-15T08:00:00.000Z', '2024-06-15T08:50:01.000Z']);
    expect(sessions[0]!.properties).toMatchObject({ landingPage: '/sale', utm_source: 'newsletter', utm_medium: 'email', deviceType: 'mobile', locale: 'en-GB', country: 'GB', referrerHost: 'www.google.com' });
    // A late event that falls between two visits joins them into one.
    await t.send('/v1/track', { userId: 'v1', event: 'late', timestamp: '2024-06-15T08:40:00Z' });
    const after = (await events('v1')).filter((e) => e.event === '$session');
    expect(after).toHaveLength(1);
  });

  it('keeps each project to itself', async () => {
    await t.ctx.store.createProject({ id: 'other', name: 'Other', writeKey: 'stw_other', adminToken: 'sta_other', now: T0 });
    await t.send('/v1/track', { userId: 'shared-id', event: 'mine' });
    await t.send('/v1/track', { userId: 'shared-id', event: 'theirs' }, { 'x-write-key': 'stw_other' });
    const mine = (await events('shared-id')).map((e) => e.event).filter((n) => !n.startsWith('$'));
    expect(mine).toEqual(['mine']);
    const theirs = await t.app.inject({ method: 'GET', url: '/api/users/shared-id/events', headers: { authorization: 'Bearer sta_other' } });
    expect(theirs.json().events.map((e: { event: string }) => e.event).filter((n: string) => !n.startsWith('$'))).toEqual(['theirs']);
  });
});

describe.each(backends.map((b) => [b.name, b] as const))('identity within one batch on %s', (_n, backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp(await backend.open(), T0);
  });
  afterEach(async () => t.close());

  it('merges an anonymous profile created earlier in the same batch, keeping all its events', async () => {
    await t.send('/v1/identify', { userId: 'known-b', traits: { plan: 'pro' }, timestamp: '2024-06-15T09:00:00Z' });
    const r = await t.send('/v1/batch', { batch: [
      { type: 'page', anonymousId: 'anon-b', properties: { path: '/a' }, timestamp: '2024-06-15T10:00:00Z' },
      { type: 'track', anonymousId: 'anon-b', event: 'clicked', timestamp: '2024-06-15T10:01:00Z' },
      { type: 'identify', userId: 'known-b', anonymousId: 'anon-b', timestamp: '2024-06-15T10:02:00Z' },
      { type: 'track', anonymousId: 'anon-b', event: 'after', timestamp: '2024-06-15T10:03:00Z' },
    ] });
    expect(r.status).toBe(200);
    const events = (await t.admin('GET', '/api/users/known-b/events?limit=100')).body.events.map((e: { event: string }) => e.event).sort();
    expect(events).toEqual(['$identify', '$identify', '$pageview', '$session', '$session', 'after', 'clicked']);
    expect((await t.admin('GET', '/api/users/anon-b')).body.userId).toBe('known-b');
    const orphans = await t.ctx.store.db.selectFrom('events').select('id').where('profile_id', 'not in', t.ctx.store.db.selectFrom('profiles').select('id')).execute();
    expect(orphans).toEqual([]);
  });
});

describe('when the store fails', () => {
  it('acknowledges into the log, answers reads 503 NOT_YET_APPLIED naming why, and applies once the store is back', async () => {
    const [sqlite] = backends;
    const t = await startTestApp(await sqlite!.open(), T0, { config: { readWaitMs: 300 } });
    expect((await t.send('/v1/track', { userId: 'ok', event: 'a' })).status).toBe(200);
    const original = t.ctx.store.transaction.bind(t.ctx.store);
    t.ctx.store.transaction = async () => { throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' }); };
    const r = await t.app.inject({ method: 'POST', url: '/v1/track', headers: { 'x-write-key': WRITE }, payload: { userId: 'late', event: 'a' } });
    expect(r.statusCode).toBe(200);
    const position = r.json().position as number;
    expect(r.headers['strata-position']).toBe(String(position));
    const read = await t.admin('GET', '/api/users/late');
    expect(read.status).toBe(503);
    expect(read.headers['retry-after']).toBe('1');
    expect(read.body.error).toMatchObject({ code: 'NOT_YET_APPLIED', message: expect.stringMatching(new RegExp(`up to log position ${position} are not applied yet .*the store is unavailable \\(SQLITE_IOERR_WRITE\\)`)) });
    t.ctx.store.transaction = original;
    const back = await t.admin('GET', '/api/users/late');
    expect(back.status).toBe(200);
    expect(Number(back.headers['strata-position'])).toBeGreaterThanOrEqual(position);
    await t.close();
  });

  it('answers 503 STORE_UNAVAILABLE with Retry-After and acknowledges nothing when the log cannot take the events', async () => {
    const [sqlite] = backends;
    const t = await startTestApp(await sqlite!.open(), T0);
    const append = t.ctx.ingest.log.append.bind(t.ctx.ingest.log);
    t.ctx.ingest.log.append = async () => { throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }); };
    const r = await t.app.inject({ method: 'POST', url: '/v1/track', headers: { 'x-write-key': WRITE }, payload: { userId: 'lost', event: 'a' } });
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('5');
    expect(r.json().error).toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringMatching(/event log could not take the events \(SQLITE_FULL\): nothing was acknowledged/) });
    t.ctx.ingest.log.append = append;
    expect((await t.admin('GET', '/api/users/lost')).status).toBe(404);
    expect((await t.send('/v1/track', { userId: 'lost', event: 'a' })).status).toBe(200);
    expect((await t.admin('GET', '/api/users/lost')).status).toBe(200);
    await t.close();
  });
});

describe.each(backends.map((b) => [b.name, b] as const))('review findings on %s', (name, backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp(await backend.open(), T0);
  });
  afterEach(async () => t.close());

  it('refuses timestamps no store can hold, and strings with NUL or unpaired surrogates, with 400', async () => {
    for (const body of [
      { userId: 'u', event: 'x', timestamp: 1e17 },
      { userId: 'u', event: 'x', timestamp: '2024-02-30T00:00:00Z' },
      { userId: 'u', event: 'x', timestamp: '0999-12-31T00:00:00Z' },
      { userId: 'u', event: 'x', properties: { note: 'a\u0000b' } },
      { userId: 'u\u0000x', event: 'x' },
      { userId: 'u', event: 'x', properties: { s: 'a\ud800' } },
    ]) {
      const r = await t.send('/v1/track', body);
      expect([JSON.stringify(body), r.status]).toEqual([JSON.stringify(body), 400]);
    }
    const micro = await t.send('/v1/track', { userId: 'u', event: 'x', timestamp: '2024-06-15T10:00:00.123456+0200' });
    expect(micro.status).toBe(200);
    expect((await t.admin('GET', '/api/users/u/events')).body.events.find((e: { event: string }) => e.event === 'x').timestamp).toBe('2024-06-15T08:00:00.123Z');
  });

  it('merges traits by event time, the same whether messages come one by one or in one batch', async () => {
    const msgs = (k: string) => [
      { type: 'identify', anonymousId: `anon-${k}`, traits: { plan: 'free', seen: k }, timestamp: '2024-06-15T10:00:00Z' },
      { type: 'identify', userId: `known-${k}`, anonymousId: `anon-${k}`, timestamp: '2024-06-15T10:01:00Z' },
    ];
    for (const k of ['a', 'b']) await t.send('/v1/identify', { userId: `known-${k}`, traits: { plan: 'pro', tier: 1 }, timestamp: '2024-06-15T09:00:00Z' });
    for (const m of msgs('a')) await t.send('/v1/batch', { batch: [m] });
    await t.send('/v1/batch', { batch: msgs('b') });
    expect((await t.admin('GET', '/api/users/known-a')).body.traits).toEqual({ plan: 'free', tier: 1, seen: 'a' });
    expect((await t.admin('GET', '/api/users/known-b')).body.traits).toEqual({ plan: 'free', tier: 1, seen: 'b' });
    // A late identify, older than what the profile has, does not overwrite newer traits.
    await t.send('/v1/identify', { userId: 'known-a', traits: { plan: 'basic', late: true }, timestamp: '2024-06-15T08:00:00Z' });
    expect((await t.admin('GET', '/api/users/known-a')).body.traits).toEqual({ plan: 'free', tier: 1, seen: 'a', late: true });
  });

  it('keeps an excluded anonymous profile excluded when only the include list is patched, creating no phantom user', async () => {
    await t.send('/v1/track', { anonymousId: 'anon-x', event: 'visit' });
    const seg = (await t.admin('POST', '/api/segments', { name: 'Visitors', condition: { event: 'visit' } })).body;
    expect((await t.admin('DELETE', `/api/segments/${seg.id}/members/anon-x`)).status).toBe(204);
    const p = await t.admin('PATCH', `/api/segments/${seg.id}`, { include: ['someone'] });
    expect(p.body).toMatchObject({ include: ['someone'], exclude: ['anon-x'], size: 1 });
    expect((await t.admin('GET', '/api/users/anon-x')).body).toMatchObject({ userId: null, anonymousId: 'anon-x' });
    const add = await t.admin('POST', `/api/segments/${seg.id}/members`, { userIds: ['anon-x'] });
    expect(add.body).toMatchObject({ include: ['anon-x', 'someone'], exclude: [], size: 2 });
    expect((await t.admin('GET', '/api/users/anon-x')).body.userId).toBeNull();
  });

  it('keeps membership since through an anonymous → known merge', async () => {
    const seg = (await t.admin('POST', '/api/segments', { name: 'Clickers', condition: { event: 'click' } })).body;
    await t.send('/v1/track', { anonymousId: 'anon-s', event: 'click' });
    t.clock.advance(2 * 3_600_000);
    await t.send('/v1/identify', { userId: 'known-s' });
    await t.send('/v1/identify', { userId: 'known-s', anonymousId: 'anon-s' });
    expect((await t.admin('GET', '/api/users/known-s/segments')).body.segments).toEqual([{ id: seg.id, name: 'Clickers', since: new Date(T0).toISOString() }]);
  });

  it.runIf(name.startsWith('postgres'))('sets a record the store refuses aside as ingestion warnings, and applies the others of its transaction', async () => {
    await t.ctx.store.createProject({ id: 'other', name: 'Other', writeKey: 'stw_other', adminToken: 'sta_other', now: T0 });
    const item = (userId: string, properties: Record<string, string>) => ({
      messageId: `m-${userId}`, type: 'track' as const, name: 'x', userId, anonymousId: null, previousId: null,
      properties, context: {}, traits: null, timestamp: T0, receivedAt: T0,
    });
    // PostgreSQL refuses NUL in text: built by hand, since ingest validation refuses it before the store.
    const good = t.ctx.ingest.submitApplied('other', [item('innocent', {})], [], T0);
    const bad = t.ctx.ingest.submitApplied('default', [item('u-nul', { note: 'a\u0000b' })], [], T0);
    const [g, b] = await Promise.allSettled([good, bad]);
    expect(b.status).toBe('rejected');
    expect(g).toMatchObject({ status: 'fulfilled', value: { stored: 1 } });
    const warnings = await t.ctx.store.listRejections('default', 10);
    expect(warnings.map((w) => w.message)).toEqual([expect.stringMatching(/^acknowledged but could not be applied: /)]);
    expect(warnings[0]!.payload).toContain('u-nul');
  });

});
