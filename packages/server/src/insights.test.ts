import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { migrate } from '@strata/store';
import { testBackends } from '@strata/store/testing';
import { startTestApp, type TestApp } from './test-app.ts';

const backends = await testBackends();
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 5, 10, 12);
const at = (ms: number) => new Date(ms).toISOString();

describe.each(backends.map((b) => [b.name, b] as const))('segment insights on %s', (_n, backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp(await backend.open(), T0);
  });
  afterEach(async () => t.close());

  it('sizes per day from the history, entries and exits, points and top events of the current members', async () => {
    const seg = (await t.admin('POST', '/api/segments', { name: 'Clicked in 2 days', condition: { event: 'click', window: { within: '2d' } } })).body.id;
    // Day 0 (June 10): a and b click. Day 1: c clicks. Day 3: b clicks again; a and c have left on day 2 and 3.
    await t.send('/v1/batch', { batch: [{ type: 'track', userId: 'a', event: 'click', timestamp: at(T0) }, { type: 'track', userId: 'b', event: 'click', timestamp: at(T0) }] });
    t.clock.advance(DAY);
    await t.send('/v1/track', { userId: 'c', event: 'click', timestamp: at(T0 + DAY) });
    t.clock.advance(DAY);
    await t.ctx.engine.tick();
    t.clock.advance(DAY);
    await t.ctx.engine.tick();
    await t.send('/v1/batch', { batch: [{ type: 'track', userId: 'b', event: 'click', timestamp: at(T0 + 3 * DAY) }, { type: 'track', userId: 'b', event: 'view', timestamp: at(T0 + 3 * DAY) }] });
    await t.admin('POST', '/api/users/b/points', { amount: 50, reason: 'bonus', kind: 'earn' });
    await t.admin('POST', '/api/users/b/points', { amount: -20, reason: 'spent' });
    await t.admin('POST', '/api/users/a/points', { amount: 70, reason: 'not a member', kind: 'earn' });
    const r = await t.admin('GET', `/api/segments/${seg}/insights?days=5`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ segmentId: seg, name: 'Clicked in 2 days', days: 5, size: 1, to: at(T0 + 3 * DAY) });
    // a and b leave 2 days after their click (June 12, 12:00), c on June 13 — b is back on June 13.
    expect(r.body.series).toEqual([
      { date: '2024-06-09', size: 0, entered: 0, exited: 0 },
      { date: '2024-06-10', size: 2, entered: 2, exited: 0 },
      { date: '2024-06-11', size: 3, entered: 1, exited: 0 },
      { date: '2024-06-12', size: 1, entered: 0, exited: 2 },
      { date: '2024-06-13', size: 1, entered: 1, exited: 1 },
    ]);
    expect(r.body.points).toEqual({ earned: 50, spent: 20 });
    expect(r.body.topEvents).toEqual([{ name: 'click', count: 2, users: 1 }, { name: 'view', count: 1, users: 1 }]);
    expect(r.body.missions).toEqual({ participants: 0, participationRate: 0, completers: 0, completionRate: 0, completions: 0 });
    expect(r.body.rewards).toEqual({ redemptions: 0, redeemers: 0 });
    const cmp = await t.admin('GET', `/api/insights/compare?ids=${seg},${seg}&days=2`);
    expect(cmp.body.segments).toHaveLength(1);
    expect(cmp.body.segments[0].series.map((s: { size: number }) => s.size)).toEqual([1, 1]);
    expect((await t.admin('GET', '/api/insights/compare?ids=seg_nope')).status).toBe(404);
    expect((await t.admin('GET', `/api/segments/${seg}/insights?days=0`)).status).toBe(400);
  });

  it('lists the project\'s event names, most frequent first, with counts and the last time seen', async () => {
    expect((await t.admin('GET', '/api/events')).body).toEqual({ events: [] });
    await t.send('/v1/batch', { batch: [
      { type: 'track', userId: 'a', event: 'purchase', timestamp: at(T0 - DAY) },
      { type: 'track', userId: 'b', event: 'purchase', timestamp: at(T0) },
      { type: 'track', userId: 'a', event: 'add_to_cart', timestamp: at(T0 - 2 * DAY) },
      { type: 'page', userId: 'a', properties: { path: '/' }, timestamp: at(T0) },
      { type: 'page', userId: 'b', properties: { path: '/' }, timestamp: at(T0) },
      { type: 'page', userId: 'b', properties: { path: '/x' }, timestamp: at(T0) },
    ] });
    const r = await t.admin('GET', '/api/events');
    expect(r.status).toBe(200);
    const sent = r.body.events.filter((e: { derived: boolean }) => !e.derived);
    expect(sent).toEqual([
      { name: '$pageview', derived: false, count: 3, lastAt: at(T0) },
      { name: 'purchase', derived: false, count: 2, lastAt: at(T0) },
      { name: 'add_to_cart', derived: false, count: 1, lastAt: at(T0 - 2 * DAY) },
    ]);
    expect((await t.admin('GET', '/api/events?limit=1')).body.events).toHaveLength(1);
    const bad = await t.admin('GET', '/api/events?limit=0');
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toBe('/querystring/limit');
    expect((await t.app.inject({ method: 'GET', url: '/api/events' })).statusCode).toBe(401);
  });

  it('every segment\'s sizes per day in one read, equal to each one\'s insights; the daily counts equal the history and are rebuilt from it by the migration', async () => {
    const click = (await t.admin('POST', '/api/segments', { name: 'Clicked in 2 days', condition: { event: 'click', window: { within: '2d' } } })).body.id;
    const viewed = (await t.admin('POST', '/api/segments', { name: 'Viewed ever', condition: { event: 'view' } })).body.id;
    const none = (await t.admin('POST', '/api/segments', { name: 'Nobody', condition: { event: 'never-sent' } })).body.id;
    await t.send('/v1/batch', { batch: [{ type: 'track', userId: 'a', event: 'click', timestamp: at(T0) }, { type: 'track', userId: 'b', event: 'view', timestamp: at(T0) }] });
    t.clock.advance(DAY);
    await t.send('/v1/track', { userId: 'c', event: 'click', timestamp: at(T0 + DAY) });
    await t.send('/v1/track', { userId: 'a', event: 'view', timestamp: at(T0 + DAY) });
    t.clock.advance(2 * DAY);
    await t.ctx.engine.tick();
    const all = await t.admin('GET', '/api/segments/sizes?days=4');
    expect(all.status).toBe(200);
    expect(all.body.dates).toEqual(['2024-06-10', '2024-06-11', '2024-06-12', '2024-06-13']);
    // In the order of the segment list (created at the same instant: by id).
    expect(all.body.segments).toEqual([
      { id: click, size: 0, sizes: [1, 2, 1, 0] },
      { id: viewed, size: 2, sizes: [1, 2, 2, 2] },
      { id: none, size: 0, sizes: [0, 0, 0, 0] },
    ].sort((x, y) => x.id.localeCompare(y.id)));
    for (const s of all.body.segments as { id: string; sizes: number[] }[]) {
      const one = await t.admin('GET', `/api/segments/${s.id}/insights?days=4`);
      expect(one.body.series.map((p: { size: number }) => p.size)).toEqual(s.sizes);
    }
    const db = t.ctx.store.db;
    const fromHistory = async () => (await sql<{ segment_id: string; day: number; entered: number; exited: number }>`
      SELECT segment_id, at / 86400000 AS day, sum(CASE WHEN kind = 'entered' THEN 1 ELSE 0 END) AS entered, sum(CASE WHEN kind = 'exited' THEN 1 ELSE 0 END) AS exited
      FROM membership_history GROUP BY segment_id, at / 86400000 ORDER BY segment_id, day`.execute(db)).rows.map((r) => ({ ...r, day: Number(r.day), entered: Number(r.entered), exited: Number(r.exited) }));
    const daily = async () => (await db.selectFrom('segment_daily').select(['segment_id', 'day', 'entered', 'exited']).orderBy('segment_id').orderBy('day').execute())
      .map((r) => ({ ...r, day: Number(r.day), entered: Number(r.entered), exited: Number(r.exited) }));
    const expected = await fromHistory();
    expect(expected.length).toBeGreaterThanOrEqual(4);
    expect(await daily()).toEqual(expected);
    // A store from before the daily counts: the migration creates and fills them from the history.
    await sql`DROP TABLE segment_daily`.execute(db);
    await sql`DELETE FROM strata_migrations WHERE name IN ('0010_segment_daily', '0026_segment_daily_shards')`.execute(db);
    await migrate(db, t.ctx.store.dialect);
    expect(await daily()).toEqual(expected);
    expect((await t.admin('GET', '/api/segments/sizes?days=0')).status).toBe(400);
    expect((await t.admin('GET', '/api/segments/sizes?days=x')).status).toBe(400);
  });
});
