import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sql } from 'kysely';
import { SqlStore, UserDataStore, openSqlite } from '@strata/store';
import { testBackends } from '@strata/store/testing';
import { DEFAULT_PROJECT, expectStatus, startTestApp, type TestApp } from './test-app.ts';

const T0 = Date.UTC(2024, 5, 15, 12);
const DAY = 86_400_000;
const P = DEFAULT_PROJECT;

/** A store to test on, and how to read everything it holds as raw text. */
interface ScannedBackend {
  readonly name: string;
  open(): Promise<{ store: SqlStore; scan(): Promise<string>; cleanup(): void }>;
}

/** SQLite on a real file: the scan reads the database file's bytes and its WAL's, as they are on disk. */
const sqliteFile: ScannedBackend = {
  name: 'sqlite (file)',
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'strata-erase-'));
    const file = join(dir, 'strata.db');
    const store = new SqlStore(openSqlite({ filename: file }).db, 'sqlite');
    // The event log beside it, as createStore opens it: its file is scanned too.
    const log = join(dir, 'strata-log.db');
    store.eventLogFile = log;
    await store.migrate();
    return {
      store,
      scan: async () => [file, `${file}-wal`, log, `${log}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f).toString('latin1')).join('\n'),
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  },
};

/** PostgreSQL: every table of the store's schema, every row as text. */
const postgres = (await testBackends()).filter((b) => b.name.startsWith('postgres')).map((b): ScannedBackend => ({
  name: b.name,
  async open() {
    const store = await b.open();
    return {
      store,
      async scan() {
        const tables = await sql<{ t: string }>`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`.execute(store.db);
        const out: string[] = [];
        for (const { t } of tables.rows) {
          for (const r of (await sql<{ row: string }>`SELECT x::text AS row FROM ${sql.table(t)} x`.execute(store.db)).rows) out.push(`${t}: ${r.row}`);
        }
        return out.join('\n');
      },
      cleanup: () => undefined,
    };
  },
}));

const EMAIL = 'ada.lovelace@example.org';
/** Everything that names the erased user: ids, traits, an event property only she sent. */
const TRACES = ['u_erase', 'anon-erase-1', EMAIL, 'Analytical Engine', 'bernoulli-numbers', 'dev-erase-42'];

describe.each([sqliteFile, ...postgres].map((b) => [b.name, b] as const))('user erasure and export on %s', (_n, backend) => {
  let t: TestApp | undefined;
  let server: Server | undefined;
  let cleanup = () => undefined as void;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((r) => server!.close(() => r()));
      server = undefined;
    }
    cleanup();
  });

  /** Engine memory, stored memberships and the SQL recomputation agree for every segment. */
  const consistent = async (app: TestApp) => {
    const store = app.ctx.store;
    const rows = await store.listSegments(P);
    const parsed = app.ctx.membership.parseSegments(P, rows);
    const stored = await store.allMemberships(P);
    for (const row of rows) {
      const mem = [...app.ctx.engine.members(P, row.id)].sort((a, b) => a - b);
      const db = stored.filter((m) => m.segmentId === row.id).map((m) => m.profileId).sort((a, b) => a - b);
      const recomputed = await store.matchingIds(P, app.ctx.membership.membersSql(store, P, parsed.get(row.id)!, parsed, app.clock.now()));
      expect(mem, `engine vs SQL, ${row.name}`).toEqual(recomputed);
      expect(db, `stored vs SQL, ${row.name}`).toEqual(recomputed);
      expect(app.ctx.engine.sizes(P)!.get(row.id) ?? 0).toBe(recomputed.length);
    }
  };

  /** A user with everything Strata can hold about one, and a second user who must stay whole. */
  async function populate(app: TestApp) {
    server = createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200).end()); });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const pro = await expectStatus(app.admin('POST', '/api/segments', { name: 'Pro', condition: { attr: 'traits.plan', op: 'eq', value: 'pro' } }), 201);
    const buyers = await expectStatus(app.admin('POST', '/api/segments', { name: 'Recent buyers', condition: { event: 'purchase', window: { within: '1d' } } }), 201);
    const list = await expectStatus(app.admin('POST', '/api/segments', { name: 'Hand-picked', condition: null }), 201);
    const hook = await expectStatus(app.admin('POST', '/api/webhooks', { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/in` }), 201);
    const mission = await expectStatus(app.admin('POST', '/api/missions', { name: 'First purchase', points: 50, goal: { kind: 'count', event: 'purchase', target: 1 } }), 201);
    const reward = await expectStatus(app.admin('POST', '/api/rewards', { name: 'Coupon', type: 'coupon', cost: 10 }), 201);
    await expectStatus(app.admin('POST', `/api/rewards/${reward.id}/codes`, { codes: ['CODE-1', 'CODE-2'] }));

    const batch = await expectStatus(app.send('/v1/batch', { batch: [
      { type: 'identify', userId: 'u_erase', anonymousId: 'anon-erase-1', messageId: 'm1', traits: { email: EMAIL, plan: 'pro', company: 'Analytical Engine' }, context: { locale: 'en-GB', device: { id: 'dev-erase-42' } } },
      { type: 'track', userId: 'u_erase', messageId: 'm2', event: 'purchase', properties: { item: 'bernoulli-numbers', total: 12 }, context: { locale: 'en-GB' } },
      { type: 'page', userId: 'u_erase', messageId: 'm3', name: 'Notes', context: { locale: 'en-GB' } },
      { type: 'identify', userId: 'u_keep', messageId: 'm4', traits: { email: 'keep@example.org', plan: 'pro' } },
      // The same context as hers: stored once, shared, and it must stay.
      { type: 'track', userId: 'u_keep', messageId: 'm5', event: 'purchase', properties: { total: 3 }, context: { locale: 'en-GB' } },
      // Rejected (an empty event name): kept as an ingestion warning that names her.
      { type: 'track', userId: 'u_erase', messageId: 'm6', event: '', properties: { note: EMAIL } },
    ] }));
    expect(batch.rejected).toHaveLength(1);
    // Sent: the entries so far are delivered; the next change (a manual entry) stays pending.
    expect(await app.ctx.dispatcher.runOnce()).toBeGreaterThan(0);
    await expectStatus(app.admin('POST', `/api/segments/${list.id}/members`, { userIds: ['u_erase', 'u_keep'] }));
    const onlyHer = await expectStatus(app.admin('POST', '/api/segments', { name: 'Only her', condition: null }), 201);
    await expectStatus(app.admin('POST', `/api/segments/${onlyHer.id}/members`, { userIds: ['u_erase'] }));
    await expectStatus(app.admin('POST', '/api/users/u_erase/labels', { add: ['vip'] }));
    const redeemed = await expectStatus(app.send(`/v1/rewards/${reward.id}/redeem`, { userId: 'u_erase' }));
    expect(redeemed.redemption.code).toBe('CODE-1');
    // An import row naming her (a bad cell): its reason holds her id.
    const job = await expectStatus(app.upload('/api/imports?kind=users&types=referrer:number', 'userId,referrer\nu_other,u_erase\n', 'text/csv'), 201);
    expect(job.badRows).toEqual([{ line: 2, reason: 'column "referrer": "u_erase" is not a number' }]);
    app.clock.advance(1000);
    return { pro: pro.id as string, buyers: buyers.id as string, list: list.id as string, onlyHer: onlyHer.id as string, hook: hook.id as string, mission: mission.id as string, reward: reward.id as string, job: job.id as string };
  }

  it('exports everything about a user, then erases every trace: read routes, engine, SQL and the database files', async () => {
    const b = await backend.open();
    cleanup = b.cleanup;
    t = await startTestApp(b.store, T0);
    const app = t;
    const ids = await populate(app);
    const before = await b.scan();
    for (const trace of TRACES) expect(before, `${trace} is stored before the erasure`).toContain(trace);

    // ---- export: everything held, before the erasure
    const ex = await expectStatus(app.admin('GET', '/api/users/anon-erase-1/export'));
    expect(ex.profile).toMatchObject({ userId: 'u_erase', anonymousId: 'anon-erase-1', traits: { email: EMAIL, plan: 'pro', company: 'Analytical Engine' }, context: { locale: 'en-GB' }, labels: ['vip'] });
    expect(ex.profile.traitsUpdatedAt.email).toBe(new Date(T0).toISOString());
    expect(ex.keys).toEqual([{ kind: 'userId', id: 'u_erase' }, { kind: 'anonymousId', id: 'anon-erase-1' }]);
    expect(ex.events.filter((e: { messageId: string | null }) => e.messageId).map((e: { event: string }) => e.event)).toEqual(['$identify', 'purchase', '$pageview']);
    expect(ex.events.find((e: { event: string }) => e.event === 'purchase').properties).toEqual({ item: 'bernoulli-numbers', total: 12 });
    expect(ex.events.map((e: { event: string }) => e.event)).toEqual(expect.arrayContaining(['$segment_entered', '$mission_completed']));
    expect(ex.visits).toHaveLength(1);
    expect(ex.memberships.map((m: { segmentName: string }) => m.segmentName).sort()).toEqual(['Hand-picked', 'Only her', 'Pro', 'Recent buyers']);
    expect(ex.membershipHistory).toHaveLength(4);
    expect(ex.manualLists.sort((a: { segmentName: string }, b: { segmentName: string }) => a.segmentName.localeCompare(b.segmentName))).toEqual([
      { segmentId: ids.list, segmentName: 'Hand-picked', list: 'include' }, { segmentId: ids.onlyHer, segmentName: 'Only her', list: 'include' },
    ]);
    expect(ex.points.balance).toBe(40);
    expect(ex.points.ledger.map((e: { amount: number }) => e.amount)).toEqual([50, -10]);
    expect(ex.missions.completions).toEqual([{ missionId: ids.mission, missionName: 'First purchase', n: 1, at: expect.any(String), points: 50 }]);
    expect(ex.missions.progress).toHaveLength(1);
    expect(ex.redemptions).toEqual([{ rewardId: ids.reward, rewardName: 'Coupon', code: 'CODE-1', cost: 10, at: expect.any(String), ref: null }]);
    expect(new Set(ex.outbox.map((o: { status: string }) => o.status))).toEqual(new Set(['delivered', 'pending']));
    expect(ex.outbox.every((o: { payload: { data: { userId: string } } }) => o.payload.data.userId === 'u_erase')).toBe(true);
    expect(ex.ingestWarnings).toHaveLength(1);
    expect(ex.ingestWarnings[0].payload).toContain(EMAIL);
    expect(ex.importBadRows).toEqual([{ importId: ids.job, line: 2, reason: 'column "referrer": "u_erase" is not a number' }]);
    // The other user's data is not in hers.
    expect(JSON.stringify(ex)).not.toContain('u_keep');

    const keepBefore = await expectStatus(app.admin('GET', '/api/users/u_keep/export'));
    const keepDeliveries = (await expectStatus(app.admin('GET', `/api/webhooks/${ids.hook}/deliveries?limit=1000`))).deliveries
      .filter((d: object) => JSON.stringify(d).includes('u_keep')).length;
    const sizes = new Map((await expectStatus(app.admin('GET', '/api/segments'))).segments.map((s: { id: string; size: number }) => [s.id, s.size]));
    const seriesBefore = (await expectStatus(app.admin('GET', '/api/segments/sizes?days=2'))).segments as { id: string; sizes: number[] }[];

    // ---- erase
    const erased = await expectStatus(app.admin('DELETE', '/api/users/u_erase'));
    expect(erased).toEqual({
      erased: {
        profiles: 1, keys: 2, events: ex.events.length + ex.visits.length, visits: 1, contexts: expect.any(Number), memberships: 4, membershipHistory: 4,
        manualListEntries: 2, pointsEntries: 2, pointsBalances: 1, missionProgress: 1, missionCompletions: 1, redemptions: 1,
        outboxMessages: ex.outbox.length, ingestWarnings: 1, importBadRowsRedacted: 1, auditEntriesRedacted: expect.any(Number),
      },
      suppressed: 0,
    });
    expect(erased.erased.contexts).toBeGreaterThan(0);

    // The size series stays true: past days keep their sizes (her memberships end today, as counts only).
    const seriesAfter = (await expectStatus(app.admin('GET', '/api/segments/sizes?days=2'))).segments as { id: string; sizes: number[] }[];
    expect(seriesAfter).toEqual(seriesBefore.map((s) => ({ ...s, size: (sizes.get(s.id) as number) - 1, sizes: [s.sizes[0], s.sizes[1]! - 1] })));

    // ---- no read route knows her
    for (const id of ['u_erase', 'anon-erase-1']) {
      for (const path of ['', '/segments', '/events', '/history', '/points', '/missions', '/redemptions', '/export']) {
        expect((await app.admin('GET', `/api/users/${id}${path}`)).status, `${id}${path}`).toBe(404);
      }
    }
    expect((await app.admin('DELETE', '/api/users/u_erase')).status).toBe(404);
    for (const seg of [ids.pro, ids.buyers, ids.list]) {
      const members = (await expectStatus(app.admin('GET', `/api/segments/${seg}/members`))).members;
      expect(members.map((m: { userId: string }) => m.userId)).toEqual(['u_keep']);
      expect(JSON.stringify(await expectStatus(app.admin('GET', `/api/segments/${seg}/history`)))).not.toContain('u_erase');
      const seg2 = await expectStatus(app.admin('GET', `/api/segments/${seg}`));
      expect(seg2.size).toBe((sizes.get(seg) as number) - 1);
      expect(seg2.include).toEqual(seg === ids.list ? ['u_keep'] : []);
    }
    expect(JSON.stringify(await expectStatus(app.admin('GET', `/api/webhooks/${ids.hook}/deliveries?limit=1000`)))).not.toContain('u_erase');
    expect(JSON.stringify(await expectStatus(app.admin('GET', '/api/ingest/warnings')))).not.toContain('u_erase');
    expect(JSON.stringify(await expectStatus(app.admin('GET', `/api/missions/${ids.mission}/progress`)))).not.toContain('u_erase');
    expect((await expectStatus(app.admin('GET', `/api/rewards/${ids.reward}/redemptions`))).redemptions).toEqual([]);
    const job = await expectStatus(app.admin('GET', `/api/imports/${ids.job}`));
    expect(job).toMatchObject({ bad: 1, badRows: [{ line: 2, reason: 'reason removed: it named an erased user' }] });
    // Her code stays taken: the pool does not hand it out again.
    expect((await expectStatus(app.admin('GET', `/api/rewards/${ids.reward}`))).codes).toEqual({ total: 2, available: 1 });
    await expectStatus(app.admin('POST', '/api/users/u_keep/points', { amount: 100, reason: 'test', kind: 'earn' }));
    expect((await expectStatus(app.send(`/v1/rewards/${ids.reward}/redeem`, { userId: 'u_keep' }))).redemption.code).toBe('CODE-2');

    // ---- the engine forgot her (manual lists too) and agrees with SQL; time passing emits nothing for her
    await consistent(app);
    expect(app.ctx.engine.hasManualLists(P, ids.onlyHer)).toBe(false);
    expect((await expectStatus(app.admin('GET', `/api/segments/${ids.onlyHer}`))).size).toBe(0);
    app.clock.advance(2 * DAY);
    await app.ctx.engine.tick();
    await consistent(app);
    const deliveries = ((await expectStatus(app.admin('GET', `/api/webhooks/${ids.hook}/deliveries?limit=1000`))).deliveries as object[]).map((d) => JSON.stringify(d));
    expect(deliveries.some((d) => d.includes('u_erase') || d.includes('anon-erase-1'))).toBe(false);
    // u_keep left "Recent buyers" by time: the engine still works for everyone else.
    expect(deliveries.filter((d) => d.includes('u_keep')).length).toBeGreaterThan(keepDeliveries);

    // The other user is untouched (apart from the redemption and time exit above).
    const keepAfter = await expectStatus(app.admin('GET', '/api/users/u_keep/export'));
    expect(keepAfter.profile).toEqual(keepBefore.profile);
    expect(keepAfter.events.filter((e: { messageId: string | null }) => e.messageId)).toEqual(keepBefore.events.filter((e: { messageId: string | null }) => e.messageId));
    expect(keepAfter.events.find((e: { event: string }) => e.event === 'purchase').context).toEqual({ locale: 'en-GB' });

    // ---- no trace in the database files
    const after = await b.scan();
    for (const trace of TRACES) expect(after.includes(trace), `${trace} is still stored`).toBe(false);
    expect(after).toContain('keep@example.org');

    // A context the erasure deleted can be sent again: it is stored again, not pointed at where it was.
    await expectStatus(app.send('/v1/track', { userId: 'u_later', event: 'hello', context: { locale: 'en-GB', device: { id: 'dev-erase-42' } } }));
    expect((await expectStatus(app.admin('GET', '/api/users/u_later/events'))).events.find((e: { event: string }) => e.event === 'hello').context)
      .toEqual({ locale: 'en-GB', device: { id: 'dev-erase-42' } });

    // A restart rebuilds the same state from the store.
    await app.ctx.engine.stop();
    const again = await startTestApp(b.store, app.clock.now());
    await consistent(again);
    await again.app.close();
    await again.ctx.engine.stop();
  });

  it('with suppress=true, later messages naming any of her ids are accepted and dropped; only hashes are kept', async () => {
    const b = await backend.open();
    cleanup = b.cleanup;
    t = await startTestApp(b.store, T0);
    const app = t;
    await expectStatus(app.send('/v1/batch', { batch: [
      { type: 'identify', userId: 'u_erase', anonymousId: 'anon-erase-1', traits: { email: EMAIL } },
      { type: 'identify', userId: 'u_other', traits: { email: 'other@example.org' } },
    ] }));
    expect((await app.admin('DELETE', '/api/users/u_erase?suppress=maybe')).status).toBe(400);
    expect((await app.admin('DELETE', '/api/users/u_erase?supress=true')).status).toBe(400);
    const r = await expectStatus(app.admin('DELETE', '/api/users/anon-erase-1?suppress=true'));
    expect(r.erased.profiles).toBe(1);
    expect(r.suppressed).toBe(2);

    const sent = await app.send('/v1/batch', { batch: [
      { type: 'track', userId: 'u_erase', event: 'back', properties: { email: EMAIL } },
      { type: 'track', anonymousId: 'anon-erase-1', event: 'back' },
      { type: 'alias', userId: 'u_new', previousId: 'anon-erase-1' },
      { type: 'track', userId: 'u_new', event: 'hello' },
    ] });
    // Accepted (nothing to retry, and the answer does not tell a write-key holder who was erased).
    expect(sent).toEqual({ status: 200, body: { success: true, position: expect.any(Number) } });
    expect((await app.admin('GET', '/api/users/u_erase')).status).toBe(404);
    expect((await app.admin('GET', '/api/users/anon-erase-1')).status).toBe(404);
    const fresh = await expectStatus(app.admin('GET', '/api/users/u_new'));
    expect(fresh.anonymousIds).toEqual([]);
    expect((await expectStatus(app.admin('GET', '/api/users/u_new/events'))).events.map((e: { event: string }) => e.event)).toContain('hello');
    // Single calls too.
    expect((await app.send('/v1/identify', { userId: 'u_erase', traits: { email: EMAIL } })).status).toBe(200);
    expect((await app.admin('GET', '/api/users/u_erase')).status).toBe(404);

    const warnings = await expectStatus(app.admin('GET', '/api/ingest/warnings'));
    expect(warnings.warnings.map((w: { message: string; payload: string; index: number }) => [w.message, w.payload, w.index])).toEqual([
      ['1 message dropped: naming a user erased with suppression', '', -1],
      ['3 messages dropped: naming a user erased with suppression', '', -1],
    ]);
    const after = await b.scan();
    for (const trace of TRACES.slice(0, 3)) expect(after.includes(trace), `${trace} is still stored`).toBe(false);
    expect(after).toContain('other@example.org');

    // Without suppression, the same id can come back as a new user.
    await expectStatus(app.admin('DELETE', '/api/users/u_other'));
    await expectStatus(app.send('/v1/identify', { userId: 'u_other' }));
    expect((await expectStatus(app.admin('GET', '/api/users/u_other'))).traits).toEqual({});
  });

  it('erases what a merged-in anonymous profile brought, found by its anonymousId', async () => {
    const b = await backend.open();
    cleanup = b.cleanup;
    t = await startTestApp(b.store, T0);
    const app = t;
    await expectStatus(app.admin('POST', '/api/segments', { name: 'Browsers', condition: { event: '$pageview' } }), 201);
    await expectStatus(app.admin('POST', '/api/webhooks', { url: 'http://127.0.0.1:9/in' }), 201);
    await expectStatus(app.send('/v1/identify', { userId: 'u_erase', traits: { email: EMAIL } }));
    // Browsing anonymously first: the webhook message names only the anonymousId.
    await expectStatus(app.send('/v1/page', { anonymousId: 'anon-erase-1', name: 'Home', properties: { note: 'bernoulli-numbers' } }));
    await expectStatus(app.send('/v1/page', { anonymousId: 'anon-keep', name: 'Home' }));
    await expectStatus(app.send('/v1/identify', { userId: 'u_erase', anonymousId: 'anon-erase-1' }));
    const ex = await expectStatus(app.admin('GET', '/api/users/anon-erase-1/export'));
    expect(ex.keys).toEqual([{ kind: 'userId', id: 'u_erase' }, { kind: 'anonymousId', id: 'anon-erase-1' }]);
    expect(ex.outbox.some((o: { payload: { data: { userId: string | null; anonymousId: string } } }) => o.payload.data.userId === null && o.payload.data.anonymousId === 'anon-erase-1')).toBe(true);
    const r = await expectStatus(app.admin('DELETE', '/api/users/u_erase'));
    expect(r.erased).toMatchObject({ profiles: 1, keys: 2, outboxMessages: ex.outbox.length });
    await consistent(app);
    const after = await b.scan();
    for (const trace of ['u_erase', 'anon-erase-1', EMAIL, 'bernoulli-numbers']) expect(after.includes(trace), `${trace} is still stored`).toBe(false);
    expect(after).toContain('anon-keep');
  });

  it('an erasure that fails leaves the user whole, in the store and in the engine', async () => {
    const b = await backend.open();
    cleanup = b.cleanup;
    t = await startTestApp(b.store, T0);
    const app = t;
    const seg = await expectStatus(app.admin('POST', '/api/segments', { name: 'Pro', condition: { attr: 'traits.plan', op: 'eq', value: 'pro' } }), 201);
    const list = await expectStatus(app.admin('POST', '/api/segments', { name: 'Picked', condition: null }), 201);
    await expectStatus(app.send('/v1/identify', { userId: 'u1', traits: { plan: 'pro' } }));
    await expectStatus(app.admin('POST', `/api/segments/${list.id}/members`, { userIds: ['u1'] }));
    const spy = vi.spyOn(UserDataStore.prototype, 'erase').mockRejectedValueOnce(new Error('disk full'));
    try {
      expect((await app.admin('DELETE', '/api/users/u1')).status).toBe(500);
    } finally {
      spy.mockRestore();
    }
    expect((await expectStatus(app.admin('GET', '/api/users/u1'))).segments.map((s: { name: string }) => s.name).sort()).toEqual(['Picked', 'Pro']);
    expect(app.ctx.engine.members(P, seg.id).size).toBe(1);
    expect(app.ctx.engine.hasManualLists(P, list.id)).toBe(true);
    await consistent(app);
    // Once committed, the erasure answers as done even if the WAL checkpoint after it fails.
    const checkpoint = vi.spyOn(UserDataStore.prototype, 'checkpoint').mockRejectedValueOnce(new Error('busy'));
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect((await expectStatus(app.admin('DELETE', '/api/users/u1'))).erased.profiles).toBe(1);
      expect(checkpoint).toHaveBeenCalledTimes(1);
    } finally {
      checkpoint.mockRestore();
      quiet.mockRestore();
    }
    expect((await app.admin('GET', '/api/users/u1')).status).toBe(404);
    expect(app.ctx.engine.members(P, seg.id).size).toBe(0);
    await consistent(app);
  });

  it('is admin-only and answers 404 for an unknown user', async () => {
    const b = await backend.open();
    cleanup = b.cleanup;
    t = await startTestApp(b.store, T0);
    const app = t;
    await expectStatus(app.send('/v1/identify', { userId: 'u1' }));
    for (const [method, url] of [['DELETE', '/api/users/u1'], ['GET', '/api/users/u1/export']] as const) {
      expect((await app.app.inject({ method, url, headers: { 'x-write-key': 'stw_test_write_key' } })).statusCode).toBe(401);
      expect((await app.app.inject({ method, url, headers: { authorization: 'Bearer nope' } })).statusCode).toBe(401);
    }
    for (const [method, url] of [['DELETE', '/api/users/nobody'], ['GET', '/api/users/nobody/export']] as const) {
      const r = await app.admin(method, url);
      expect(r.status).toBe(404);
      expect(r.body.error.message).toBe('no user with userId or anonymousId "nobody"');
    }
    expect((await app.admin('GET', '/api/users/u1')).status).toBe(200);
    const doc = JSON.parse((await app.app.inject({ method: 'GET', url: '/openapi.json' })).payload);
    expect(doc.paths['/api/users/{id}'].delete).toBeDefined();
    expect(doc.paths['/api/users/{id}/export'].get).toBeDefined();
  });
});
