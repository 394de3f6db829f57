import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Analytics } from '@segment/analytics-node';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { postgresReachable } from '@strata/store';
import { NATS_URL, deleteEventStreams, natsUnavailable, TEST_PG_URL, testPrefixes, withTestPgSchema } from '@strata/store/testing';
import { startStrata, type StrataProcess } from './strata-process.ts';

/**
 * The distributed deployment (docs/scale-out.md): two processes of the api role and two of the
 * worker role on a real NATS JetStream and a real PostgreSQL. The api processes take the events,
 * half each, from @segment/analytics-node clients and from clients that retry what got no answer;
 * the workers share the log's partitions by lease. Mid-stream one api process and one worker are
 * killed with SIGKILL; a third of each is started later. Anonymous visitors identify with ids that
 * mostly fall in other partitions than their anonymous ids (merges across partitions, handed over
 * between workers). The outcome must be the one a single process gives for the same events:
 * memberships, membership history counts per segment, mission completions and points balances;
 * every acknowledged messageId stored exactly once; a webhook receiver on loopback sees every
 * membership change of its segment, each webhook-id once. The api processes' user reads agree
 * with the store, and wait for the position an ingest answer gave.
 */

const ADMIN = 'sta_roles_admin';
const WRITE = 'stw_roles_write';
/** Users; each sends 7 to 10 events, 200,003 in all (STRATA_ROLES_USERS to change it). */
const USERS = Number(process.env.STRATA_ROLES_USERS ?? 23_530);
const BATCH = 100;

type Message = Record<string, unknown> & { messageId: string };

/**
 * The events, in three phases each acknowledged whole before the next: anonymous clicks, the
 * identifies that merge them, then known users' events. Each run gets the same messages with
 * timestamps a few milliseconds after its own `base` (the moment its mission was made: events
 * before a mission never count), so that the two runs' outcomes compare.
 */
async function phases(base: number): Promise<Message[][]> {
  await new Promise((r) => setTimeout(r, 20));
  const anonymous: Message[] = [], identifies: Message[] = [], known: Message[] = [];
  for (let i = 0; i < USERS; i++) {
    const at = (k: number) => new Date(base + 1 + k).toISOString();
    for (let k = 0; k < 3; k++) anonymous.push({ type: 'track', messageId: `r-a-${i}-${k}`, anonymousId: `anon-${i}`, event: 'clicked', timestamp: at(k) });
    identifies.push({ type: 'identify', messageId: `r-i-${i}`, userId: `user-${i}`, anonymousId: `anon-${i}`, traits: { plan: i % 5 === 0 ? 'vip' : 'free' }, timestamp: at(3) });
    for (let k = 0; k < i % 4; k++) known.push({ type: 'track', messageId: `r-p-${i}-${k}`, userId: `user-${i}`, event: 'purchased', properties: { amount: 10 + k }, timestamp: at(4 + k) });
    for (let k = 0; k < 2; k++) known.push({ type: 'track', messageId: `r-c-${i}-${k}`, userId: `user-${i}`, event: 'clicked', timestamp: at(8 + k) });
    known.push({ type: 'page', messageId: `r-v-${i}`, userId: `user-${i}`, name: 'Home', properties: { path: '/' }, timestamp: at(10) });
  }
  return [anonymous, identifies, known];
}

const SEGMENTS = [
  { name: 'Clicked five times', condition: { event: 'clicked', cmp: { op: 'gte', value: 5 } } },
  { name: 'Bought twice', condition: { event: 'purchased', cmp: { op: 'gte', value: 2 } } },
  { name: 'VIP', condition: { attr: 'traits.plan', op: 'eq', value: 'vip' } },
  { name: 'Anonymous', template: 'anonymous' },
];

async function admin(base: string, method: string, path: string, body?: unknown): Promise<any> {
  const r = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const out = r.status === 204 ? null : await r.json();
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(out)}`);
  return out;
}

/** The segments, a mission and (optionally) a webhook on the VIP segment, made through a process of the all role. */
async function define(base: string, webhookUrl?: string): Promise<void> {
  const ids: Record<string, string> = {};
  for (const s of SEGMENTS) {
    ids[s.name] = (await admin(base, 'POST', '/api/segments', s)).id;
  }
  // Running since before the events' timestamps: every purchase counts.
  await admin(base, 'POST', '/api/missions', { name: 'Two purchases', goal: { kind: 'count', event: 'purchased', target: 2 }, points: 25 });
  if (webhookUrl) await admin(base, 'POST', '/api/webhooks', { url: webhookUrl, segmentIds: [ids.VIP] });
}

/** Posts batches from 4 concurrent loops; what gets no 200 is sent again to `retryTo` (the same messageIds) until it does. */
class Sender {
  readonly acked = new Set<string>();
  unanswered = 0;

  async post(base: string, batch: readonly Message[]): Promise<boolean> {
    try {
      const r = await fetch(`${base}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-write-key': WRITE }, body: JSON.stringify({ batch }) });
      await r.arrayBuffer();
      if (r.status === 200) {
        for (const m of batch) this.acked.add(m.messageId);
        return true;
      }
    } catch {
      // The process died with the request: no answer, so not acknowledged.
    }
    this.unanswered++;
    return false;
  }

  /** Sends `messages` in batches to `to(batchIndex)`; a batch without a 200 goes again to `retryTo()`. */
  async send(messages: readonly Message[], to: (b: number) => string, retryTo: () => string, onBatch?: (b: number) => void): Promise<void> {
    // A user's messages stay in one batch, in order: batches sent side by side are applied in either order, and a
    // mission does not count an event older than one it already counted (docs/missions.md), so a user's purchases must not cross.
    const batches: Message[][] = [[]];
    const who = (m: Message) => m.userId ?? m.anonymousId;
    messages.forEach((m, i) => {
      const last = batches[batches.length - 1]!;
      if (last.length >= BATCH && who(m) !== who(messages[i - 1]!)) batches.push([m]);
      else last.push(m);
    });
    let next = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      for (let b = next++; b < batches.length; b = next++) {
        onBatch?.(b);
        if (await this.post(to(b), batches[b]!)) continue;
        for (let tries = 0; !(await this.post(retryTo(), batches[b]!)); tries++) {
          if (tries > 50) throw new Error('a batch was refused 50 times');
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }));
  }
}

/** Sends a phase through @segment/analytics-node, one library client per api process, each user's events to one of them. */
async function sendWithLibrary(messages: readonly Message[], bases: readonly string[], acked: Set<string>): Promise<void> {
  const clients = bases.map((host) => new Analytics({ writeKey: WRITE, host, path: '/v1/batch', flushInterval: 20, maxEventsInBatch: BATCH, maxRetries: 10 }));
  const errors: unknown[] = [];
  for (const c of clients) c.on('error', (e) => errors.push(e));
  for (const m of messages) {
    const who = String(m.userId ?? m.anonymousId);
    const client = clients[Number(/\d+$/.exec(who)![0]) % clients.length]!;
    const { type, ...rest } = m;
    if (type === 'identify') client.identify(rest as any);
    else client.track(rest as any);
  }
  await Promise.all(clients.map((c) => c.closeAndFlush({ timeout: 120_000 })));
  expect(errors).toEqual([]);
  for (const m of messages) acked.add(m.messageId);
}

/** Waits until a process of the all role has applied everything the log holds (its reads wait for the log's head). */
async function settled(base: string): Promise<void> {
  for (let i = 0; i < 1_200; i++) {
    const r = await fetch(`${base}/api/segments`, { headers: { authorization: `Bearer ${ADMIN}` } });
    await r.arrayBuffer();
    if (r.status === 200) return;
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error('the events were not applied within 10 minutes');
}

/** What a run left in its schema, keyed by names rather than the run's own ids. */
async function outcome(client: pg.Client, schema: string) {
  const q = async (text: string) => (await client.query(text.replaceAll('$s.', `${schema}.`))).rows as Record<string, unknown>[];
  const key = `(SELECT key FROM $s.profile_keys k WHERE k.project_id = x.project_id AND k.profile_id = x.profile_id AND k.kind = 'u' LIMIT 1)`;
  const members = await q(`SELECT s.name, coalesce(${key}, 'anonymous') AS who FROM $s.memberships x JOIN $s.segments s ON s.id = x.segment_id ORDER BY 1, 2`);
  const history = await q(`SELECT s.name, x.kind, count(*)::int AS n FROM $s.membership_history x JOIN $s.segments s ON s.id = x.segment_id GROUP BY 1, 2 ORDER BY 1, 2`);
  const completions = await q(`SELECT ${key} AS who, count(*)::int AS n FROM $s.mission_completions x GROUP BY 1 ORDER BY 1`);
  const balances = await q(`SELECT ${key} AS who, balance::int AS balance FROM $s.points_balances x ORDER BY 1`);
  const copies = await q(`SELECT message_id, count(*)::int AS n FROM $s.events WHERE message_id LIKE 'r-%' GROUP BY 1`);
  return { members, history, completions, balances, copies: new Map(copies.map((r) => [r.message_id as string, r.n as number])) };
}

/** A loopback webhook receiver: every delivery's webhook-id, in order of arrival. */
async function receiver(): Promise<{ url: string; ids: string[]; close(): Promise<void>; server: Server }> {
  const ids: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      ids.push(String(req.headers['webhook-id']));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, ids, server, close: () => new Promise((r) => server.close(() => r())) };
}

const why = (await natsUnavailable()) ?? ((await postgresReachable(TEST_PG_URL)) ? null : `no PostgreSQL server at ${TEST_PG_URL}`);
if (why !== null) console.warn(`[strata tests] skipping the scale-out test: it needs NATS with JetStream and PostgreSQL: ${why}`);

describe.skipIf(why !== null)('api and worker processes on NATS JetStream and PostgreSQL', () => {
  it('gives the single-process outcome with an api process and a worker killed mid-stream and a third of each started later; nothing acknowledged lost or stored twice; every change to the webhook, each id once', async () => {
    const children = new Set<ChildProcess>();
    const prefixes = testPrefixes('roles');
    const prefix = prefixes.next();
    const hook = await receiver();
    // Each user sends 3 anonymous clicks, an identify, i % 4 purchases, 2 clicks and a page.
    const sent = Array.from({ length: USERS }, (_, i) => 7 + (i % 4)).reduce((a, b) => a + b, 0);
    const t0 = Date.now();
    try {
      const single = await withTestPgSchema('strata_roles_one', async ({ url, schema, client }) => {
        const one = await startStrata({ STRATA_ADMIN_TOKEN: ADMIN, STRATA_WRITE_KEY: WRITE, DATABASE_URL: url }, children);
        await define(one.base);
        const [anonymous, identifies, known] = await phases(Date.now());
        const sender = new Sender();
        for (const phase of [anonymous, identifies, known]) await sender.send(phase, () => one.base, () => one.base);
        await settled(one.base);
        one.child.kill('SIGTERM');
        return outcome(client, schema);
      });
      const tSingle = Date.now();

      const multi = await withTestPgSchema('strata_roles_many', async ({ url, schema, client }) => {
        const env = { STRATA_ADMIN_TOKEN: ADMIN, STRATA_WRITE_KEY: WRITE, DATABASE_URL: url, STRATA_NATS_URL: NATS_URL, STRATA_NATS_PREFIX: prefix };
        // The definitions are made through a process of the all role, stopped before the workers start (it applies every partition alone).
        const all = await startStrata(env, children);
        await define(all.base, hook.url);
        await new Promise<void>((r) => { all.child.once('exit', () => r()); all.child.kill('SIGTERM'); });
        const [anonymous, identifies, known] = await phases(Date.now());
        const api = (): Promise<StrataProcess> => startStrata({ ...env, STRATA_ROLE: 'api' }, children);
        const worker = (): Promise<StrataProcess> => startStrata({ ...env, STRATA_ROLE: 'worker' }, children);
        const [a1, a2, w1, w2] = await Promise.all([api(), api(), worker(), worker()]);
        // A process of the all role is refused beside the workers, saying why.
        const refusedAll = await startStrata(env, children).then(() => null, (e: Error) => e.message);
        expect(refusedAll).toContain('processes of the worker role (STRATA_ROLE=worker) hold it');
        // A worker answers its health and names the partitions it applies.
        const health = (await (await fetch(`${w1.base}/api/health`)).json()) as { role: string; partitions: number[] };
        expect(health.role).toBe('worker');

        const acked = new Set<string>();
        await sendWithLibrary(anonymous, [a1.base, a2.base], acked);
        await sendWithLibrary(identifies, [a1.base, a2.base], acked);
        // Known users' events, half to each api process; a third of the way in a2 is killed (a3 takes its half later),
        // half way w2 is killed (its partitions move to w1 within seconds; w3 joins later and takes a share).
        const sender = new Sender();
        let a3: StrataProcess | null = null;
        const killings: Promise<void>[] = [];
        const batches = Math.floor(known.length / BATCH);
        const kill = (p: StrataProcess, then: () => Promise<unknown>) => new Promise<void>((r) => { p.child.once('exit', () => r()); p.child.kill('SIGKILL'); }).then(then).then(() => undefined);
        await sender.send(known, (b) => (b % 2 === 0 ? a1.base : (a3 ?? a2).base), () => (a3 ?? a1).base, (b) => {
          if (b === Math.floor(batches / 3) && killings.length === 0) killings.push(kill(a2, async () => { a3 = await api(); }));
          if (b === Math.floor(batches / 2) && killings.length === 1) killings.push(kill(w2, () => new Promise((r) => setTimeout(r, 3_000)).then(worker)));
        });
        await Promise.all(killings);
        for (const id of sender.acked) acked.add(id);
        await settled(a1.base);
        const got = await outcome(client, schema);
        // The webhook's messages: one per change of the VIP segment, each id once (a worker killed while sending may leave one to be sent again: the same id).
        const vip = (await client.query(`SELECT count(*)::int AS n FROM ${schema}.membership_history h JOIN ${schema}.segments s ON s.id = h.segment_id WHERE s.name = 'VIP'`)).rows[0].n as number;
        for (let i = 0; i < 240 && new Set(hook.ids).size < vip; i++) await new Promise((r) => setTimeout(r, 500));
        expect(vip).toBe(Math.ceil(USERS / 5));
        expect(new Set(hook.ids).size).toBe(vip);
        // The api processes' user reads come from the rows the workers wrote.
        for (let i = 0; i < USERS; i += Math.max(1, Math.floor(USERS / 150))) {
          const r = await fetch(`${[a1, a3!][i % 2]!.base}/api/users/user-${i}/segments`, { headers: { authorization: `Bearer ${ADMIN}` } });
          expect(r.status).toBe(200);
          const names = ((await r.json()) as { segments: { name: string }[] }).segments.map((x) => x.name).sort();
          expect(names).toEqual(got.members.filter((m) => m.who === `user-${i}`).map((m) => m.name as string).sort());
        }
        // Read-your-writes through an api process: the position its ingest answer gives is waited for by its reads.
        const turned = await fetch(`${a1.base}/v1/identify`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-write-key': WRITE }, body: JSON.stringify({ userId: 'user-1', traits: { plan: 'vip' }, messageId: 'ryw-1' }) });
        const position = ((await turned.json()) as { position: number }).position;
        const seen = await fetch(`${a1.base}/api/users/user-1/segments`, { headers: { authorization: `Bearer ${ADMIN}`, 'strata-position': String(position) } });
        expect(((await seen.json()) as { segments: { name: string }[] }).segments.map((x) => x.name)).toContain('VIP');
        for (const p of [a1, a3, w1]) p?.child.kill('SIGTERM');
        return { ...got, acked, unanswered: sender.unanswered, deliveries: hook.ids.length, vip };
      });

      // Nothing acknowledged lost, nothing stored twice.
      expect(multi.acked.size).toBe(sent);
      expect([...multi.acked].filter((id) => !multi.copies.has(id))).toEqual([]);
      expect([...multi.copies.values()].filter((n) => n !== 1)).toEqual([]);
      expect(multi.copies.size).toBe(sent);
      expect(single.copies.size).toBe(sent);
      // The single-process outcome.
      expect(multi.members).toEqual(single.members);
      expect(multi.history).toEqual(single.history);
      expect(multi.completions).toEqual(single.completions);
      expect(multi.balances).toEqual(single.balances);
      expect(single.members.length).toBeGreaterThan(USERS / 2);
      // Those with 2 or 3 purchases (i % 4 of 2 or 3) complete the mission.
      expect(single.completions.length).toBe(Array.from({ length: USERS }, (_, i) => i % 4 >= 2).filter(Boolean).length);
      console.log(`[strata scale-out test] ${JSON.stringify({ users: USERS, events: sent, unansweredBatches: multi.unanswered, webhookDeliveries: multi.deliveries, vipChanges: multi.vip, singleSeconds: (tSingle - t0) / 1000, multiSeconds: (Date.now() - tSingle) / 1000 })}`);
    } finally {
      for (const c of children) c.kill('SIGKILL');
      await hook.close();
      await deleteEventStreams(prefixes.used);
    }
  }, 1_500_000);
});
