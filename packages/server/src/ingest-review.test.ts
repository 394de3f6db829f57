import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createStore, SqliteEventLog, type SqlStore } from '@strata/store';
import { openTestSqlite } from '@strata/store/testing';
import { ADMIN, DEFAULT_PROJECT, startTestApp, WRITE, type TestApp } from './test-app.ts';

/**
 * Review of the rebuilt ingest (log + membership worker), through the whole app: decisions and
 * reads made from a view that misses events acknowledged before them.
 */

const T0 = Date.UTC(2026, 0, 5, 12);

/** Holds the store's transactions (the membership worker's among them) until released. */
function gateStore(t: TestApp) {
  let gate: { open: Promise<void>; release(): void } | null = null;
  const transaction = t.ctx.store.transaction.bind(t.ctx.store);
  t.ctx.store.transaction = (async (fn: never) => {
    while (gate) await gate.open;
    return transaction(fn);
  }) as typeof t.ctx.store.transaction;
  return {
    hold() {
      let release!: () => void;
      const open = new Promise<void>((r) => { release = r; });
      gate = { open, release: () => { gate = null; release(); } };
      return gate;
    },
    release() { gate?.release(); },
  };
}

describe('ingest review: identity verification decided from the applied view', () => {
  let t: TestApp;
  let gate: ReturnType<typeof gateStore>;
  afterEach(async () => {
    gate?.release();
    await t.close();
  });

  /*
   * Promise (docs/api.md § Ingest, identity verification; brief: "a read never answers from a view
   * missing events acknowledged before it arrived").
   *
   * Fault: with identity verification on, ingest refuses an alias whose previousId is a known
   * user (prepare-ingest.ts, `knownUser`). That check reads the store (`ctx.store.profileKey`)
   * before the request is appended, without waiting for what was acknowledged before it. An
   * identify of "victim" acknowledged but not yet applied (milliseconds normally; the whole
   * outage while the store is unavailable, when ingest goes on acknowledging) is not seen: the
   * alias that merges "victim" into the attacker's profile is acknowledged, and the worker
   * applies the merge, which identity verification exists to forbid.
   */
  it('refuses an alias of a known user whose identify was acknowledged before it, applied or not', async () => {
    t = await startTestApp(await openTestSqlite(), T0, { config: { readWaitMs: 400 } });
    gate = gateStore(t);
    expect((await t.admin('PATCH', '/api/settings', { identityVerification: { enabled: true } })).status).toBe(200);
    const g = gate.hold();
    const post = (url: string, payload: object) => t.app.inject({ method: 'POST', url, headers: { 'x-write-key': WRITE }, payload });
    expect((await post('/v1/identify', { userId: 'victim', traits: { plan: 'vip' } })).statusCode).toBe(200);
    // Checked once the identify before it is applied: while it cannot be, the alias is not acknowledged (503, to send again).
    const waiting = await post('/v1/alias', { userId: 'attacker', previousId: 'victim' });
    expect([waiting.statusCode, waiting.json().error.code]).toEqual([503, 'NOT_YET_APPLIED']);
    g.release();
    await t.ctx.ingest.drain();
    const alias = await post('/v1/alias', { userId: 'attacker', previousId: 'victim' });
    // The control: an identify that is applied, then the same alias: refused (403).
    expect((await post('/v1/identify', { userId: 'victim-2' })).statusCode).toBe(200);
    await t.ctx.ingest.drain();
    expect((await post('/v1/alias', { userId: 'attacker-2', previousId: 'victim-2' })).statusCode).toBe(403);
    // The alias acknowledged while the identify waited to be applied must be refused as well.
    expect(alias.statusCode).toBe(403);
  });
});

describe('ingest review: reads at start, before the log is read back', () => {
  const dirs: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /*
   * Promise (docs/api.md § Ingest): every read waits for every request acknowledged before it
   * arrived — those acknowledged by the process before a restart included — and a
   * Strata-Position "this Strata has acknowledged" is never refused.
   *
   * Fault: `IngestService.acknowledged` is 0 until `recover()` has read the store's position and
   * the log's head; readiness (`refuseUntilReady`) follows only the engine's load. When the
   * engine is ready first (here the log's head takes 1.5 s to read: a slow disk, or the log
   * thread still starting), a read is answered at once from a view without the backlog (404 for
   * a user whose identify was acknowledged before the restart), and a read naming that
   * acknowledged position is refused 400 "no request has been acknowledged past 0".
   */
  it('does not answer reads from a view without the backlog while the log head is still being read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-review-start-'));
    dirs.push(dir);
    const first = await startTestApp(await createStore({ kind: 'sqlite', dataDir: dir }), T0);
    await first.close();
    // What a process acknowledged and did not apply before it was killed: a record in the log file.
    const log = new SqliteEventLog(join(dir, 'strata-log.db'));
    const [position] = await log.append([{
      projectId: DEFAULT_PROJECT, partition: 0, receivedAt: T0, rejections: [],
      items: [{ messageId: 'm-before-restart', type: 'identify', name: '$identify', userId: 'before-restart', anonymousId: null, previousId: null, properties: {}, context: {}, traits: {}, timestamp: T0, receivedAt: T0 }],
    }]);
    await log.close();

    const head = SqliteEventLog.prototype.head;
    vi.spyOn(SqliteEventLog.prototype, 'head').mockImplementation(async function (this: SqliteEventLog) {
      await new Promise((res) => setTimeout(res, 1_500));
      return head.call(this);
    });
    const second = await startTestApp(await createStore({ kind: 'sqlite', dataDir: dir }), T0, { config: { readWaitMs: 5_000 } });
    try {
      expect(second.ctx.engine.started.phase).toBe('ready');
      const get = (headers: Record<string, string> = {}) => second.app.inject({ method: 'GET', url: '/api/users/before-restart', headers: { authorization: `Bearer ${ADMIN}`, ...headers } });
      const [plain, named] = await Promise.all([get(), get({ 'strata-position': String(position) })]);
      expect([plain.statusCode, named.statusCode]).toEqual([200, 200]);
    } finally {
      await second.close();
    }
  });
});

describe('ingest review: suppression screened before the log, on PostgreSQL', () => {
  /*
   * Promise (docs/privacy.md, brief: "suppression screened before the log"): after an erasure
   * with ?suppress=true, later messages naming the erased ids are dropped.
   *
   * Fault: SuppressionList caches per project whether it has any suppressed id. The erasure
   * clears that cache inside its transaction (`invalidate`), before COMMIT. `screen` now reads
   * the store outside the writer (on the pool, for every ingest request, before the log); an
   * ingest request screened between the invalidation and the COMMIT reads the state before
   * the erasure (no suppressions) and caches `false` again — after which neither `screen` nor the
   * worker's `filter` (same cache) looks at suppressions: the erased user's next events are
   * stored, her profile comes back. (Before the log, `filter` ran only inside the writer's
   * transactions, serialised with the erasure.) Skipped without a PostgreSQL server.
   */
  it('drops an erased id after an erasure with suppress=true, even when a request was screened while the erasure committed', async (ctx) => {
    const { openTestPostgres } = await import('@strata/store/testing');
    const { postgresReachable } = await import('@strata/store');
    const { TEST_PG_URL } = await import('@strata/store/testing');
    if (!(await postgresReachable(TEST_PG_URL))) {
      console.log(`[ingest review] skipped: no PostgreSQL at ${TEST_PG_URL}`);
      ctx.skip();
    }
    const t = await startTestApp(await openTestPostgres(), T0);
    try {
      const post = (payload: object) => t.app.inject({ method: 'POST', url: '/v1/track', headers: { 'x-write-key': WRITE }, payload });
      expect((await t.send('/v1/identify', { userId: 'erased-one', traits: { email: 'erased@example.org' } })).status).toBe(200);
      expect((await t.send('/v1/track', { userId: 'someone', event: 'warm' })).status).toBe(200);
      // While the erasure's transaction is about to commit, an unrelated ingest request is screened.
      const transaction = t.ctx.store.transaction.bind(t.ctx.store);
      let during: Promise<unknown> | null = null;
      t.ctx.store.transaction = (async (fn: (tx: SqlStore) => Promise<unknown>) => transaction(async (tx) => {
        const out = await fn(tx);
        if (out && typeof out === 'object' && 'keys' in (out as object) && 'contexts' in (out as object) && !during) {
          during = post({ userId: 'someone-else', event: 'meanwhile' });
          await during;
        }
        return out;
      })) as typeof t.ctx.store.transaction;
      const erased = await t.admin('DELETE', '/api/users/erased-one?suppress=true');
      expect(erased.status).toBe(200);
      expect(during).not.toBeNull();
      t.ctx.store.transaction = transaction;
      expect((await t.send('/v1/track', { userId: 'erased-one', event: 'back', properties: { email: 'erased@example.org' } })).status).toBe(200);
      expect((await t.admin('GET', '/api/users/erased-one')).status).toBe(404);
    } finally {
      await t.close();
    }
  });
});
