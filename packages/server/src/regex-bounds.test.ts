import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openTestSqlite } from '@strata/store/testing';
import { ensureDefaultProject } from './bootstrap.ts';
import { configFromEnv } from './config.ts';
import { ADMIN, DEFAULT_PROJECT, startTestApp, WRITE, type TestApp } from './test-app.ts';

// 5,202 instructions: before the program bound a preview with it took 3 s on a 16,000-character trait.
const STALL = '((a?){1,10}){1,100}$';
// The same shape just under the bound (470 instructions): the costliest kind of pattern still accepted
// (it also matches the empty string at the end, so every value of the attribute matches).
const WORST_ACCEPTED = '((a?){1,10}){1,9}$';

/** Runs `work` and, while it runs, GET /api/health; answers how long the health check took. */
async function healthLatencyDuring(t: TestApp, work: () => Promise<unknown>): Promise<{ ms: number; result: unknown }> {
  const pending = work();
  const t0 = performance.now();
  const health = await t.app.inject({ method: 'GET', url: '/api/health' });
  const ms = performance.now() - t0;
  expect(health.statusCode).toBe(200);
  return { ms, result: await pending };
}

describe('regular-expression bounds over HTTP', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp(await openTestSqlite());
    const batch = [
      { type: 'identify', userId: 'long16', traits: { bio: 'a'.repeat(16_000) } },
      { type: 'identify', userId: 'long30', traits: { bio: 'x' } },
      { type: 'track', userId: 'long30', event: 'Viewed', properties: { url: 'a'.repeat(30_000) } },
      { type: 'identify', userId: 'short', traits: { bio: 'aaa' } },
    ];
    for (const m of batch) expect((await t.send('/v1/batch', { batch: [m] })).status).toBe(200);
  });
  afterEach(async () => t.close());

  it('refuses the stalling pattern with a 400 at its JSON path, and /api/health is not held up', async () => {
    const { ms, result } = await healthLatencyDuring(t, () => t.admin('POST', '/api/segments/preview', { condition: { attr: 'traits.bio', op: 'matches', value: STALL } }));
    const r = result as { status: number; body: { error: { issues: { path: string; message: string }[] } } };
    expect(r.status).toBe(400);
    expect(r.body.error.issues).toEqual([{ path: '/condition/value', message: expect.stringMatching(/5202 instructions, more than the limit of 500/) }]);
    expect(ms).toBeLessThan(1000);
    const saved = await t.admin('POST', '/api/segments', { name: 'stall', condition: { event: 'Viewed', where: [{ attr: 'properties.url', op: 'matches', value: STALL }] } });
    expect(saved.status).toBe(400);
    expect(saved.body.error.issues[0].path).toBe('/condition/where/0/value');
  });

  it.each([
    ['a 16,000-character trait (answered from the engine)', { attr: 'traits.bio', op: 'matches', value: WORST_ACCEPTED }, ['long16', 'long30', 'short']],
    ['a 30,000-character event property (answered by SQL)', { event: 'Viewed', where: [{ attr: 'properties.url', op: 'matches', value: WORST_ACCEPTED }] }, ['long30']],
  ])('previews the costliest accepted pattern on %s while /api/health answers', async (_n, condition, members) => {
    const { ms, result } = await healthLatencyDuring(t, () => t.admin('POST', '/api/segments/preview', { condition }));
    const r = result as { status: number; body: { count: number; sample: { userId: string }[] } };
    expect(r.status).toBe(200);
    expect(r.body.sample.map((m) => m.userId).sort()).toEqual(members);
    // Generous: each evaluation reads at most 1,000 characters (under 10 ms idle); unbounded, this took seconds.
    expect(ms).toBeLessThan(1000);
  });
});

describe('a segment saved before the program bound, with a pattern now over it', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await t?.close();
  });

  it('is kept, matches nobody, and the engine says so once when it loads it', async () => {
    const store = await openTestSqlite();
    const now = Date.UTC(2024, 5, 15, 12);
    await ensureDefaultProject(store, { ...configFromEnv({}), adminToken: ADMIN, writeKey: WRITE }, now);
    await store.insertSegment({ id: 'seg_old', projectId: DEFAULT_PROJECT, name: 'Old regex', description: '', condition: { attr: 'traits.bio', op: 'matches', value: STALL }, template: null, params: null, createdAt: now, updatedAt: now });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    t = await startTestApp(store, now);
    expect((await t.send('/v1/identify', { userId: 'u1', traits: { bio: 'a'.repeat(16_000) } })).status).toBe(200);
    const seen = warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes('seg_old'));
    expect(seen).toEqual([expect.stringMatching(/segment seg_old \("Old regex"\) of project default no longer validates and matches nobody until it is edited: \/value .*5202 instructions/)]);
    const got = await t.admin('GET', '/api/segments/seg_old');
    expect(got.status).toBe(200);
    expect(got.body.condition).toEqual({ attr: 'traits.bio', op: 'matches', value: STALL });
    expect(got.body.size).toBe(0);
  });
});

