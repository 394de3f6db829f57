import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTestSqlite } from '@strata/store/testing';
import { DEFAULT_PROJECT, startTestApp, type TestApp } from './test-app.ts';

// Validation runs before any store is touched, so one store is enough here.
describe('request bodies are validated as sent, never coerced', () => {
  let t: TestApp;
  let segmentId: string;
  beforeEach(async () => {
    t = await startTestApp(await openTestSqlite());
    const created = await t.admin('POST', '/api/segments', { name: 'Plan pro', condition: { attr: 'traits.plan', op: 'eq', value: 'pro' } });
    expect(created.status).toBe(201);
    segmentId = created.body.id;
    expect((await t.send('/v1/identify', { userId: 'u1', traits: { plan: 'pro' } })).status).toBe(200);
  });
  afterEach(async () => t.close());

  const issuePaths = (body: { error?: { issues?: { path: string }[] } }) => (body.error?.issues ?? []).map((i) => i.path);

  it.each([false, '', 0, 1, 'null', []])('refuses a segment condition of %j and leaves its members as they were', async (condition) => {
    const r = await t.admin('PATCH', `/api/segments/${segmentId}`, { condition });
    expect(r.status).toBe(400);
    expect(issuePaths(r.body)).toContain('/condition');
    const seg = await t.admin('GET', `/api/segments/${segmentId}`);
    expect(seg.body.condition).toEqual({ attr: 'traits.plan', op: 'eq', value: 'pro' });
    expect(seg.body.size).toBe(1);
  });

  it('clears a condition only when asked with an explicit null (a static list that keeps nobody by condition)', async () => {
    const r = await t.admin('PATCH', `/api/segments/${segmentId}`, { condition: null });
    expect(r.status).toBe(200);
    expect(r.body.condition).toBeNull();
    expect(r.body.size).toBe(0);
  });

  it('refuses a reward whose cost is null instead of making it free', async () => {
    const r = await t.admin('POST', '/api/rewards', { name: 'Coffee', type: 'digital', cost: null });
    expect(r.status).toBe(400);
    expect(issuePaths(r.body)).toContain('/cost');
    expect((await t.admin('GET', '/api/rewards')).body.rewards).toEqual([]);
  });

  it.each(['/api/webhooks', '/api/destinations'])('refuses segmentIds "" on %s instead of reading it as every segment', async (url) => {
    const body = url === '/api/webhooks'
      ? { url: 'https://hooks.example.com/in', segmentIds: '' }
      : { name: 'CRM', kind: 'http', url: 'https://crm.example.com/in', segmentIds: '' };
    const r = await t.admin('POST', url, body);
    expect(r.status).toBe(400);
    expect(issuePaths(r.body)).toContain('/segmentIds');
  });

  it.each([true, '5', 1.5])('refuses a points amount of %j', async (amount) => {
    const r = await t.admin('POST', '/api/users/u1/points', { amount, reason: 'test', kind: 'earn' });
    expect(r.status).toBe(400);
    expect(issuePaths(r.body)).toContain('/amount');
    expect((await t.admin('GET', '/api/users/u1/points')).body.balance).toBe(0);
  });

  it.each([
    ['a number', 7.25e300, '/include'],
    ['a number in the list', [7.25e300], '/include/0'],
    ['an id with a NUL character', ['a\u0000b'], '/include/0'],
  ])('refuses %s as an include id and creates no profile', async (_what, include, path) => {
    const before = await t.ctx.store.countProfiles(DEFAULT_PROJECT);
    const r = await t.admin('PATCH', `/api/segments/${segmentId}`, { include });
    expect(r.status).toBe(400);
    expect(issuePaths(r.body)).toContain(path);
    expect((await t.admin('GET', '/api/users/7.25e+300')).status).toBe(404);
    expect(await t.ctx.store.countProfiles(DEFAULT_PROJECT)).toBe(before);
  });

  it('refuses a NUL character in any admin body, at its path', async () => {
    const r = await t.admin('POST', '/api/segments', { name: 'bad\u0000name', condition: null });
    expect(r.status).toBe(400);
    expect(issuePaths(r.body)).toEqual(['/name']);
  });

  it('still reads query strings and path parameters as the numbers their schemas declare', async () => {
    await t.admin('POST', `/api/segments/${segmentId}/members`, { userIds: ['u2', 'u3'], createMissing: true });
    const r = await t.admin('GET', `/api/segments/${segmentId}/members?limit=2`);
    expect(r.status).toBe(200);
    expect(r.body.members).toHaveLength(2);
    expect(r.body.nextCursor).not.toBeNull();
    expect((await t.admin('GET', `/api/segments/${segmentId}/members?limit=two`)).status).toBe(400);
  });
});
