import { afterAll, describe, expect, it } from 'vitest';
import { createStore, postgresReachable, setAppliedPosition, SqlEventLog, type SqlStore } from '@strata/store';
import { deleteEventStreams, NATS_URL, natsRelay, natsUnavailable, openTestPglite, openTestSqlite, TEST_PG_URL, testPrefixes, withTestPgSchema } from '@strata/store/testing';
import { buildApp } from './app.ts';
import { createContext, ensureDefaultProject, openConfiguredLog, stopContext } from './bootstrap.ts';
import { configFromEnv, type Config } from './config.ts';
import type { AppContext } from './context.ts';

/**
 * Strata with its event log on NATS JetStream (STRATA_NATS_URL) over PostgreSQL, through HTTP:
 * acknowledged batches survive a stop before they are applied, are stored once, and give the
 * memberships of the embedded log. Skipped, saying why, without a NATS server with JetStream or
 * a PostgreSQL server (PGlite is no substitute: the processes share the database over the network).
 */

const ADMIN = 'sta_nats_admin_token', WRITE = 'stw_nats_write_key';
const natsDown = await natsUnavailable();
const pgUp = await postgresReachable(TEST_PG_URL);
const why = natsDown ?? (pgUp ? null : `no PostgreSQL server at ${TEST_PG_URL}`);
if (why !== null) console.warn(`skipping the tests of Strata on NATS + PostgreSQL: ${why}`);

const prefixes = testPrefixes('srv');
const T0 = Date.UTC(2026, 0, 1);

/** The batches the tests send: anonymous visitors who identify later (often in another partition), purchases, repeats. */
function batches(): { messageId: string; [k: string]: unknown }[][] {
  const out: { messageId: string; [k: string]: unknown }[][] = [];
  let n = 0;
  for (let b = 0; b < 8; b++) {
    const batch: { messageId: string; [k: string]: unknown }[] = [];
    for (let u = 0; u < 6; u++) {
      const user = `user-${b % 2}-${u}`, anon = `anon-${b % 2}-${u}`;
      const timestamp = new Date(T0 + (++n) * 1000).toISOString();
      if (b < 4) batch.push({ type: 'track', anonymousId: anon, event: 'view', messageId: `m${n}`, timestamp });
      else if (b < 6) batch.push({ type: 'identify', userId: user, anonymousId: anon, traits: { plan: u % 2 ? 'pro' : 'free' }, messageId: `m${n}`, timestamp });
      else batch.push({ type: 'track', userId: user, event: u % 3 ? 'view' : 'purchase', messageId: `m${n}`, timestamp });
    }
    out.push(batch);
  }
  return out;
}

interface Running { ctx: AppContext; base: string; close(grace?: number): Promise<void> }

async function start(store: SqlStore, config: Config): Promise<Running> {
  await ensureDefaultProject(store, config, Date.now());
  const log = await openConfiguredLog(store, config);
  const ctx = createContext(store, config, undefined, { log });
  await ctx.engine.start(0);
  const app = await buildApp(ctx);
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    ctx, base,
    async close() {
      await app.close();
      await stopContext(ctx);
    },
  };
}

const post = (r: Running, path: string, body: unknown) => fetch(`${r.base}${path}`, { method: 'POST', headers: { 'x-write-key': WRITE, 'content-type': 'application/json' }, body: JSON.stringify(body) });
const admin = (r: Running, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => fetch(`${r.base}${path}`, {
  method, headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
});

async function segments(r: Running): Promise<void> {
  for (const [name, condition] of [['Viewers', { event: 'view', cmp: { op: 'gte', value: 2 } }], ['Buyers', { event: 'purchase' }], ['Pro', { attr: 'traits.plan', op: 'eq', value: 'pro' }]] as const) {
    const res = await admin(r, 'POST', '/api/segments', { name, condition });
    expect(res.status, await res.clone().text()).toBe(201);
  }
}

/** Memberships named by segment and the profile's ids. */
async function memberships(store: SqlStore): Promise<string[]> {
  const rows = await store.db.selectFrom('memberships as m').innerJoin('segments as s', 's.id', 'm.segment_id').innerJoin('profiles as p', 'p.id', 'm.profile_id')
    .select(['s.name', 'p.user_id', 'p.anonymous_id']).where('m.project_id', '=', 'default').execute();
  return rows.map((r) => `${r.name}:${r.user_id ?? ''}/${r.anonymous_id ?? ''}`).sort();
}

const natsConfig = (url: string, prefix: string, partitions = 4): Config => ({
  ...configFromEnv({ DATABASE_URL: url, STRATA_NATS_URL: NATS_URL, STRATA_NATS_PREFIX: prefix, STRATA_PARTITIONS: String(partitions) }),
  adminToken: ADMIN, writeKey: WRITE, rootToken: null, logLevel: 'silent',
});

describe.skipIf(why !== null)('Strata on NATS JetStream and PostgreSQL', () => {
  afterAll(async () => {
    await deleteEventStreams(prefixes.used);
  });

  it('keeps every acknowledged batch across a stop before it is applied: stored once, the memberships of the embedded log', async () => {
    const sent = batches();
    // The embedded run, for comparison.
    const embeddedStore = await openTestSqlite();
    const embedded = await start(embeddedStore, { ...configFromEnv({}), adminToken: ADMIN, writeKey: WRITE, rootToken: null, logLevel: 'silent' });
    await segments(embedded);
    for (const b of sent) expect((await post(embedded, '/v1/batch', { batch: b })).status).toBe(200);
    await embedded.ctx.ingest.drain();
    const want = await memberships(embeddedStore);
    await embedded.close();
    expect(want.length).toBe(22);

    await withTestPgSchema('strata_nats', async ({ url, client, schema }) => {
      const prefix = prefixes.next();
      const config = natsConfig(url, prefix);
      const first = await start(await createStore({ kind: 'postgres', url }), config);
      expect(first.ctx.ingest.log.kind).toBe('jetstream');
      await segments(first);
      // Half applied as it comes; reads with the answer's position see their own writes.
      let position = 0;
      for (const b of sent.slice(0, 4)) {
        const res = await post(first, '/v1/batch', { batch: b });
        expect(res.status).toBe(200);
        position = ((await res.json()) as { position: number }).position;
      }
      const read = await admin(first, 'GET', '/api/users/anon-1-5/segments', undefined, { 'strata-position': String(position) });
      expect(read.status).toBe(200);
      // anon-1-5's second view was in the last batch sent.
      expect(((await read.json()) as { segments: { name: string }[] }).segments.map((x) => x.name)).toEqual(['Viewers']);
      // Then the store fails: the rest is acknowledged (in NATS) and not applied before the stop.
      const store = first.ctx.store;
      store.transaction = (async () => { throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' }); }) as typeof store.transaction;
      const acked: number[] = [];
      for (const b of sent.slice(4)) {
        const res = await post(first, '/v1/batch', { batch: b });
        expect(res.status).toBe(200);
        acked.push(((await res.json()) as { position: number }).position);
      }
      expect(first.ctx.ingest.applied).toBeLessThan(Math.max(...acked));
      await first.ctx.ingest.stop(0);
      await first.close();
      const unapplied = await client.query(`SELECT count(*)::int AS n FROM ${schema}.events WHERE message_id IS NOT NULL`);
      expect(unapplied.rows[0].n).toBe(24);

      // The next start applies what NATS holds for every partition; a client's retry of a batch stores nothing twice.
      const second = await start(await createStore({ kind: 'postgres', url }), config);
      try {
        await second.ctx.ingest.drain();
        expect(second.ctx.ingest.applied).toBeGreaterThanOrEqual(Math.max(...acked));
        // A retry is a new append with a position of its own (never the first copy's), applied; its items are repeats, dropped.
        const retry = await post(second, '/v1/batch', { batch: sent[7] });
        expect(retry.status).toBe(200);
        expect(((await retry.json()) as { position: number }).position).toBeGreaterThan(Math.max(...acked));
        const duplicates = second.ctx.ingest.totals.duplicates;
        await second.ctx.ingest.drain();
        expect(second.ctx.ingest.totals.duplicates - duplicates).toBe(sent[7].length);
        const ids = await client.query(`SELECT message_id, count(*)::int AS n FROM ${schema}.events WHERE message_id IS NOT NULL GROUP BY message_id`);
        expect(ids.rows.filter((r: { n: number }) => r.n !== 1)).toEqual([]);
        expect(ids.rows.map((r: { message_id: string }) => r.message_id).sort()).toEqual(sent.flat().map((m) => m.messageId).sort());
        expect(await memberships(second.ctx.store)).toEqual(want);
        const parts = await client.query(`SELECT partition FROM ${schema}.log_positions ORDER BY partition`);
        expect(parts.rows.length).toBeGreaterThan(1);
        const last = await admin(second, 'GET', '/api/users/user-1-0/segments', undefined, { 'strata-position': String(second.ctx.ingest.acknowledged) });
        expect(((await last.json()) as { segments: { name: string }[] }).segments.map((s) => s.name).sort()).toEqual(['Buyers', 'Viewers']);
      } finally {
        await second.close();
      }
    });
  }, 60_000);

  it('answers 503 STORE_UNAVAILABLE and acknowledges nothing while NATS is down', async () => {
    await withTestPgSchema('strata_nats_down', async ({ url }) => {
      const relay = await natsRelay();
      const config = { ...natsConfig(url, prefixes.next()), eventLog: { natsUrl: relay.url, prefix: prefixes.used.at(-1)!, partitions: 4 } };
      const r = await start(await createStore({ kind: 'postgres', url }), config);
      try {
        expect((await post(r, '/v1/track', { userId: 'u1', event: 'before' })).status).toBe(200);
        const acked = r.ctx.ingest.acknowledged;
        await relay.cut();
        const res = await post(r, '/v1/track', { userId: 'u1', event: 'after' });
        expect(res.status).toBe(503);
        expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringMatching(/nothing was acknowledged/) });
        expect(r.ctx.ingest.acknowledged).toBe(acked);
      } finally {
        await r.close();
      }
    });
  }, 30_000);
});

describe.skipIf(natsDown !== null)('two databases and one NATS prefix', () => {
  afterAll(async () => {
    await deleteEventStreams(prefixes.used);
  });

  it('refuses the stream of one database to another, naming the prefix, and keeps it for its own', async () => {
    const prefix = prefixes.next();
    const config = natsConfig('postgres://x/y', prefix);
    const [first, second] = [await openTestPglite(), await openTestPglite()];
    try {
      await (await openConfiguredLog(first, config)).close();
      await expect(openConfiguredLog(second, config)).rejects.toThrow(new RegExp(`holds the event log of another database .*choose another STRATA_NATS_PREFIX`));
      await expect(openConfiguredLog(second, config)).rejects.toThrow(`(STRATA_NATS_PREFIX "${prefix}")`);
      // With a prefix of its own it starts; the first database still opens its stream.
      await (await openConfiguredLog(second, natsConfig('postgres://x/y', prefixes.next()))).close();
      await (await openConfiguredLog(first, config)).close();
    } finally {
      await first.close();
      await second.close();
    }
  }, 60_000);
});

describe('opening the configured event log', () => {
  it('fails fast, saying why, when NATS does not answer at start', async () => {
    const store = await openTestPglite();
    try {
      const config = { ...natsConfig('postgres://x/y', 'strata'), eventLog: { natsUrl: 'nats://127.0.0.1:1', prefix: 'strata', partitions: 16 } };
      const began = Date.now();
      await expect(openConfiguredLog(store, config)).rejects.toThrow(/^the event log on NATS JetStream at nats:\/\/127\.0\.0\.1:1 \(prefix "strata", 16 partitions\) could not be opened: /);
      expect(Date.now() - began).toBeLessThan(7_000);
      // A URL with credentials: the password is not in the message.
      const secret = { ...config, eventLog: { ...config.eventLog, natsUrl: 'nats://strata:s3cret@127.0.0.1:1' } };
      const err = (await openConfiguredLog(store, secret).catch((e: unknown) => e)) as Error;
      expect(err.message).toMatch(/^the event log on NATS JetStream at nats:\/\/strata:\*\*\*@127\.0\.0\.1:1 /);
      expect(err.message).not.toContain('s3cret');
    } finally {
      await store.close();
    }
  }, 60_000);

  it('refuses NATS over a database whose embedded log holds records not applied yet, and over SQLite', async () => {
    const store = await openTestPglite();
    try {
      const log = new SqlEventLog(store);
      await log.append([{ projectId: 'default', partition: 0, receivedAt: T0, items: [], rejections: [] }, { projectId: 'default', partition: 0, receivedAt: T0, items: [], rejections: [] }]);
      await expect(openConfiguredLog(store, natsConfig('postgres://x/y', 'strata'))).rejects.toThrow(/the embedded event log of this database holds 2 acknowledged records not applied yet, which a start on NATS would never read/);
    } finally {
      await store.close();
    }
    const sqlite = await openTestSqlite();
    await expect(openConfiguredLog(sqlite, natsConfig('postgres://x/y', 'strata'))).rejects.toThrow(/STRATA_NATS_URL needs the PostgreSQL store/);
    await sqlite.close();
  }, 60_000);

  it('refuses a log of fewer partitions than the store applied (the embedded log after NATS), naming both counts', async () => {
    const store = await openTestPglite();
    try {
      await setAppliedPosition(store, 0, 40);
      await setAppliedPosition(store, 5, 42);
      const embedded = { ...configFromEnv({}), adminToken: ADMIN, writeKey: WRITE };
      await expect(openConfiguredLog(store, embedded)).rejects.toThrow('the event log has 1 partition, but the store has applied records of partition 5, so the log it was written from had at least 6 partitions: '
        + 'records of the partitions this log lacks would never be read. Start with the log the store was written from: the same STRATA_NATS_URL and STRATA_NATS_PREFIX, and STRATA_PARTITIONS as its stream was made with');
    } finally {
      await store.close();
    }
  }, 60_000);
});
