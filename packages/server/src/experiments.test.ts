import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { bucketOf, compareProportions } from '@strata/core';
import { BUCKET_VECTORS } from '@strata/core/testing';
import { testBackends } from '@strata/store/testing';
import { buildApp } from './app.ts';
import { createContext } from './bootstrap.ts';
import { ADMIN, DEFAULT_PROJECT, startTestApp, type TestApp } from './test-app.ts';

const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);
const HOUR = 3_600_000, DAY = 24 * HOUR;
const P = DEFAULT_PROJECT;
const vectors = BUCKET_VECTORS;

interface Arm { key: string; name: string; weight: number; segmentId: string; from: number; to: number; share: number; size: number }

describe.each(backends.map((b) => [b.name, b] as const))('experiments on %s', (_n, backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp(await backend.open(), T0);
  });
  afterEach(async () => t.close());

  const batch = async (items: object[]) => {
    for (let i = 0; i < items.length; i += 1000) expect((await t.send('/v1/batch', { batch: items.slice(i, i + 1000) })).status).toBe(200);
  };
  const identify = (userId: string, traits: object = {}) => ({ type: 'identify', userId, traits });
  /** userId → the arm segments (of those given) the user is in now. */
  const armsByUser = async (segmentIds: readonly string[]) => {
    const rows = (await t.ctx.store.allMemberships(P)).filter((m) => segmentIds.includes(m.segmentId));
    const profiles = new Map((await t.ctx.store.getProfiles(P, [...new Set(rows.map((r) => r.profileId))])).map((p) => [p.id, p.userId ?? p.anonymousId!]));
    const out = new Map<string, string[]>();
    for (const r of rows) {
      const u = profiles.get(r.profileId)!;
      out.set(u, [...(out.get(u) ?? []), r.segmentId]);
    }
    return out;
  };
  const armOf = (arms: readonly Arm[], salt: string, id: string) => arms.find((a) => a.from <= bucketOf(salt, id) && bucketOf(salt, id) < a.to)!;
  const createAudience = async (name: string, plan: string) =>
    (await t.admin('POST', '/api/segments', { name, condition: { attr: 'traits.plan', op: 'eq', value: plan } })).body.id as string;

  it('makes one segment per arm that partitions the audience, as GrowthBook v2 buckets it', async () => {
    // (An empty userId is not an id the ingest API accepts.)
    const vectorIds = vectors.filter((v) => v.salt === 'exp-1' && v.id !== '').map((v) => v.id);
    const users = [...vectorIds, ...Array.from({ length: 300 }, (_, i) => `g-${i}`)];
    const pro = (u: string, i: number) => vectorIds.includes(u) || i % 3 !== 0;
    await batch(users.map((u, i) => identify(u, { plan: pro(u, i) ? 'pro' : 'free' })));
    const audience = await createAudience('Pro', 'pro');

    const c = await t.admin('POST', '/api/experiments', {
      name: 'Checkout', description: 'one-page checkout', audienceSegmentId: audience, salt: 'exp-1',
      arms: [{ key: 'control', name: 'Control', weight: 50 }, { key: 'onepage', name: 'One page', weight: 50 }],
    });
    expect(c.status).toBe(201);
    expect(c.body).toMatchObject({ name: 'Checkout', status: 'draft', control: 'control', salt: 'exp-1', audienceSegmentId: audience, startedAt: null });
    // A draft's audience can be set back to everyone with null (not read as "").
    const everyone = await t.admin('POST', '/api/experiments', { name: 'Everyone', audienceSegmentId: null, arms: [{ key: 'a', weight: 1 }, { key: 'b', weight: 1 }] });
    expect(everyone.status, JSON.stringify(everyone.body)).toBe(201);
    expect(everyone.body.audienceSegmentId).toBeNull();
    const everyoneArm = (await t.admin('GET', `/api/segments/${everyone.body.arms[0].segmentId}`)).body;
    expect(everyoneArm.description).toBe('Arm "a" of experiment "Everyone": buckets 0–4999. Managed by the experiment: changing this segment by hand changes who is in the arm.');
    expect((await t.admin('DELETE', `/api/experiments/${everyone.body.id}`)).status).toBe(204);
    const arms: Arm[] = c.body.arms;
    expect(arms.map((a) => [a.key, a.from, a.to, a.share])).toEqual([['control', 0, 5000, 0.5], ['onepage', 5000, 10000, 0.5]]);

    // The arms are ordinary segments, marked as the experiment's.
    for (const a of arms) {
      const s = (await t.admin('GET', `/api/segments/${a.segmentId}`)).body;
      expect(s.name).toBe(`Experiment Checkout: ${a.name}`);
      expect(s.template).toBe(`experiment/${c.body.id}`);
      // Its description speaks in names (the UI shows it as written), not in exp_… / seg_… ids.
      expect(s.description).toBe(`Arm "${a.key}" of experiment "Checkout": buckets ${a.from}–${a.to - 1} of salt "exp-1" within segment "Pro". Managed by the experiment: changing this segment by hand changes who is in the arm.`);
      expect(s.condition).toEqual({ all: [{ segment: audience }, { bucket: { salt: 'exp-1', from: a.from, to: a.to } }] });
      expect(s.size).toBe(a.size);
    }

    // Every audience member is in exactly one arm, the one its bucket says; nobody else is in any.
    const inArms = await armsByUser(arms.map((a) => a.segmentId));
    users.forEach((u, i) => {
      if (pro(u, i)) expect(inArms.get(u), u).toEqual([armOf(arms, 'exp-1', u).segmentId]);
      else expect(inArms.has(u), u).toBe(false);
    });
    expect(arms[0]!.size + arms[1]!.size).toBe(users.filter(pro).length);
    // The GrowthBook v2 bucket vectors (core fixture): the bucket, hence the arm, of each id.
    for (const v of vectors.filter((x) => x.salt === 'exp-1' && x.id !== '')) {
      expect(bucketOf('exp-1', v.id)).toBe(v.bucket);
      expect(inArms.get(v.id)).toEqual([arms[v.bucket < 5000 ? 0 : 1]!.segmentId]);
    }

    // Users who arrive later are assigned at once.
    await t.send('/v1/identify', { userId: 'late-1', traits: { plan: 'pro' } });
    expect((await armsByUser(arms.map((a) => a.segmentId))).get('late-1')).toEqual([armOf(arms, 'exp-1', 'late-1').segmentId]);

    // Three arms without an audience: every profile, ranges by GrowthBook's ceil rule.
    t.clock.advance(60_000);
    const three = await t.admin('POST', '/api/experiments', { name: 'Thirds', salt: 'exp-1', arms: [{ key: 'a', weight: 1 }, { key: 'b', weight: 1 }, { key: 'c', weight: 1 }] });
    expect(three.status).toBe(201);
    const tArms: Arm[] = three.body.arms;
    expect(tArms.map((a) => [a.from, a.to])).toEqual([[0, 3334], [3334, 6667], [6667, 10000]]);
    expect((await t.admin('GET', `/api/segments/${tArms[0]!.segmentId}`)).body.condition).toEqual({ bucket: { salt: 'exp-1', from: 0, to: 3334 } });
    const all = await armsByUser(tArms.map((a) => a.segmentId));
    expect(all.size).toBe(users.length + 1);
    for (const [u, segs] of all) expect(segs).toEqual([armOf(tArms, 'exp-1', u).segmentId]);

    const list = await t.admin('GET', '/api/experiments');
    expect(list.body.experiments.map((e: { name: string }) => e.name)).toEqual(['Checkout', 'Thirds']);
    expect((await t.admin('GET', `/api/experiments/${c.body.id}`)).body.arms[0].segmentId).toBe(arms[0]!.segmentId);
  });

  it('keeps assignment across trait changes, audience exits and restarts', async () => {
    const users = Array.from({ length: 120 }, (_, i) => `s${i}`);
    await batch(users.map((u) => identify(u, { plan: 'pro', city: 'Paris' })));
    const audience = await createAudience('Pro', 'pro');
    const c = await t.admin('POST', '/api/experiments', { name: 'Sticky', audienceSegmentId: audience, arms: [{ key: 'a', weight: 30 }, { key: 'b', weight: 70 }], status: 'running' });
    expect(c.status).toBe(201);
    expect(c.body.salt).toBe(c.body.id);
    expect(c.body.startedAt).not.toBeNull();
    const segIds = (c.body.arms as Arm[]).map((a) => a.segmentId);
    const before = await armsByUser(segIds);
    expect(before.size).toBe(users.length);

    // Other traits change: nobody moves.
    t.clock.advance(HOUR);
    await batch(users.map((u) => identify(u, { city: 'Lyon', visits: 3 })));
    expect(await armsByUser(segIds)).toEqual(before);
    // Leaving the audience takes a user out of the arm; coming back puts them in the same arm.
    t.clock.advance(HOUR);
    await batch(users.slice(0, 40).map((u) => identify(u, { plan: 'free' })));
    const out = await armsByUser(segIds);
    expect(out.size).toBe(users.length - 40);
    t.clock.advance(HOUR);
    await batch(users.slice(0, 40).map((u) => identify(u, { plan: 'pro' })));
    expect(await armsByUser(segIds)).toEqual(before);
    const history = await t.admin('GET', '/api/users/s0/history');
    expect(new Set(history.body.history.map((h: { segmentId: string }) => h.segmentId).filter((s: string) => segIds.includes(s)))).toEqual(new Set([before.get('s0')![0]]));

    // A restart: a new engine over the same store rebuilds the same arms.
    await t.ctx.ingest.drain();
    await t.ctx.engine.stop();
    t.clock.advance(DAY);
    const ctx2 = createContext(t.ctx.store, t.ctx.config, t.clock);
    await ctx2.engine.start(0);
    const app2 = await buildApp(ctx2);
    try {
      expect(await armsByUser(segIds)).toEqual(before);
      const r = await app2.inject({ method: 'POST', url: '/v1/batch', headers: { 'x-write-key': 'stw_test_write_key', 'content-type': 'application/json' }, payload: { batch: users.map((u) => ({ type: 'track', userId: u, event: 'ping' })) } });
      expect(r.statusCode).toBe(200);
      expect(await armsByUser(segIds)).toEqual(before);
      const got = await app2.inject({ method: 'GET', url: `/api/experiments/${c.body.id}`, headers: { authorization: `Bearer ${ADMIN}` } });
      expect(JSON.parse(got.payload).arms.map((a: Arm) => a.size)).toEqual((c.body.arms as Arm[]).map((a) => a.size));
    } finally {
      await app2.close();
      await ctx2.ingest.drain();
      await ctx2.engine.stop();
    }
  });

  it('respects the weights on 2000 users, and flags a sample ratio mismatch when an arm loses users', async () => {
    const users = Array.from({ length: 2000 }, (_, i) => `w${i}`);
    const fair = (await t.admin('POST', '/api/experiments', { name: 'Fair', salt: 'weights', arms: [{ key: 'small', weight: 20 }, { key: 'large', weight: 80 }] })).body;
    const skewed = (await t.admin('POST', '/api/experiments', { name: 'Skewed', salt: 'srm', arms: [{ key: 'control', weight: 1 }, { key: 'treatment', weight: 1 }] })).body;
    expect(fair.arms.map((a: Arm) => [a.from, a.to])).toEqual([[0, 2000], [2000, 10000]]);
    // Before anyone arrives, 200 users who hash into the treatment are excluded from it by hand.
    const excluded = users.filter((u) => bucketOf('srm', u) >= 5000).slice(0, 200);
    expect((await t.admin('PATCH', `/api/segments/${skewed.arms[1].segmentId}`, { exclude: excluded })).status).toBe(200);
    await batch(users.map((u) => identify(u)));

    const fairRes = (await t.admin('GET', `/api/experiments/${fair.id}/results?metric=event&event=purchase`)).body;
    const small = users.filter((u) => bucketOf('weights', u) < 2000).length;
    expect(fairRes.arms.map((a: { users: number }) => a.users)).toEqual([small, 2000 - small]);
    // Binomial(2000, 0.2): sd ≈ 17.9; four of them either way.
    expect(Math.abs(small - 400)).toBeLessThan(72);
    expect(fairRes.srm.expected).toEqual([400, 1600]);
    expect(fairRes.srm.mismatch).toBe(false);
    expect(fairRes.srm.pValue).toBeGreaterThan(0.001);
    expect(fairRes.warnings.filter((w: { code: string }) => w.code === 'SAMPLE_RATIO_MISMATCH')).toEqual([]);

    const skewRes = (await t.admin('GET', `/api/experiments/${skewed.id}/results?metric=event&event=purchase`)).body;
    const inControl = users.filter((u) => bucketOf('srm', u) < 5000).length;
    // The excluded profiles existed (created by the exclusion) before anyone entered: never exposed.
    expect(skewRes.arms.map((a: { users: number }) => a.users)).toEqual([inControl, 2000 - inControl - 200]);
    expect(skewRes.srm.mismatch).toBe(true);
    expect(skewRes.srm.pValue).toBeLessThan(0.001);
    expect(skewRes.warnings.map((w: { code: string }) => w.code)).toContain('SAMPLE_RATIO_MISMATCH');
    // χ² by hand from the counts.
    const n = skewRes.arms[0].users + skewRes.arms[1].users;
    expect(skewRes.srm.chiSquare).toBeCloseTo(((skewRes.arms[0].users - n / 2) ** 2 + (skewRes.arms[1].users - n / 2) ** 2) / (n / 2), 9);
  });

  it('counts event conversions after first exposure exactly as an independent count does', async () => {
    const salt = 'conv';
    const users = Array.from({ length: 400 }, (_, i) => `c${i}`);
    const isPro = (i: number) => i % 4 !== 3;
    // An anonymous visitor who later logs in with an id in the other arm is exposed to both arms.
    const anon = Array.from({ length: 500 }, (_, i) => `anon-${i}`).find((a) => (bucketOf(salt, a) < 5000) !== (bucketOf(salt, 'switcher') < 5000))!;
    const audience = await createAudience('Pro', 'pro');
    const e = (await t.admin('POST', '/api/experiments', { name: 'Conv', salt, audienceSegmentId: audience, arms: [{ key: 'control', weight: 1 }, { key: 't', weight: 1 }], status: 'running' })).body;
    const arms: Arm[] = e.arms;

    t.clock.advance(HOUR);
    const exposedAt = t.clock.now();
    await batch([...users.map((u, i) => identify(u, { plan: isPro(i) ? 'pro' : 'free' })), { type: 'identify', anonymousId: anon, traits: { plan: 'pro' } }]);
    // Behaviour by i % 5: purchase 1 day after exposure; 5 days after; 1 day before (backdated); none; another event.
    t.clock.advance(DAY);
    await batch(users.flatMap((u, i) => {
      const k = i % 5;
      if (k === 0) return [{ type: 'track', userId: u, event: 'purchase' }];
      if (k === 2) return [{ type: 'track', userId: u, event: 'purchase', timestamp: new Date(exposedAt - DAY).toISOString() }];
      if (k === 4) return [{ type: 'track', userId: u, event: 'view' }];
      return [];
    }));
    t.clock.advance(4 * DAY);
    await batch(users.filter((_, i) => i % 5 === 1).map((u) => ({ type: 'track', userId: u, event: 'purchase' })));
    // The switcher: anonymous (one arm), then known with a userId in the other arm, then buys.
    await t.send('/v1/identify', { userId: 'switcher', anonymousId: anon, traits: { plan: 'pro' } });
    await t.send('/v1/track', { userId: 'switcher', event: 'purchase' });
    t.clock.advance(HOUR);

    // The independent count: audience by plan, arm by bucket, conversion by construction.
    const expected = (days: number | null) => arms.map((a) => {
      const members = users.map((u, i) => ({ u, i })).filter(({ u, i }) => isPro(i) && a.from <= bucketOf(salt, u) && bucketOf(salt, u) < a.to);
      const converted = members.filter(({ i }) => i % 5 === 0 || (i % 5 === 1 && (days === null || days > 5)));
      return { users: members.length, conversions: converted.length };
    });
    for (const days of [3, 10, null] as const) {
      const r = await t.admin('GET', `/api/experiments/${e.id}/results?metric=event&event=purchase${days === null ? '' : `&days=${days}`}`);
      expect(r.status).toBe(200);
      const want = expected(days);
      expect(r.body.arms.map((a: { users: number; conversions: number }) => ({ users: a.users, conversions: a.conversions }))).toEqual(want);
      expect(r.body.excludedUsers).toBe(1);
      expect(r.body.warnings.map((w: { code: string }) => w.code)).toEqual(['MULTIPLE_EXPOSURES']);
      expect(r.body.metric).toEqual({ kind: 'event', event: 'purchase', days });
      const [c, tr] = r.body.arms;
      expect(c).toMatchObject({ key: 'control', control: true, vsControl: null, rate: want[0]!.conversions / want[0]!.users, expectedShare: 0.5 });
      const ref = compareProportions(want[0]!, want[1]!)!;
      expect(tr.vsControl.absoluteLift).toBeCloseTo(want[1]!.conversions / want[1]!.users - want[0]!.conversions / want[0]!.users, 12);
      expect(tr.vsControl.pValue).toBeCloseTo(ref.pValue, 12);
      expect(tr.vsControl.ci95.lower).toBeLessThanOrEqual(tr.vsControl.absoluteLift);
      expect(tr.vsControl.ci95.upper).toBeGreaterThanOrEqual(tr.vsControl.absoluteLift);
    }
    // "*": any event the user caused; every user's identify came at the instant of exposure.
    const any = (await t.admin('GET', `/api/experiments/${e.id}/results?metric=event&event=*&days=1`)).body;
    expect(any.arms.map((a: { conversions: number }) => a.conversions)).toEqual(expected(3).map((x) => x.users));
    const none = (await t.admin('GET', `/api/experiments/${e.id}/results?metric=event&event=never`)).body;
    expect(none.arms.map((a: { conversions: number; rate: number }) => [a.conversions, a.rate])).toEqual([[0, 0], [0, 0]]);
    expect(none.arms[1].vsControl).toMatchObject({ absoluteLift: 0, relativeLift: null, z: null, pValue: 1 });
  });

  it('counts mission participation, mission completion and reward redemption after exposure', async () => {
    const users = Array.from({ length: 60 }, (_, i) => `m${i}`);
    const e = (await t.admin('POST', '/api/experiments', { name: 'Loyalty', salt: 'loyal', arms: [{ key: 'control', weight: 1 }, { key: 't', weight: 1 }] })).body;
    const arms: Arm[] = e.arms;
    t.clock.advance(HOUR);
    const exposedAt = t.clock.now();
    await batch(users.map((u) => identify(u)));
    const profiles = new Map((await t.ctx.store.getProfiles(P, await t.ctx.store.profileIds(P))).map((p) => [p.userId!, p.id]));
    const db = t.ctx.store.db;
    // Rows of the missions and rewards tables, written as those features write them (their column names).
    const bool = t.ctx.store.dialect === 'sqlite' ? 1 : true;
    await sql`INSERT INTO missions (project_id, id, name, active, goal, points, repeatable, created_at, updated_at)
      VALUES (${P}, 'mis_1', 'First purchase', ${bool}, '{}', 10, ${bool}, ${T0}, ${T0})`.execute(db);
    await sql`INSERT INTO rewards (project_id, id, name, type, cost, active, created_at, updated_at)
      VALUES (${P}, 'rew_1', 'Coffee', 'coupon', 100, ${bool}, ${T0}, ${T0})`.execute(db);
    const at = (i: number) => (i % 3 === 0 ? exposedAt - HOUR : i % 3 === 1 ? exposedAt + DAY : exposedAt + 10 * DAY);
    for (const [i, u] of users.entries()) {
      if (i % 2 === 0) {
        await sql`INSERT INTO mission_progress (project_id, mission_id, profile_id, started_at, progress, completions, updated_at)
          VALUES (${P}, 'mis_1', ${profiles.get(u)!}, ${at(i)}, 0, 0, ${at(i)})`.execute(db);
      }
      if (i % 4 < 2) {
        await sql`INSERT INTO reward_redemptions (project_id, reward_id, profile_id, code, cost, at, ref)
          VALUES (${P}, 'rew_1', ${profiles.get(u)!}, NULL, 100, ${at(i)}, ${`r${i}`})`.execute(db);
      }
    }
    t.clock.advance(11 * DAY);
    await t.ctx.engine.write((tx) => t.ctx.engine.applyDerived(tx, P, users.flatMap((u, i) => (i % 5 < 2
      ? [{ profileId: profiles.get(u)!, name: '$mission_completed', properties: { missionId: i % 5 === 0 ? 'mis_1' : 'mis_2' }, timestamp: at(i) }]
      : [])), t.clock.now()));

    const count = (pick: (i: number) => boolean, days: number | null) => arms.map((a) => users.filter((u, i) => a.from <= bucketOf('loyal', u) && bucketOf('loyal', u) < a.to
      && pick(i) && at(i) >= exposedAt && (days === null || at(i) < exposedAt + days * DAY)).length);
    const get = async (q: string) => {
      const r = await t.admin('GET', `/api/experiments/${e.id}/results?${q}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body.arms.map((a: { conversions: number }) => a.conversions);
    };
    expect(await get('metric=mission_participation&missionId=mis_1')).toEqual(count((i) => i % 2 === 0, null));
    expect(await get('metric=mission_participation&missionId=mis_1&days=2')).toEqual(count((i) => i % 2 === 0, 2));
    expect(await get('metric=mission_completion&missionId=mis_1')).toEqual(count((i) => i % 5 === 0, null));
    expect(await get('metric=mission_completion&missionId=mis_1&days=2')).toEqual(count((i) => i % 5 === 0, 2));
    expect(await get('metric=reward_redemption&rewardId=rew_1')).toEqual(count((i) => i % 4 < 2, null));
    expect(await get('metric=event&event=$mission_completed')).toEqual(count((i) => i % 5 < 2, null));
    expect((await t.admin('GET', `/api/experiments/${e.id}/results?metric=mission_completion&missionId=nope`)).status).toBe(404);
    expect((await t.admin('GET', `/api/experiments/${e.id}/results?metric=reward_redemption&rewardId=nope`)).status).toBe(404);
  });

  it('refuses bad input with the JSON path of the fault', async () => {
    const bad = async (body: object, path: string) => {
      const r = await t.admin('POST', '/api/experiments', body);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
      expect(r.body.error.issues.map((i: { path: string }) => i.path)).toContain(path);
    };
    await bad({ name: 'x', arms: [{ key: 'a', weight: 1 }] }, '/arms');
    await bad({ name: 'x', arms: [{ key: 'a', weight: 1 }, { key: 'b', weight: 0 }] }, '/arms/1/weight');
    await bad({ name: 'x', arms: [{ key: 'a', weight: 1 }, { key: 'b', weight: -3 }] }, '/arms/1/weight');
    await bad({ name: 'x', arms: [{ key: 'a', weight: 1 }, { key: 'a', weight: 1 }] }, '/arms/1/key');
    await bad({ name: 'x', arms: [{ key: 'a', weight: 1 }, { key: 'b', weight: 1 }], audienceSegmentId: 'seg_nope' }, '/audienceSegmentId');
    await bad({ name: 'x', arms: [{ key: 'a', weight: 1 }, { key: 'b', weight: 1 }], control: 'c' }, '/control');
    await bad({ name: 'x', arms: [{ key: 'a', weight: 20000 }, { key: 'b', weight: 1 }] }, '/arms/1/weight');
    await bad({ name: 'x', arms: [{ key: 'a', weight: 1 }, { key: 'b', weight: 1 }], colour: 'red' }, '/colour');
    await bad({ name: 'x', arms: [{ key: 'a b', weight: 1 }, { key: 'b', weight: 1 }] }, '/arms/0/key');
    expect((await t.admin('GET', '/api/segments')).body.segments).toEqual([]);

    const e = (await t.admin('POST', '/api/experiments', { name: 'Q', arms: [{ key: 'a', weight: 1 }, { key: 'b', weight: 1 }] })).body;
    const badQuery = async (q: string, path: string) => {
      const r = await t.admin('GET', `/api/experiments/${e.id}/results?${q}`);
      expect(r.status, `${q}: ${JSON.stringify(r.body)}`).toBe(400);
      expect(r.body.error.issues.map((i: { path: string }) => i.path)).toContain(path);
    };
    await badQuery('metric=event&event=purchase&colour=red', '/querystring/colour');
    await badQuery('metric=event', '/querystring/event');
    await badQuery('metric=event&event=purchase&missionId=m', '/querystring/missionId');
    await badQuery('metric=mission_completion', '/querystring/missionId');
    await badQuery('metric=reward_redemption&rewardId=r&event=x', '/querystring/event');
    await badQuery('metric=revenue', '/querystring/metric');
    await badQuery('metric=event&event=purchase&days=0', '/querystring/days');
    await badQuery('metric=event&event=$segment_entered', '/querystring/event');
    expect((await t.admin('GET', '/api/experiments/exp_nope/results?metric=event&event=x')).status).toBe(404);
    expect((await t.admin('GET', '/api/experiments/exp_nope')).status).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: '/api/experiments' })).statusCode).toBe(401);
    // The name is taken (by the experiment, and by its arm segments).
    expect((await t.admin('POST', '/api/experiments', { name: 'Q', arms: [{ key: 'a', weight: 1 }, { key: 'b', weight: 1 }] })).status).toBe(409);
    expect((await t.admin('GET', '/api/segments')).body.segments).toHaveLength(2);
    // Arm segments free, the experiment's name taken: the refusal comes after the segments were written, and takes them back.
    const clash = await t.admin('POST', '/api/experiments', { name: 'Q', arms: [{ key: 'c', weight: 1 }, { key: 'd', weight: 1 }] });
    expect(clash.status).toBe(409);
    expect(clash.body.error.message).toContain('an experiment named "Q"');
    expect((await t.admin('GET', '/api/segments')).body.segments).toHaveLength(2);
    await t.send('/v1/identify', { userId: 'after-rollback' });
    expect((await t.admin('GET', '/api/users/after-rollback/segments')).body.segments).toHaveLength(1);
  });

  it('re-buckets only a draft, renames arms, moves through its statuses and deletes only when stopped', async () => {
    await batch(Array.from({ length: 200 }, (_, i) => identify(`d${i}`)));
    const e = (await t.admin('POST', '/api/experiments', { name: 'Life', salt: 'life', arms: [{ key: 'a', weight: 1 }, { key: 'b', weight: 1 }] })).body;
    const segIds = (e.arms as Arm[]).map((a) => a.segmentId);
    // Draft: new weights move users to the new ranges at once.
    const p = await t.admin('PATCH', `/api/experiments/${e.id}`, { arms: [{ key: 'a', weight: 1 }, { key: 'b', weight: 3, name: 'Bee' }] });
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    expect(p.body.arms.map((a: Arm) => [a.key, a.name, a.from, a.to])).toEqual([['a', 'a', 0, 2500], ['b', 'Bee', 2500, 10000]]);
    const moved = await armsByUser(segIds);
    for (const [u, segs] of moved) expect(segs).toEqual([segIds[bucketOf('life', u) < 2500 ? 0 : 1]]);
    expect((await t.admin('GET', `/api/segments/${segIds[1]}`)).body.name).toBe('Experiment Life: Bee');

    const run = await t.admin('PATCH', `/api/experiments/${e.id}`, { status: 'running', name: 'Life 2' });
    expect(run.body).toMatchObject({ status: 'running', name: 'Life 2' });
    expect(run.body.startedAt).not.toBeNull();
    expect((await t.admin('GET', `/api/segments/${segIds[0]}`)).body.name).toBe('Experiment Life 2: a');
    // Running: weights, audience and salt would re-bucket users.
    expect((await t.admin('PATCH', `/api/experiments/${e.id}`, { arms: [{ key: 'a', weight: 2 }] })).status).toBe(409);
    expect((await t.admin('PATCH', `/api/experiments/${e.id}`, { salt: 'other' })).status).toBe(409);
    expect((await t.admin('PATCH', `/api/experiments/${e.id}`, { arms: [{ key: 'z', name: 'Zed' }] })).status).toBe(400);
    expect((await t.admin('PATCH', `/api/experiments/${e.id}`, { arms: [{ key: 'a', name: 'Ay' }], control: 'b' })).body).toMatchObject({ control: 'b' });
    expect(await armsByUser(segIds)).toEqual(moved);
    expect((await t.admin('DELETE', `/api/experiments/${e.id}`)).status).toBe(409);
    expect((await t.admin('PATCH', `/api/experiments/${e.id}`, { status: 'draft' })).status).toBe(409);
    const stop = await t.admin('PATCH', `/api/experiments/${e.id}`, { status: 'stopped' });
    expect(stop.body.status).toBe('stopped');
    expect(stop.body.stoppedAt).not.toBeNull();
    expect((await t.admin('PATCH', `/api/experiments/${e.id}`, { arms: [{ key: 'a', weight: 2 }] })).status).toBe(409);

    // A hand-edited arm shows in the results.
    await t.admin('PATCH', `/api/segments/${segIds[0]}`, { condition: { bucket: { salt: 'life', from: 0, to: 100 } } });
    const res = (await t.admin('GET', `/api/experiments/${e.id}/results?metric=event&event=x`)).body;
    expect(res.warnings.map((w: { code: string }) => w.code)).toContain('ARM_SEGMENT_CHANGED');

    expect((await t.admin('DELETE', `/api/experiments/${e.id}`)).status).toBe(204);
    expect((await t.admin('GET', `/api/experiments/${e.id}`)).status).toBe(404);
    // The arm segments stay, for whatever targets them.
    expect((await t.admin('GET', `/api/segments/${segIds[1]}`)).status).toBe(200);
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/experiments', '/api/experiments/{id}', '/api/experiments/{id}/results']));
  });
});
