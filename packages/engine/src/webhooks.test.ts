import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { AppError } from '@strata/core';
import type { SqlStore } from '@strata/store';
import { testBackends } from '@strata/store/testing';
import {
  RETRY_SCHEDULE_MS, RETRY_WINDOW_MS, WebhookDispatcher, WebhookService, retryDelay, webhookMessageId, type WebhookChange,
} from './webhooks.ts';

const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);
const P = 'p1';
const H = 3_600_000;

class ManualClock {
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
}

interface Received {
  readonly at: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly answered: number;
}

/** A real HTTP endpoint on loopback that records every request and answers `status`. */
class Receiver {
  readonly got: Received[] = [];
  status = 500;
  private server!: Server;
  port = 0;
  constructor(private readonly clock: ManualClock) {}

  async listen(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        this.got.push({ at: this.clock.now(), headers: flat(req.headers), body: Buffer.concat(parts).toString('utf8'), answered: this.status });
        res.writeHead(this.status, { 'content-type': 'text/plain' });
        res.end(this.status === 200 ? 'ok' : 'down for maintenance');
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', resolve);
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/strata`;
  }

  /** Message ids of the requests answered 2xx, in arrival order. */
  delivered(): string[] {
    return this.got.filter((r) => r.answered === 200).map((r) => r.headers['webhook-id']!);
  }

  async close(): Promise<void> {
    if (!this.server?.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const flat = (h: IncomingHttpHeaders) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));

/** A loopback port nothing listens on (connection refused). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * Verifies a request with the standardwebhooks library, as a receiver would, at the time the
 * dispatcher sent it (the library checks the timestamp against the receiver's clock).
 */
function verify(secret: string, r: Received): unknown {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(r.at);
  try {
    return new Webhook(secret).verify(r.body, r.headers);
  } finally {
    vi.useRealTimers();
  }
}

const change = (historyId: number, over: Partial<WebhookChange> = {}): WebhookChange => ({
  historyId, segmentId: 's1', segmentName: 'Buyers', userId: `u${historyId}`, anonymousId: null, kind: 'entered', at: T0 - 1000, reason: 'event', ...over,
});

describe.each(backends.map((b) => [b.name, b] as const))('webhooks on %s', (_n, backend) => {
  let store: SqlStore;
  let clock: ManualClock;
  let service: WebhookService;
  let dispatcher: WebhookDispatcher;
  const receivers: Receiver[] = [];

  beforeEach(async () => {
    store = await backend.open();
    clock = new ManualClock(T0);
    service = new WebhookService(store, clock);
    dispatcher = new WebhookDispatcher(store, clock, { random: () => 0.5, timeoutMs: 5000 });
    for (const [projectId, id, name] of [[P, 's1', 'Buyers'], [P, 's2', 'Churned'], ['p2', 's1', 'Buyers']] as const) {
      await store.insertSegment({ id, projectId, name, description: '', condition: null, template: null, params: null, createdAt: T0, updatedAt: T0 });
    }
  });
  afterEach(async () => {
    await dispatcher.stop();
    for (const r of receivers.splice(0)) await r.close();
    await store.close();
  });

  const receiver = async (port = 0) => {
    const r = await new Receiver(clock).listen(port);
    receivers.push(r);
    return r;
  };
  const enqueue = (projectId: string, changes: WebhookChange[]) => store.transaction((tx) => service.enqueue(tx, projectId, changes));
  const log = async (projectId: string, webhookId: string) => (await service.deliveries(projectId, webhookId, 1000, null)).deliveries;
  const drain = async () => {
    let n = 0;
    for (let k; (k = await dispatcher.runOnce()) > 0;) n += k;
    return n;
  };
  const nextDue = async (projectId: string, webhookId: string) =>
    Math.min(...(await log(projectId, webhookId)).filter((d) => d.status === 'pending').map((d) => Date.parse(d.nextAttemptAt!)));

  it('delivers every message, signed and in order, once a receiver that answered 500 recovers', async () => {
    const rx = await receiver();
    const hook = await service.create(P, { url: rx.url });
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(await enqueue(P, [change(1), change(2, { kind: 'exited' }), change(3)])).toBe(3);

    // Down: one request per retry, not one per message; the others wait behind it.
    expect(await dispatcher.runOnce()).toBe(1);
    expect(await dispatcher.runOnce()).toBe(0);
    let rows = await log(P, hook.id);
    expect(rows.map((d) => [d.messageId, d.status, d.attempts, d.lastStatus])).toEqual([
      [webhookMessageId(3, hook.id), 'pending', 0, null],
      [webhookMessageId(2, hook.id), 'pending', 0, null],
      [webhookMessageId(1, hook.id), 'pending', 1, 500],
    ]);
    expect(rows[2]!.lastError).toBe('HTTP 500: down for maintenance');
    expect(rows[0]!.lastError).toMatch(/^not sent yet: an earlier message to this endpoint failed/);
    expect(rows.map((d) => d.nextAttemptAt)).toEqual(Array(3).fill(new Date(T0 + 5000).toISOString()));

    clock.t = await nextDue(P, hook.id);
    expect(await dispatcher.runOnce()).toBe(1);
    rows = await log(P, hook.id);
    expect(rows[2]).toMatchObject({ attempts: 2, lastStatus: 500, nextAttemptAt: new Date(clock.t + 30_000).toISOString() });

    rx.status = 200;
    clock.t = await nextDue(P, hook.id);
    expect(await drain()).toBe(3);
    expect(rx.delivered()).toEqual([1, 2, 3].map((h) => webhookMessageId(h, hook.id)));

    // Each request verifies with the receiver's library, retries included, and carries the same id.
    const first = rx.got.filter((r) => r.headers['webhook-id'] === webhookMessageId(1, hook.id));
    expect(first.map((r) => r.answered)).toEqual([500, 500, 200]);
    expect(new Set(first.map((r) => r.body)).size).toBe(1);
    for (const r of rx.got) {
      expect(r.headers['content-type']).toBe('application/json');
      expect(Number(r.headers['webhook-timestamp'])).toBe(Math.floor(r.at / 1000));
      expect(verify(hook.secret, r)).toEqual(JSON.parse(r.body));
    }
    expect(() => verify(hook.secret, { ...rx.got[0]!, body: rx.got[0]!.body.replace('u1', 'u9') })).toThrow(/signature/);
    expect(verify(hook.secret, rx.got.at(-2)!)).toEqual({
      type: 'segment.exited', timestamp: new Date(T0 - 1000).toISOString(),
      data: { segmentId: 's1', segmentName: 'Buyers', userId: 'u2', anonymousId: null, reason: 'event', at: new Date(T0 - 1000).toISOString() },
    });

    rows = await log(P, hook.id);
    expect(rows.map((d) => [d.status, d.attempts, d.lastStatus, d.lastError, d.nextAttemptAt])).toEqual([
      ['delivered', 1, 200, null, null], ['delivered', 1, 200, null, null], ['delivered', 3, 200, null, null],
    ]);
    expect(rows.every((d) => d.deliveredAt === new Date(clock.t).toISOString())).toBe(true);

    // Delivered is final.
    clock.t += 48 * H;
    expect(await dispatcher.runOnce()).toBe(0);
    expect(rx.got).toHaveLength(5);
  });

  it('retries a closed port and, when a receiver starts there, sends the waiting messages without waiting for their retry time', async () => {
    const port = await closedPort();
    const hook = await service.create(P, { url: `http://127.0.0.1:${port}/in` });
    await enqueue(P, [change(1), change(2)]);
    expect(await dispatcher.runOnce()).toBe(1);
    const [, head] = await log(P, hook.id);
    expect(head).toMatchObject({ messageId: webhookMessageId(1, hook.id), attempts: 1, lastStatus: null, status: 'pending' });
    expect(head!.lastError).toMatch(/ECONNREFUSED/);
    clock.t = await nextDue(P, hook.id);
    expect(await dispatcher.runOnce()).toBe(1);
    const waitingUntil = await nextDue(P, hook.id);
    expect(waitingUntil).toBe(clock.t + 30_000);

    const rx = await receiver(port);
    rx.status = 200;
    clock.t += 1000;
    await enqueue(P, [change(3)]);
    expect(await drain()).toBe(3);
    expect(clock.t).toBeLessThan(waitingUntil);
    // The new message found the endpoint back; the older ones followed at once, in order.
    expect(rx.delivered()).toEqual([3, 1, 2].map((h) => webhookMessageId(h, hook.id)));
    for (const r of rx.got) verify(hook.secret, r);
    expect((await log(P, hook.id)).map((d) => [d.messageId, d.status, d.attempts])).toEqual([
      [webhookMessageId(3, hook.id), 'delivered', 1], [webhookMessageId(2, hook.id), 'delivered', 1], [webhookMessageId(1, hook.id), 'delivered', 3],
    ]);
  });

  it('does not hold the other messages behind one the receiver refuses with a 4xx', async () => {
    const rx = await receiver();
    rx.status = 200;
    const hook = await service.create(P, { url: rx.url });
    const refuse = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const body = Buffer.concat(parts).toString('utf8');
        res.writeHead(body.includes('"u1"') ? 422 : 200).end();
      });
    });
    await new Promise<void>((r) => refuse.listen(0, '127.0.0.1', r));
    try {
      const picky = await service.create(P, { url: `http://127.0.0.1:${(refuse.address() as AddressInfo).port}/` });
      await enqueue(P, [change(1), change(2), change(3)]);
      expect(await dispatcher.runOnce()).toBe(6);
      expect((await log(P, picky.id)).map((d) => [d.status, d.attempts, d.lastStatus])).toEqual([
        ['delivered', 1, 200], ['delivered', 1, 200], ['pending', 1, 422],
      ]);
      expect(rx.delivered()).toEqual([1, 2, 3].map((h) => webhookMessageId(h, hook.id)));
    } finally {
      refuse.closeAllConnections();
      await new Promise<void>((r) => refuse.close(() => r()));
    }
  });

  it.each([0, 0.5, 0.999])('keeps retrying for 24 hours before giving up (jitter %s)', async (jitter) => {
    dispatcher = new WebhookDispatcher(store, clock, { random: () => jitter });
    const rx = await receiver();
    const hook = await service.create(P, { url: rx.url });
    await enqueue(P, [change(1), change(2)]);
    const [, first] = await log(P, hook.id);
    const created = Date.parse(first!.createdAt);
    const times: number[] = [];
    for (let guard = 0; guard < 100; guard++) {
      const n = await dispatcher.runOnce();
      if (n === 0) {
        const pending = (await log(P, hook.id)).filter((d) => d.status === 'pending');
        if (pending.length === 0) break;
        clock.t = await nextDue(P, hook.id);
        continue;
      }
      times.push(clock.t);
      const [second, head] = await log(P, hook.id);
      if (clock.t < created + RETRY_WINDOW_MS) {
        expect(head!.status).toBe('pending');
        expect(second!.status).toBe('pending');
      }
    }
    // Every gap follows the schedule, except the last attempt, which is made at the 24 h mark.
    const firstMsg = rx.got.filter((r) => r.headers['webhook-id'] === webhookMessageId(1, hook.id));
    expect(firstMsg.map((r) => r.at)).toEqual(times.slice(0, firstMsg.length));
    for (let i = 1; i < firstMsg.length - 1; i++) expect(firstMsg[i]!.at - firstMsg[i - 1]!.at).toBe(retryDelay(i, () => jitter));
    expect(firstMsg.at(-1)!.at).toBe(created + RETRY_WINDOW_MS);
    expect(firstMsg.at(-2)!.at).toBeLessThan(created + RETRY_WINDOW_MS);
    const [second, head] = await log(P, hook.id);
    expect(head).toMatchObject({ status: 'failed', attempts: firstMsg.length, lastStatus: 500, nextAttemptAt: null });
    // The message that waited behind it is tried once more, then given up too.
    expect(second).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 500 });
    clock.t += 30 * 24 * H;
    expect(await dispatcher.runOnce()).toBe(0);
  });

  it('writes nothing when the transaction that enqueued rolls back', async () => {
    const hook = await service.create(P, { url: 'https://example.com/hook' });
    await expect(store.transaction(async (tx) => {
      expect(await service.enqueue(tx, P, [change(1), change(2)])).toBe(2);
      throw new Error('the membership change failed');
    })).rejects.toThrow('the membership change failed');
    expect(await log(P, hook.id)).toEqual([]);
    expect(await dispatcher.runOnce()).toBe(0);
  });

  it('honours the segment and kind filters', async () => {
    const rxA = await receiver();
    const rxB = await receiver();
    rxA.status = rxB.status = 200;
    const a = await service.create(P, { url: rxA.url, segmentIds: ['s1'], kinds: ['segment.entered'] });
    const b = await service.create(P, { url: rxB.url, segmentIds: null });
    expect(b.kinds).toEqual(['segment.entered', 'segment.exited']);
    expect(await enqueue(P, [change(1), change(2, { kind: 'exited' }), change(3, { segmentId: 's2', segmentName: 'Churned' })])).toBe(4);
    expect((await log(P, a.id)).map((d) => [d.messageId, d.kind])).toEqual([[webhookMessageId(1, a.id), 'segment.entered']]);
    expect((await log(P, b.id)).map((d) => d.kind)).toEqual(['segment.entered', 'segment.exited', 'segment.entered']);
    await drain();
    expect(rxA.delivered()).toEqual([webhookMessageId(1, a.id)]);
    expect(rxB.delivered()).toEqual([1, 2, 3].map((h) => webhookMessageId(h, b.id)));
    expect((verify(b.secret, rxB.got[2]!) as { data: unknown }).data).toMatchObject({ segmentId: 's2', segmentName: 'Churned' });
    // A secret signs only its own webhook's messages.
    expect(() => verify(a.secret, rxB.got[0]!)).toThrow();
  });

  it('keeps projects apart', async () => {
    const mine = await service.create(P, { url: 'https://example.com/mine' });
    const theirs = await service.create('p2', { url: 'https://example.com/theirs', segmentIds: ['s1'] });
    await enqueue(P, [change(1)]);
    await enqueue('p2', [change(2)]);
    expect((await service.list(P)).map((w) => w.id)).toEqual([mine.id]);
    expect((await log(P, mine.id)).map((d) => d.messageId)).toEqual([webhookMessageId(1, mine.id)]);
    expect((await log('p2', theirs.id)).map((d) => d.messageId)).toEqual([webhookMessageId(2, theirs.id)]);
    for (const op of [() => service.get(P, theirs.id), () => service.deliveries(P, theirs.id, 10, null), () => service.delete(P, theirs.id)]) {
      await expect(op()).rejects.toMatchObject({ code: 'NOT_FOUND' });
    }
    expect((await service.get('p2', theirs.id)).url).toBe('https://example.com/theirs');
    // Segment ids are checked in the webhook's own project.
    await expect(service.create('p2', { url: 'https://example.com/x', segmentIds: ['s2'] })).rejects.toMatchObject({ issues: [{ path: '/segmentIds/0' }] });
  });

  it('rejects bad input, naming the field', async () => {
    const issues = async (input: Parameters<WebhookService['create']>[1]) => {
      const err = await service.create(P, input).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('VALIDATION_FAILED');
      return (err as AppError).issues.map((i) => i.path);
    };
    expect(await issues({ url: 'ftp://example.com/x' })).toEqual(['/url']);
    expect(await issues({ url: '/relative/path' })).toEqual(['/url']);
    expect(await issues({ url: 'https://example.com', kinds: ['segment.entered', 'segment.updated'] })).toEqual(['/kinds/1']);
    expect(await issues({ url: 'https://example.com', kinds: [] })).toEqual(['/kinds']);
    expect(await issues({ url: 'https://example.com', segmentIds: ['s1', 'nope'] })).toEqual(['/segmentIds/1']);
    expect(await issues({ url: 'https://example.com', segmentIds: [] })).toEqual(['/segmentIds']);
    expect(await service.list(P)).toEqual([]);
  });

  it('enqueues for webhooks created since the last enqueue, and not for deleted ones (whose outbox goes with them)', async () => {
    expect(await enqueue(P, [change(1)])).toBe(0);
    const hook = await service.create(P, { url: 'https://example.com/hook' });
    expect(await enqueue(P, [change(2)])).toBe(1);
    const other = await service.create(P, { url: 'https://example.com/other' });
    expect(await enqueue(P, [change(3)])).toBe(2);
    await service.delete(P, hook.id);
    await expect(service.get(P, hook.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(service.delete(P, hook.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await enqueue(P, [change(4)])).toBe(1);
    expect(await store.db.selectFrom('webhook_deliveries').select('webhook_id').where('webhook_id', '=', hook.id).execute()).toEqual([]);
    expect((await log(P, other.id)).map((d) => d.messageId)).toEqual([4, 3].map((h) => webhookMessageId(h, other.id)));
    expect((await service.list(P)).map((w) => [w.id, 'secret' in w])).toEqual([[other.id, false]]);
  });

  it('pages the delivery log newest first by cursor', async () => {
    const hook = await service.create(P, { url: 'https://example.com/hook' });
    await enqueue(P, [1, 2, 3, 4, 5].map((h) => change(h)));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<WebhookService['deliveries']>> = await service.deliveries(P, hook.id, 2, cursor);
      expect(page.deliveries.length).toBeLessThanOrEqual(2);
      seen.push(...page.deliveries.map((d) => d.messageId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([5, 4, 3, 2, 1].map((h) => webhookMessageId(h, hook.id)));
    await expect(service.deliveries(P, hook.id, 2, 'not a cursor!')).rejects.toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ path: '/cursor' }] });
  });

  it('start() delivers in the background and stop() waits for the run in flight', async () => {
    const rx = await receiver();
    rx.status = 200;
    const hook = await service.create(P, { url: rx.url });
    await enqueue(P, [change(1), change(2)]);
    dispatcher.start(10);
    await vi.waitFor(() => expect(rx.delivered()).toHaveLength(2), { timeout: 10_000, interval: 20 });
    await dispatcher.stop();
    expect((await log(P, hook.id)).map((d) => d.status)).toEqual(['delivered', 'delivered']);
    await enqueue(P, [change(3)]);
    await new Promise((r) => setTimeout(r, 50));
    expect(rx.delivered()).toHaveLength(2);
  });
});

describe('retryDelay', () => {
  it('grows along the schedule, then stays at 8 hours', () => {
    const mid = () => 0.5;
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 50].map((a) => retryDelay(a, mid))).toEqual([
      5_000, 30_000, 120_000, 600_000, 1_800_000, H, 2 * H, 4 * H, 8 * H, 8 * H, 8 * H,
    ]);
    expect(RETRY_SCHEDULE_MS).toHaveLength(9);
  });

  it('jitters by at most 20% either way', () => {
    for (let a = 1; a <= 12; a++) {
      const base = retryDelay(a, () => 0.5);
      expect(retryDelay(a, () => 0)).toBe(Math.round(base * 0.8));
      expect(retryDelay(a, () => 0.999999)).toBeLessThanOrEqual(Math.round(base * 1.2));
      expect(retryDelay(a, () => 0.999999)).toBeGreaterThan(base * 1.19);
    }
  });

  it('adds up to more than 24 hours, so the window, not the schedule, ends the retries', () => {
    let total = 0;
    for (let a = 1; a <= 11; a++) total += retryDelay(a, () => 0);
    expect(total).toBeGreaterThan(RETRY_WINDOW_MS);
  });
});
