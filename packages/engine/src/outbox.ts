import { isoTime as iso } from '@strata/core';
import { WebhookStore, type DeliveryRow, type DueDelivery, type SqlStore } from '@strata/store';
import type { Clock } from './clock.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';

/**
 * The durable outbox both webhooks and destinations send through: retry schedule,
 * per-endpoint ordering, the dispatcher loop and the delivery log. Webhooks send one row
 * per request; destinations send batches of rows (OutboxDispatcher.batches).
 */

/** Gaps between attempts: the nth failure waits the nth entry (then the last one, again and again). */
export const RETRY_SCHEDULE_MS: readonly number[] = [
  5_000, 30_000, 2 * 60_000, 10 * 60_000, 30 * 60_000, 3_600_000, 2 * 3_600_000, 4 * 3_600_000, 8 * 3_600_000,
];

/** A message is retried for at least this long after it was written; then it is given up. */
export const RETRY_WINDOW_MS = 24 * 3_600_000;

/**
 * How long to wait after the `attempt`-th failed attempt (1 = the first): the schedule's
 * entry with ±20% jitter, so that retries of many messages do not arrive together.
 */
export function retryDelay(attempt: number, random: () => number): number {
  const base = RETRY_SCHEDULE_MS[Math.min(Math.max(attempt, 1), RETRY_SCHEDULE_MS.length) - 1]!;
  return Math.round(base * (0.8 + 0.4 * random()));
}


export interface DeliveryView {
  readonly id: number;
  readonly messageId: string;
  readonly kind: string;
  readonly status: 'pending' | 'delivered' | 'failed';
  readonly attempts: number;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly createdAt: string;
  /** When the next attempt is due; null once delivered or failed. */
  readonly nextAttemptAt: string | null;
  readonly deliveredAt: string | null;
  readonly payload: unknown;
}

export function deliveryView(d: DeliveryRow): DeliveryView {
  let payload: unknown;
  try {
    payload = JSON.parse(d.payload);
  } catch {
    payload = d.payload;
  }
  return {
    id: d.id, messageId: d.messageId, kind: d.kind, status: d.status, attempts: d.attempts, lastStatus: d.lastStatus, lastError: d.lastError,
    createdAt: iso(d.createdAt), nextAttemptAt: d.status === 'pending' ? iso(d.nextAttemptAt) : null, deliveredAt: d.deliveredAt === null ? null : iso(d.deliveredAt), payload,
  };
}

/** One owner's (webhook's or destination's) delivery log, newest first, by an opaque cursor. */
export async function deliveriesPage(store: SqlStore, projectId: string, ownerId: string, limit: number, cursor: string | null): Promise<{ deliveries: DeliveryView[]; nextCursor: string | null }> {
  const before = decodeCursor(cursor);
  const rows = await new WebhookStore(store).listDeliveries(projectId, ownerId, limit + 1, before);
  const page = rows.slice(0, limit);
  const next = rows.length > limit ? encodeCursor(page[page.length - 1]!.id) : null;
  return { deliveries: page.map(deliveryView), nextCursor: next };
}

export type Outcome = { readonly ok: true; readonly status: number } | { readonly ok: false; readonly status: number | null; readonly error: string };

/** POSTs a body and sums the answer up for the log; never throws. Redirects are not followed. */
export async function post(fetcher: typeof fetch, url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<Outcome> {
  try {
    const res = await fetcher(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    const text = await bodySnippet(res);
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
    const where = res.status >= 300 && res.status < 400 ? ` (redirects are not followed${res.headers.get('location') ? `: ${res.headers.get('location')}` : ''})` : '';
    return { ok: false, status: res.status, error: `HTTP ${res.status}${where}${text ? `: ${text}` : ''}` };
  } catch (err) {
    const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return { ok: false, status: null, error: `no answer within ${timeoutMs} ms` };
    if (e?.cause?.code) return { ok: false, status: null, error: `${e.cause.code}${e.cause.message ? `: ${e.cause.message}` : ''}` };
    return { ok: false, status: null, error: e?.cause?.message ?? e?.message ?? String(err) };
  }
}

/** A 4xx other than 408 and 429: the endpoint is up and refuses this one message. */
const isRefusal = (status: number | null) => status !== null && status >= 400 && status < 500 && status !== 408 && status !== 429;

/** The start of a response body, for the log; the rest is not read. */
async function bodySnippet(res: Response, max = 300): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // A body cut short is still an answer: the status decides.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, max).replace(/\s+/g, ' ').trim();
}

export interface OutboxDispatcherOptions {
  /** The fetch to send with (tests may wrap it). */
  readonly fetch?: typeof fetch;
  /** Rows taken per run (default 200). */
  readonly batchSize?: number;
  /** Rows of one endpoint taken per run (default 50): one endpoint's backlog does not hold up the others. */
  readonly perWebhook?: number;
  /** Endpoints sent to at once (default 8); each endpoint's messages go one after another, in order. */
  readonly concurrency?: number;
  /** Per-request timeout (default 10 s). */
  readonly timeoutMs?: number;
  /** Source of retry jitter, in [0, 1) (default Math.random). */
  readonly random?: () => number;
  /** Errors of a background run (the store unavailable, say); default: console.error. */
  readonly onError?: (err: unknown) => void;
}

/**
 * Sends an outbox: due rows are grouped per endpoint (lane) and sent in creation order,
 * in requests of one or more rows (`batches`); a 2xx marks the request's rows delivered,
 * anything else schedules a retry (retryDelay) until RETRY_WINDOW_MS has passed since the
 * row was written. The first failure (other than a 4xx refusal of that one request) stops
 * that endpoint's run and moves its later rows behind the failed one, so an endpoint that
 * is down gets one request per retry, not one per message. When it answers again, its
 * waiting rows are made due at once, to follow in order.
 */
export abstract class OutboxDispatcher<R extends DueDelivery> {
  /**
   * true: any failed request holds back the endpoint's later ones, a refusal (4xx) included —
   * for receivers that apply changes in order (destinations). false (webhooks): a refused
   * message is retried on its own while the others go on.
   */
  protected readonly strictOrder: boolean = false;

  protected readonly fetch: typeof fetch;
  protected readonly timeoutMs: number;
  protected readonly batchSize: number;
  protected readonly perWebhook: number;
  private readonly concurrency: number;
  private readonly random: () => number;
  private readonly onError: (err: unknown) => void;
  /** Endpoints whose last attempt succeeded in this process: a success of any other one pulls its waiting rows forward. */
  private readonly healthy = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private stopping = false;

  constructor(
    protected readonly store: SqlStore,
    protected readonly clock: Clock,
    opts: OutboxDispatcherOptions,
    defaults: { batchSize: number; perWebhook: number; what: string },
  ) {
    this.fetch = opts.fetch ?? globalThis.fetch;
    this.batchSize = opts.batchSize ?? defaults.batchSize;
    this.perWebhook = opts.perWebhook ?? defaults.perWebhook;
    this.concurrency = opts.concurrency ?? 8;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.random = opts.random ?? Math.random;
    this.onError = opts.onError ?? ((err) => console.error(`strata: ${defaults.what} dispatch failed:`, err));
  }

  /** Due rows, oldest first. */
  protected abstract due(now: number): Promise<R[]>;
  /** Splits one endpoint's due rows into requests, keeping their order. */
  protected abstract batches(rows: readonly R[]): R[][];
  /** Sends one request. */
  protected abstract send(rows: readonly R[]): Promise<Outcome>;

  /** Marks a request's rows delivered. */
  protected async delivered(ws: WebhookStore, rows: readonly R[], status: number, at: number): Promise<void> {
    for (const row of rows) await ws.markDelivered(row.id, { attempts: row.attempts + 1, lastStatus: status, at });
  }

  /** Sends what is due now; resolves with the number of requests made. Runs never overlap. */
  async runOnce(): Promise<number> {
    return (await this.serialized()).attempts;
  }

  private serialized(): Promise<{ attempts: number; delivered: number }> {
    const run = this.chain.then(() => this.run());
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Runs every `intervalMs`, and at once again after a run that delivered something. */
  start(intervalMs = 1000): void {
    if (this.started) return;
    this.started = true;
    const tick = async () => {
      this.timer = undefined;
      let again = false;
      try {
        again = (await this.serialized()).delivered > 0;
      } catch (err) {
        this.onError(err);
      }
      if (this.started) {
        this.timer = setTimeout(() => void tick(), again ? 0 : intervalMs);
        this.timer.unref();
      }
    };
    this.timer = setTimeout(() => void tick(), 0);
    this.timer.unref();
  }

  /** Stops the interval and waits for a run in flight (which sends nothing new once asked to stop). */
  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.stopping = true;
    try {
      await this.chain;
    } finally {
      this.stopping = false;
    }
  }

  private async run(): Promise<{ attempts: number; delivered: number }> {
    const ws = new WebhookStore(this.store);
    const due = await this.due(this.clock.now());
    const lanes = new Map<string, R[]>();
    for (const d of due) {
      const key = `${d.projectId}\u0000${d.webhookId}`;
      let lane = lanes.get(key);
      if (!lane) lanes.set(key, (lane = []));
      lane.push(d);
    }
    const totals = { attempts: 0, delivered: 0 };
    const queue = [...lanes.entries()];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await this.deliverLane(ws, next[0], this.batches(next[1]), totals);
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, queue.length) }, worker));
    return totals;
  }

  /** One endpoint's due requests, in order, until the first failure. */
  private async deliverLane(ws: WebhookStore, key: string, requests: readonly R[][], totals: { attempts: number; delivered: number }): Promise<void> {
    for (let i = 0; i < requests.length; i++) {
      if (this.stopping) return;
      const rows = requests[i]!;
      const first = rows[0]!;
      const outcome = await this.send(rows);
      const at = this.clock.now();
      totals.attempts++;
      // A 2xx, or a refusal of this one request: either way the endpoint is up.
      const up = outcome.ok || isRefusal(outcome.status);
      let pulled = 0;
      if (up && !this.healthy.has(key)) {
        this.healthy.add(key);
        // Older rows may be waiting for a retry: the next run sends them, with the rest, in order.
        pulled = await ws.pullForward(first.projectId, first.webhookId, at);
      }
      if (outcome.ok) {
        await this.delivered(ws, rows, outcome.status, at);
        totals.delivered += rows.length;
      } else {
        const next = await this.recordFailure(ws, rows, outcome, at);
        if (!up || this.strictOrder) {
          if (!up) this.healthy.delete(key);
          if (next !== null) await this.deferBehind(ws, requests.slice(i + 1).flat(), next, at, outcome.error);
          return;
        }
      }
      if (pulled > 0) return;
    }
  }

  /**
   * Records a failed attempt of a request's rows (one retry time for all, so they stay
   * together); returns when the first is tried next, or null when it was given up.
   */
  private async recordFailure(ws: WebhookStore, rows: readonly R[], o: Outcome & { ok: false }, at: number): Promise<number | null> {
    const delay = retryDelay(rows[0]!.attempts + 1, this.random);
    let firstNext: number | null = null;
    for (const [i, row] of rows.entries()) {
      const attempts = row.attempts + 1;
      const deadline = row.createdAt + RETRY_WINDOW_MS;
      let next: number | null = at + delay;
      // The last attempt is made at the deadline itself, so retries always span the whole window.
      if (next > deadline) next = at < deadline ? deadline : null;
      if (next === null) await ws.markFailed(row.id, { attempts, lastStatus: o.status, lastError: o.error });
      else await ws.reschedule(row.id, { attempts, lastStatus: o.status, lastError: o.error, nextAttemptAt: next });
      if (i === 0) firstNext = next;
    }
    return firstNext;
  }

  /** Moves rows not attempted behind a failed one; those past their own window are given up. */
  private async deferBehind(ws: WebhookStore, rest: readonly R[], next: number, at: number, error: string): Promise<void> {
    const byTime = new Map<number, number[]>();
    const expired: number[] = [];
    for (const r of rest) {
      const deadline = r.createdAt + RETRY_WINDOW_MS;
      const when = Math.min(next, deadline);
      if (when <= at) expired.push(r.id);
      else byTime.set(when, [...(byTime.get(when) ?? []), r.id]);
    }
    const note = `not sent yet: an earlier message to this endpoint failed (${error})`;
    for (const [when, ids] of byTime) await ws.defer(ids, when, note);
    if (expired.length) await ws.expire(expired, `given up after ${RETRY_WINDOW_MS / 3_600_000} h: earlier messages to this endpoint kept failing (${error})`);
  }
}
