import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { testBackends } from '@strata/store/testing';
import { DEFAULT_PROJECT, WRITE, startTestApp, type TestApp } from './test-app.ts';

const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);

describe.each(backends.map((b) => [b.name, b] as const))('webhooks API on %s', (_n, backend) => {
  let t: TestApp;
  let server: Server | undefined;
  beforeEach(async () => {
    t = await startTestApp(await backend.open(), T0);
  });
  afterEach(async () => {
    await t.close();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((r) => server!.close(() => r()));
      server = undefined;
    }
  });

  const issuePaths = (body: { error: { issues?: { path: string }[] } }) => (body.error.issues ?? []).map((i) => i.path);

  it('creates, lists, gets and deletes webhooks; the secret is shown by create only', async () => {
    const seg = await t.admin('POST', '/api/segments', { name: 'Pro', condition: { attr: 'traits.plan', op: 'eq', value: 'pro' } });
    const c = await t.admin('POST', '/api/webhooks', { url: 'https://crm.example.com/strata', segmentIds: [seg.body.id], kinds: ['segment.entered'] });
    expect(c.status).toBe(201);
    expect(c.body).toEqual({
      id: expect.stringMatching(/^whk_/), url: 'https://crm.example.com/strata', segmentIds: [seg.body.id], kinds: ['segment.entered'],
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{32}$/), createdAt: new Date(T0).toISOString(),
    });
    t.clock.advance(1);
    const all = await t.admin('POST', '/api/webhooks', { url: 'http://localhost:9000/in' });
    expect(all.body).toMatchObject({ segmentIds: null, kinds: ['segment.entered', 'segment.exited'] });
    expect(all.body.secret).not.toBe(c.body.secret);

    const list = await t.admin('GET', '/api/webhooks');
    expect(list.status).toBe(200);
    expect(list.body.webhooks.map((w: { id: string }) => w.id)).toEqual([c.body.id, all.body.id]);
    expect(list.body.webhooks.some((w: object) => 'secret' in w)).toBe(false);

    const got = await t.admin('GET', `/api/webhooks/${c.body.id}`);
    expect(got.status).toBe(200);
    const { secret: _shownOnce, ...withoutSecret } = c.body;
    expect(got.body).toEqual(withoutSecret);

    expect((await t.admin('DELETE', `/api/webhooks/${c.body.id}`)).status).toBe(204);
    expect((await t.admin('GET', `/api/webhooks/${c.body.id}`)).status).toBe(404);
    expect((await t.admin('GET', '/api/webhooks')).body.webhooks.map((w: { id: string }) => w.id)).toEqual([all.body.id]);
  });

  it('answers 400 naming the field for bad input', async () => {
    const bad = async (body: unknown) => {
      const r = await t.admin('POST', '/api/webhooks', body);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
      return issuePaths(r.body);
    };
    expect(await bad({})).toEqual(['/url']);
    expect(await bad({ url: 'not a url' })).toEqual(['/url']);
    expect(await bad({ url: 'file:///etc/passwd' })).toEqual(['/url']);
    expect(await bad({ url: 'https://example.com', secret: 'mine' })).toEqual(['/secret']);
    expect(await bad({ url: 'https://example.com', kinds: ['segment.entered', 'user.created'] })).toEqual(['/kinds/1']);
    expect(await bad({ url: 'https://example.com', segmentIds: ['seg_missing'] })).toEqual(['/segmentIds/0']);
    expect(await bad({ url: 'https://example.com', segmentIds: [] })).toEqual(['/segmentIds']);
    expect(await bad({ url: 42 })).toContain('/url');
    expect((await t.admin('GET', '/api/webhooks')).body.webhooks).toEqual([]);

    const hook = await t.admin('POST', '/api/webhooks', { url: 'https://example.com' });
    const q = await t.admin('GET', `/api/webhooks/${hook.body.id}/deliveries?limit=0`);
    expect(q.status).toBe(400);
    expect(issuePaths(q.body)).toEqual(['/querystring/limit']);
    const cur = await t.admin('GET', `/api/webhooks/${hook.body.id}/deliveries?cursor=%25%25`);
    expect(cur.status).toBe(400);
    expect(issuePaths(cur.body)).toEqual(['/cursor']);
  });

  it('answers 401 without the admin token, 403 with a write key, 404 for unknown ids and for another project', async () => {
    const hook = await t.admin('POST', '/api/webhooks', { url: 'https://example.com' });
    for (const [method, url] of [['GET', '/api/webhooks'], ['POST', '/api/webhooks'], ['GET', `/api/webhooks/${hook.body.id}`], ['DELETE', `/api/webhooks/${hook.body.id}`], ['GET', `/api/webhooks/${hook.body.id}/deliveries`]] as const) {
      const none = await t.app.inject({ method, url, ...(method === 'POST' ? { payload: { url: 'https://example.com' } } : {}) });
      expect(none.statusCode, `${method} ${url}`).toBe(401);
      const writeKey = await t.app.inject({ method, url, headers: { authorization: `Bearer ${WRITE}` }, ...(method === 'POST' ? { payload: { url: 'https://example.com' } } : {}) });
      expect(writeKey.statusCode, `${method} ${url}`).toBe(403);
    }
    for (const [method, url] of [['GET', '/api/webhooks/whk_nope'], ['DELETE', '/api/webhooks/whk_nope'], ['GET', '/api/webhooks/whk_nope/deliveries']] as const) {
      const r = await t.admin(method, url);
      expect(r.status, `${method} ${url}`).toBe(404);
      expect(r.body.error.code).toBe('NOT_FOUND');
    }

    await t.ctx.store.createProject({ id: 'other', name: 'Other', writeKey: 'stw_other', adminToken: 'sta_other', now: T0 });
    const as = (method: 'GET' | 'DELETE', url: string) => t.app.inject({ method, url, headers: { authorization: 'Bearer sta_other' } });
    expect(JSON.parse((await as('GET', '/api/webhooks')).payload)).toEqual({ webhooks: [] });
    expect((await as('GET', `/api/webhooks/${hook.body.id}`)).statusCode).toBe(404);
    expect((await as('GET', `/api/webhooks/${hook.body.id}/deliveries`)).statusCode).toBe(404);
    expect((await as('DELETE', `/api/webhooks/${hook.body.id}`)).statusCode).toBe(404);
    expect((await t.admin('GET', `/api/webhooks/${hook.body.id}`)).status).toBe(200);
  });

  it('shows the delivery log: attempts, last status, payload, by cursor', async () => {
    let status = 503;
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(status).end());
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/in`;
    const hook = await t.admin('POST', '/api/webhooks', { url });
    const changes = [1, 2, 3].map((historyId) => ({
      historyId, segmentId: 'seg_x', segmentName: 'X', userId: `u${historyId}`, anonymousId: null, kind: 'entered' as const, at: T0, reason: 'event',
    }));
    await t.ctx.store.transaction((tx) => t.ctx.webhooks.enqueue(tx, DEFAULT_PROJECT, changes));

    expect(await t.ctx.dispatcher.runOnce()).toBe(1);
    let log = await t.admin('GET', `/api/webhooks/${hook.body.id}/deliveries`);
    expect(log.status).toBe(200);
    expect(log.body.nextCursor).toBeNull();
    expect(log.body.deliveries.map((d: { messageId: string; status: string; attempts: number; lastStatus: number | null }) => [d.messageId, d.status, d.attempts, d.lastStatus])).toEqual([
      [`msg_3_${hook.body.id}`, 'pending', 0, null], [`msg_2_${hook.body.id}`, 'pending', 0, null], [`msg_1_${hook.body.id}`, 'pending', 1, 503],
    ]);
    expect(log.body.deliveries[2]).toMatchObject({
      kind: 'segment.entered', lastError: 'HTTP 503', createdAt: new Date(T0).toISOString(), deliveredAt: null,
      payload: { type: 'segment.entered', timestamp: new Date(T0).toISOString(), data: { segmentId: 'seg_x', segmentName: 'X', userId: 'u1', anonymousId: null, reason: 'event', at: new Date(T0).toISOString() } },
    });

    // The first retry comes 5 s later, give or take the 20% jitter.
    const retryAt = Date.parse(log.body.deliveries[2].nextAttemptAt);
    expect(retryAt).toBeGreaterThanOrEqual(T0 + 4000);
    expect(retryAt).toBeLessThanOrEqual(T0 + 6000);
    expect(log.body.deliveries.map((d: { nextAttemptAt: string }) => d.nextAttemptAt)).toEqual(Array(3).fill(log.body.deliveries[2].nextAttemptAt));

    status = 204;
    t.clock.advance(6000);
    expect(await t.ctx.dispatcher.runOnce()).toBe(3);
    const page1 = await t.admin('GET', `/api/webhooks/${hook.body.id}/deliveries?limit=2`);
    expect(page1.body.deliveries.map((d: { messageId: string }) => d.messageId)).toEqual([`msg_3_${hook.body.id}`, `msg_2_${hook.body.id}`]);
    const page2 = await t.admin('GET', `/api/webhooks/${hook.body.id}/deliveries?limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body.nextCursor).toBeNull();
    expect(page2.body.deliveries).toHaveLength(1);
    expect(page2.body.deliveries[0]).toMatchObject({
      messageId: `msg_1_${hook.body.id}`, status: 'delivered', attempts: 2, lastStatus: 204, lastError: null, nextAttemptAt: null, deliveredAt: new Date(T0 + 6000).toISOString(),
    });
  });

  it('sends the membership changes that events cause', async () => {
    const got: { id: string; body: any }[] = [];
    server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        got.push({ id: String(req.headers['webhook-id']), body: JSON.parse(Buffer.concat(parts).toString('utf8')) });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const seg = await t.admin('POST', '/api/segments', { name: 'Buyers', condition: { event: 'purchase' } });
    const hook = await t.admin('POST', '/api/webhooks', { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, segmentIds: [seg.body.id] });
    expect((await t.send('/v1/track', { userId: 'buyer', event: 'purchase' })).status).toBe(200);
    expect(await t.ctx.dispatcher.runOnce()).toBe(1);
    expect(got).toHaveLength(1);
    expect(got[0]!.id).toMatch(new RegExp(`^msg_\\d+_${hook.body.id}$`));
    expect(got[0]!.body).toMatchObject({ type: 'segment.entered', data: { segmentId: seg.body.id, segmentName: 'Buyers', userId: 'buyer', anonymousId: null, reason: 'event' } });
    const log = await t.admin('GET', `/api/webhooks/${hook.body.id}/deliveries`);
    expect(log.body.deliveries.map((d: { messageId: string; status: string }) => [d.messageId, d.status])).toEqual([[got[0]!.id, 'delivered']]);
  });

  /** Verifies a received message as a receiver would at the (manual) clock's time: the signature, and the timestamp's age. */
  const verify = (secret: string, m: { headers: Record<string, string>; raw: string }): unknown => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(t.clock.now());
    try {
      return new Webhook(secret).verify(m.raw, m.headers);
    } finally {
      vi.useRealTimers();
    }
  };

  /** A receiver that records each request's headers and raw body, answering 200. */
  const receiver = async () => {
    const got: { headers: Record<string, string>; raw: string }[] = [];
    server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        got.push({ headers: req.headers as Record<string, string>, raw: Buffer.concat(parts).toString('utf8') });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return { got, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` };
  };

  it('sends a signed test message through the outbox on request, and logs it with its payload', async () => {
    const rx = await receiver();
    const hook = await t.admin('POST', '/api/webhooks', { url: rx.url });
    // A change written before the test goes first: the test waits its turn in the outbox.
    const change = { historyId: 7, segmentId: 'seg_x', segmentName: 'X', userId: 'u1', anonymousId: null, kind: 'entered' as const, at: T0, reason: 'event' };
    await t.ctx.store.transaction((tx) => t.ctx.webhooks.enqueue(tx, DEFAULT_PROJECT, [change]));
    const test = await t.admin('POST', `/api/webhooks/${hook.body.id}/test`);
    expect(test.status).toBe(202);
    expect(test.body).toMatchObject({
      messageId: expect.stringMatching(/^msg_test_[0-9a-f]{16}$/), kind: 'webhook.test', status: 'pending', attempts: 0,
      payload: { type: 'webhook.test', timestamp: new Date(T0).toISOString(), data: { webhookId: hook.body.id, message: expect.stringContaining('test message'), at: new Date(T0).toISOString() } },
    });
    expect(await t.ctx.dispatcher.runOnce()).toBe(2);
    expect(rx.got.map((g) => g.headers['webhook-id'])).toEqual([`msg_7_${hook.body.id}`, test.body.messageId]);
    // Signed like every message: the receiver verifies it with the secret shown at creation.
    const verified = verify(hook.body.secret, rx.got[1]!) as { type: string };
    expect(verified.type).toBe('webhook.test');
    const log = await t.admin('GET', `/api/webhooks/${hook.body.id}/deliveries`);
    expect(log.body.deliveries[0]).toMatchObject({ messageId: test.body.messageId, status: 'delivered', lastStatus: 200, payload: test.body.payload });
    expect(log.body.deliveries[1]).toMatchObject({ kind: 'segment.entered', payload: { data: { userId: 'u1' } } });
    expect((await t.admin('POST', '/api/webhooks/whk_nope/test')).status).toBe(404);
  });

  it('rotates the secret: the new one is shown once, and the next attempts are signed with it', async () => {
    const rx = await receiver();
    const hook = await t.admin('POST', '/api/webhooks', { url: rx.url });
    const rotated = await t.admin('POST', `/api/webhooks/${hook.body.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ id: hook.body.id, url: rx.url, secret: expect.stringMatching(/^whsec_/) });
    expect(rotated.body.secret).not.toBe(hook.body.secret);
    expect((await t.admin('GET', `/api/webhooks/${hook.body.id}`)).body).not.toHaveProperty('secret');
    await t.admin('POST', `/api/webhooks/${hook.body.id}/test`);
    expect(await t.ctx.dispatcher.runOnce()).toBe(1);
    expect(() => verify(hook.body.secret, rx.got[0]!)).toThrow(/signature/i);
    expect(verify(rotated.body.secret, rx.got[0]!)).toMatchObject({ type: 'webhook.test' });
    expect((await t.admin('POST', '/api/webhooks/whk_nope/rotate-secret')).status).toBe(404);
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = JSON.parse((await t.app.inject({ method: 'GET', url: '/openapi.json' })).payload);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/webhooks', '/api/webhooks/{id}', '/api/webhooks/{id}/deliveries', '/api/webhooks/{id}/test', '/api/webhooks/{id}/rotate-secret']));
  });
});
