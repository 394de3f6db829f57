import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '@strata/server/testing';
import { createStore } from '@strata/store';
import { testBackends } from '@strata/store/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_SEGMENTS, loadDemo } from './demo.ts';

/**
 * `npm run demo` fills every page of the admin UI with data: the demo segments with members
 * and history, missions with progress and completions, rewards with codes and redemptions,
 * an experience, a running experiment with users in both arms. Checked through the admin API.
 */
describe('the demo data', () => {
  let t: TestApp;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-demo-'));
    t = await startTestApp(await createStore({ kind: 'sqlite', dataDir: dir }), Date.now());
    await loadDemo(t.ctx, 1500);
  }, 120_000);
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives every page something real to show', async () => {
    const segments = (await t.admin('GET', '/api/segments')).body.segments as { id: string; name: string; size: number }[];
    expect(segments.map((s) => s.name)).toEqual(expect.arrayContaining([...DEMO_SEGMENTS.map((s) => s.name), 'Known users']));
    const nonEmpty = segments.filter((s) => s.size > 0);
    expect(nonEmpty.length).toBeGreaterThanOrEqual(5);
    const sizes = (await t.admin('GET', '/api/segments/sizes?days=30')).body.segments as { id: string; sizes: number[] }[];
    expect(sizes.some((s) => new Set(s.sizes).size > 1)).toBe(true);

    const missions = (await t.admin('GET', '/api/missions')).body.missions as { id: string; name: string }[];
    expect(missions).toHaveLength(2);
    const search = missions.find((m) => m.name === 'Search three times')!;
    const progress = (await t.admin('GET', `/api/missions/${search.id}/progress?limit=500`)).body.progress as { completions: number }[];
    expect(progress.filter((p) => p.completions > 0).length).toBeGreaterThan(10);

    const rewards = (await t.admin('GET', '/api/rewards')).body.rewards as { name: string; redemptions: number; codes: { total: number } }[];
    expect(rewards.find((r) => r.name === '10% coupon')!.redemptions).toBeGreaterThan(10);
    expect(rewards.find((r) => r.name === 'VIP gift card')!.codes.total).toBe(25);

    expect((await t.admin('GET', '/api/experiences')).body.experiences).toHaveLength(1);
    const [experiment] = (await t.admin('GET', '/api/experiments')).body.experiments as { id: string; status: string; arms: { size: number }[] }[];
    expect(experiment!.status).toBe('running');
    expect(experiment!.arms.every((a) => a.size > 0)).toBe(true);
    const results = (await t.admin('GET', `/api/experiments/${experiment!.id}/results?metric=event&event=purchase`)).body;
    expect(results.arms.every((a: { users: number; conversions: number }) => a.users > 0 && a.conversions > 0)).toBe(true);

    // A known user who took part: profile, targeting and points.
    const taker = progress.find((p) => p.completions > 0) as unknown as { userId: string };
    const points = (await t.admin('GET', `/api/users/${taker.userId}/points`)).body;
    expect(points.entries.length).toBeGreaterThan(0);
    expect((await t.admin('GET', `/api/users/${taker.userId}/targeting`)).status).toBe(200);
    // Today's activity keeps each user's device and place: nobody leaves a context segment because of it.
    const exits = (await t.admin('GET', `/api/users/${taker.userId}/history`)).body.history.filter((h: { kind: string; reason: string }) => h.kind === 'exited' && h.reason === 'event');
    expect(exits).toEqual([]);
  });

  it('is made once: a second run leaves the programme as it was', async () => {
    const before = (await t.admin('GET', '/api/rewards')).body.rewards;
    await loadDemo(t.ctx, 10);
    expect((await t.admin('GET', '/api/missions')).body.missions).toHaveLength(2);
    expect((await t.admin('GET', '/api/rewards')).body.rewards).toEqual(before);
  });
});

/** The generated users carry context.ip, as real clients do: the demo stores it as ingest does (docs/api.md: not at all by default). */
describe.each(await testBackends())('the demo and client IPs ($name)', (backend) => {
  let t: TestApp;
  afterAll(async () => {
    await t.close();
  });

  it('stores no context.ip in profiles or events, and keeps the located country', async () => {
    t = await startTestApp(await backend.open(), Date.now());
    const r = await loadDemo(t.ctx, 40);
    expect(r.events).toBeGreaterThan(40);
    const db = t.ctx.store.db;
    const profiles = await db.selectFrom('profiles').select('context').where('project_id', '=', 'default').execute();
    const contexts = await db.selectFrom('contexts').select('json').where('project_id', '=', 'default').execute();
    expect(profiles.length).toBeGreaterThan(0);
    expect(contexts.length).toBeGreaterThan(0);
    const parsed = [...profiles.map((p) => p.context), ...contexts.map((c) => c.json)].map((v) => (typeof v === 'string' ? JSON.parse(v) : v) as { ip?: unknown; location?: { country?: unknown } });
    expect(parsed.filter((c) => c.ip !== undefined)).toEqual([]);
    expect(parsed.filter((c) => typeof c.location?.country === 'string').length).toBeGreaterThan(0);
  }, 120_000);
});
