import { afterAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createStore, postgresReachable, type EventLog, type SqlStore } from '@strata/store';
import { deleteEventStreams, NATS_URL, natsUnavailable, TEST_PG_URL, testPrefixes, withTestPgSchema } from '@strata/store/testing';
import { systemClock } from '@strata/engine';
import { buildApp } from './app.ts';
import { createContext, ensureDefaultProject, DEFAULT_PROJECT, openConfiguredLog, stopContext } from './bootstrap.ts';
import { configFromEnv, type Config } from './config.ts';
import type { AppContext } from './context.ts';
import { ADMIN, WRITE } from './test-app.ts';
import { startWorkerRole, type WorkerRole } from './worker-role.ts';

/**
 * Admin changes made on a process of the api role (docs/scale-out.md § Admin changes), with two
 * processes of the worker role applying the log on a real NATS JetStream and PostgreSQL: a segment
 * created, redefined and deleted there, and users added and taken out by hand, end in the members
 * the condition and the lists give, each profile's membership decided by the worker holding it; a
 * worker stopped while a change is made applies it when it comes back; a mission made there is
 * progressed and paid by the workers; points, redemptions, webhooks, keys and settings changed
 * there too. Skipped, saying why, without either server.
 */

const natsDown = await natsUnavailable();
const pgDown = (await postgresReachable(TEST_PG_URL)) ? null : `no PostgreSQL server at ${TEST_PG_URL}`;
const why = natsDown ?? pgDown;
if (why !== null) console.warn(`skipping the api role's admin change tests: ${why}`);

const prefixes = testPrefixes('ac');
const USERS = 60;
const plan = (u: number) => (u % 3 === 0 ? 'vip' : 'free');

describe.skipIf(why !== null)('admin changes on a process of the api role, applied by workers', () => {
  afterAll(async () => deleteEventStreams(prefixes.used));

  it('segments, manual lists and missions changed there are applied by the workers holding each profile, across a worker\'s restart', async () => {
    await withTestPgSchema('api_changes', async (db) => {
      const env = { STRATA_NATS_URL: NATS_URL, STRATA_NATS_PREFIX: prefixes.next(), STRATA_PARTITIONS: '4', DATABASE_URL: db.url, STRATA_ADMIN_TOKEN: ADMIN, STRATA_WRITE_KEY: WRITE };
      const workerConfig: Config = { ...configFromEnv({ ...env, STRATA_ROLE: 'worker' }), logLevel: 'silent' };
      const apiConfig: Config = { ...configFromEnv({ ...env, STRATA_ROLE: 'api' }), adminToken: ADMIN, writeKey: WRITE, logLevel: 'silent' };
      const opened: { store: SqlStore; log: EventLog }[] = [];
      const open = async () => {
        const store = await createStore({ kind: 'postgres', url: db.url });
        const log = await openConfiguredLog(store, workerConfig);
        opened.push({ store, log });
        return { store, log };
      };
      const workers: WorkerRole[] = [];
      const startWorker = async () => {
        const { store, log } = await open();
        const w = await startWorkerRole(store, workerConfig, log, systemClock);
        workers.push(w);
        return w;
      };
      let api: { app: FastifyInstance; ctx: AppContext } | null = null;
      try {
        const a = await startWorker();
        let b = await startWorker();
        // The two share the partitions (a lease each way), and have caught up.
        await until(() => a.status().partitions.length === 2 && b.status().partitions.length === 2 && a.status().ready && b.status().ready, 'the workers to share the partitions');

        const apiStore = await createStore({ kind: 'postgres', url: db.url });
        await ensureDefaultProject(apiStore, apiConfig, Date.now());
        const ctx = createContext(apiStore, apiConfig, systemClock, { log: await openConfiguredLog(apiStore, apiConfig) });
        api = { app: await buildApp(ctx), ctx };
        const call = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) => {
          const r = await api!.app.inject({ method, url, headers: { authorization: `Bearer ${ADMIN}` }, ...(payload ? { payload } : {}) });
          return { status: r.statusCode, body: r.payload ? JSON.parse(r.payload) : null };
        };
        // A read that waits for a log position; 503 NOT_YET_APPLIED (the workers behind, on a loaded machine) is asked again.
        const readAt = async (url: string, position: number) => {
          let r = await api!.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ADMIN}`, 'strata-position': String(position) } });
          for (let i = 0; i < 12 && r.statusCode === 503; i++) r = await api!.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ADMIN}`, 'strata-position': String(position) } });
          return r;
        };
        const members = async (segmentId: string) => {
          const rows = await apiStore.db.selectFrom('memberships').innerJoin('profiles', 'profiles.id', 'memberships.profile_id')
            .select('profiles.user_id').where('memberships.project_id', '=', DEFAULT_PROJECT).where('memberships.segment_id', '=', segmentId).execute();
          return rows.map((r) => r.user_id!).sort();
        };
        // Each profile's history of the segment alternates, entered first, and ends where its membership is: no change
        // written twice (by two workers), none left out.
        const historyHolds = async (segmentId: string) => {
          const rows = await apiStore.db.selectFrom('membership_history').select(['profile_id', 'kind']).where('project_id', '=', DEFAULT_PROJECT)
            .where('segment_id', '=', segmentId).orderBy('id').execute();
          const last = new Map<number, string>();
          for (const r of rows) {
            expect(r.kind, `profile ${r.profile_id}`).not.toBe(last.get(Number(r.profile_id)) ?? 'exited');
            last.set(Number(r.profile_id), r.kind);
          }
          const inside = [...last].filter(([, k]) => k === 'entered').length;
          expect(inside).toBe((await members(segmentId)).length);
        };
        const users = (pred: (u: number) => boolean) => Array.from({ length: USERS }, (_, u) => u).filter(pred).map((u) => `u${u}`).sort();

        // Users in every partition, through the api's ingest; read back with its position, so the workers have applied them.
        const batch = Array.from({ length: USERS }, (_, u) => ({ type: 'identify', userId: `u${u}`, traits: { plan: plan(u), level: u }, messageId: `id-${u}` }));
        const sent = await api.app.inject({ method: 'POST', url: '/v1/batch', headers: { 'x-write-key': WRITE }, payload: { batch } });
        expect(sent.statusCode).toBe(200);
        const position = JSON.parse(sent.payload).position as number;
        expect((await readAt('/api/users/u1', position)).statusCode).toBe(200);

        // Created on the api process: answered once the workers have applied it, with its size.
        const created = await call('POST', '/api/segments', { name: 'VIP', condition: { attr: 'traits.plan', op: 'eq', value: 'vip' } });
        expect(created.status).toBe(201);
        expect(created.body.size).toBe(USERS / 3);
        expect(await members(created.body.id)).toEqual(users((u) => plan(u) === 'vip'));
        // Saved there, its warnings compare members too: from the memberships the workers stored.
        const twin = await call('POST', '/api/segments', { name: 'VIP again', condition: { all: [{ attr: 'traits.plan', op: 'eq', value: 'vip' }, { attr: 'traits.level', op: 'gte', value: 0 }] } });
        expect(twin.status).toBe(201);
        expect(twin.body.warnings).toContainEqual(expect.objectContaining({ code: 'HIGH_OVERLAP', segmentIds: [created.body.id], jaccard: 1 }));
        expect((await call('DELETE', `/api/segments/${twin.body.id}`)).status).toBe(204);
        // A second segment of the same name is refused there too.
        expect((await call('POST', '/api/segments', { name: 'VIP', condition: { attr: 'traits.level', op: 'gte', value: 1 } })).status).toBe(409);

        // A mission made there is progressed and paid by the workers (they hear of it before applying the next events).
        const mission = await call('POST', '/api/missions', { name: 'Buy once', points: 25, goal: { kind: 'count', event: 'purchase', target: 1 } });
        expect(mission.status).toBe(201);
        const buys = await api.app.inject({ method: 'POST', url: '/v1/batch', headers: { 'x-write-key': WRITE }, payload: { batch: ['u1', 'u2', 'u3', 'u4'].map((userId) => ({ type: 'track', event: 'purchase', userId, messageId: `buy-${userId}` })) } });
        const at = JSON.parse(buys.payload).position as number;
        for (const userId of ['u1', 'u2', 'u3', 'u4']) {
          const r = await readAt(`/api/users/${userId}/points`, at);
          expect(JSON.parse(r.payload).balance, `${userId}: ${r.payload}`).toBe(25);
        }

        // Points adjusted and a reward redeemed there, on the balances the workers' mission paid.
        const bonus = await call('POST', '/api/users/u1/points', { amount: 10, reason: 'bonus', kind: 'earn' });
        expect(bonus.status, JSON.stringify(bonus.body)).toBe(200);
        expect(bonus.body.balance).toBe(35);
        const mug = await call('POST', '/api/rewards', { name: 'Mug', type: 'coupon', cost: 30, stock: 1 });
        expect(mug.status).toBe(201);
        const redeemed = await api.app.inject({ method: 'POST', url: `/v1/rewards/${mug.body.id}/redeem`, headers: { 'x-write-key': WRITE }, payload: { userId: 'u1' } });
        expect(redeemed.statusCode, redeemed.payload).toBe(200);
        expect(JSON.parse(redeemed.payload).balance).toBe(5);
        expect(JSON.parse(redeemed.payload).redemption.code).toEqual(expect.any(String));
        const none = await call('POST', `/api/rewards/${mug.body.id}/redeem`, { userId: 'u2' });
        expect(none.status).toBe(409);
        expect(none.body.error.code).toBe('OUT_OF_STOCK');
        expect((await call('POST', '/api/users/u2/points', { amount: -26, reason: 'too much' })).body.error.code).toBe('INSUFFICIENT_POINTS');

        // Redefined.
        const patched = await call('PATCH', `/api/segments/${created.body.id}`, { condition: { attr: 'traits.level', op: 'lt', value: 10 } });
        expect(patched.status).toBe(200);
        expect(patched.body.size).toBe(10);
        expect(await members(created.body.id)).toEqual(users((u) => u < 10));

        // Users added by hand, and one taken out whose condition holds (so they are excluded), one whose does not.
        const added = await call('POST', `/api/segments/${created.body.id}/members`, { userIds: ['u40', 'u41'] });
        expect(added.status).toBe(200);
        expect(added.body.size).toBe(12);
        expect((await call('DELETE', `/api/segments/${created.body.id}/members/u3`)).status).toBe(204);
        expect((await call('DELETE', `/api/segments/${created.body.id}/members/u40`)).status).toBe(204);
        const listed = await call('GET', `/api/segments/${created.body.id}`);
        expect(listed.body.exclude).toEqual(['u3']);
        expect(listed.body.include).toEqual(['u41']);
        expect(await members(created.body.id)).toEqual([...users((u) => u < 10 && u !== 3), 'u41'].sort());
        await historyHolds(created.body.id);

        // A worker stops; a change made meanwhile is applied to its partitions by whoever holds them next (the
        // other worker, then a new one), and answered once it is.
        await b.stop();
        const pending = call('PATCH', `/api/segments/${created.body.id}`, { condition: { attr: 'traits.level', op: 'gte', value: 50 } });
        b = await startWorker();
        const redone = await pending;
        expect(redone.status).toBe(200);
        expect(await members(created.body.id)).toEqual([...users((u) => u >= 50), 'u41'].sort());
        expect(redone.body.size).toBe(11);
        await historyHolds(created.body.id);

        // A webhook made there gets the changes the workers make from then on, though they had read the project's
        // (empty) list of webhooks before: they forget it when its definitions counter moves.
        const leaving = await api.app.inject({ method: 'POST', url: '/v1/batch', headers: { 'x-write-key': WRITE }, payload: { batch: Array.from({ length: USERS }, (_, u) => ({ type: 'identify', userId: `u${u}`, traits: { level: 1 }, messageId: `down-${u}` })) } });
        expect((await readAt('/api/users/u5', JSON.parse(leaving.payload).position as number)).statusCode).toBe(200);
        expect(await members(created.body.id)).toEqual(['u41']);
        const hook = await call('POST', '/api/webhooks', { url: 'http://127.0.0.1:9/strata', segmentIds: [created.body.id] });
        expect(hook.status).toBe(201);
        const entering = await api.app.inject({ method: 'POST', url: '/v1/batch', headers: { 'x-write-key': WRITE }, payload: { batch: [0, 1, 2, 5].map((u) => ({ type: 'identify', userId: `u${u}`, traits: { level: 70 + u }, messageId: `up-${u}` })) } });
        expect((await readAt('/api/users/u5', JSON.parse(entering.payload).position as number)).statusCode).toBe(200);
        const delivered = await apiStore.db.selectFrom('webhook_deliveries').select('kind').where('project_id', '=', DEFAULT_PROJECT).where('webhook_id', '=', hook.body.id).execute();
        expect(delivered.map((d) => d.kind).sort()).toEqual(['segment.entered', 'segment.entered', 'segment.entered', 'segment.entered']);
        expect((await call('POST', `/api/webhooks/${hook.body.id}/rotate-secret`)).body.secret).not.toBe(hook.body.secret);
        expect((await call('POST', `/api/webhooks/${hook.body.id}/test`)).status).toBe(202);
        expect((await call('DELETE', `/api/webhooks/${hook.body.id}`)).status).toBe(204);
        // Keys and settings: a write key made there takes ingest at once, and stops when deleted there.
        const key = await call('POST', '/api/keys', { kind: 'write', label: 'made on the api process' });
        expect(key.status).toBe(201);
        const withKey = () => api!.app.inject({ method: 'POST', url: '/v1/track', headers: { 'x-write-key': key.body.value }, payload: { userId: 'u1', event: 'seen' } });
        expect((await withKey()).statusCode).toBe(200);
        expect((await call('DELETE', `/api/keys/${key.body.id}`)).status).toBeLessThan(300);
        expect((await withKey()).statusCode).toBe(401);
        const settings = await call('PATCH', '/api/settings', { publicSegments: 'always' });
        expect(settings.status).toBe(200);
        expect((await call('GET', '/api/settings')).body.publicSegments).toBe('always');

        // An experiment made there: its arm segments are bucketed by the workers, and answered with their sizes; re-bucketed
        // while a draft, answered once the workers have applied it.
        const profiles = Number((await apiStore.db.selectFrom('profiles').select((eb) => eb.fn.countAll<number>().as('n')).where('project_id', '=', DEFAULT_PROJECT).executeTakeFirstOrThrow()).n);
        const experiment = await call('POST', '/api/experiments', { name: 'Banner', arms: [{ key: 'a', weight: 50 }, { key: 'b', weight: 50 }] });
        expect(experiment.status, JSON.stringify(experiment.body)).toBe(201);
        const sizes = (body: { arms: { segmentId: string; size: number }[] }) => body.arms.map((a) => a.size);
        const stored = async (body: { arms: { segmentId: string }[] }) => Promise.all(body.arms.map(async (a) => (await members(a.segmentId)).length));
        expect(sizes(experiment.body).reduce((x, y) => x + y, 0)).toBe(profiles);
        expect(await stored(experiment.body)).toEqual(sizes(experiment.body));
        const skewed = await call('PATCH', `/api/experiments/${experiment.body.id}`, { arms: [{ key: 'a', weight: 90 }, { key: 'b', weight: 10 }] });
        expect(skewed.status).toBe(200);
        expect(sizes(skewed.body).reduce((x, y) => x + y, 0)).toBe(profiles);
        expect(sizes(skewed.body)[0]).toBeGreaterThan(sizes(skewed.body)[1]!);
        expect(await stored(skewed.body)).toEqual(sizes(skewed.body));
        expect((await call('PATCH', `/api/experiments/${experiment.body.id}`, { status: 'running' })).status).toBe(200);
        expect((await call('PATCH', `/api/experiments/${experiment.body.id}`, { status: 'stopped' })).status).toBe(200);
        expect((await call('DELETE', `/api/experiments/${experiment.body.id}`)).status).toBe(204);

        // Deleted there: its rows go, and the workers forget it.
        expect((await call('DELETE', `/api/segments/${created.body.id}`)).status).toBe(204);
        expect(await members(created.body.id)).toEqual([]);
        // Labels changed there are written by the worker holding each user (and kept when it writes the profile again),
        // and the user re-evaluated there.
        const labelled = await call('POST', '/api/segments', { name: 'Gold', condition: { attr: 'labels', op: 'contains', value: 'gold' } });
        expect(labelled.status).toBe(201);
        for (const userId of ['u1', 'u30']) {
          const r = await call('POST', `/api/users/${userId}/labels`, { add: ['gold', 'x'] });
          expect(r.status).toBe(200);
          expect(r.body.labels).toEqual(['gold', 'x']);
        }
        expect(await members(labelled.body.id)).toEqual(['u1', 'u30']);
        expect((await call('POST', '/api/users/u1/labels', { remove: ['gold'] })).body.labels).toEqual(['x']);
        expect(await members(labelled.body.id)).toEqual(['u30']);
        const again = await api.app.inject({ method: 'POST', url: '/v1/identify', headers: { 'x-write-key': WRITE }, payload: { userId: 'u30', traits: { level: 31 } } });
        expect((await readAt('/api/users/u30', JSON.parse(again.payload).position as number)).statusCode).toBe(200);
        expect((await call('GET', '/api/users/u30')).body.labels).toEqual(['gold', 'x']);
        expect((await call('POST', '/api/users/nobody/labels', { add: ['gold'] })).status).toBe(404);
        await historyHolds(labelled.body.id);
        // An erasure is still refused, naming the role.
        const erased = await call('DELETE', '/api/users/u1');
        expect(erased.status).toBe(421);
        expect(erased.body.error.code).toBe('WRONG_ROLE');
      } finally {
        if (api) {
          await api.app.close();
          await stopContext(api.ctx);
        }
        for (const w of workers) await w.stop().catch(() => undefined);
        for (const o of opened) {
          await o.log.close().catch(() => undefined);
          await o.store.close().catch(() => undefined);
        }
      }
    });
  }, 120_000);
});

async function until(ok: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !ok();) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
