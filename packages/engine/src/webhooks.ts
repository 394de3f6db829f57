import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { AppError, type Issue } from '@strata/core';
import { WebhookStore, type DeliveryRow, type DueDelivery, type SqlStore, type WebhookRow } from '@strata/store';
import type { Clock } from './clock.ts';

/** The event kinds a webhook can ask for. */
export const WEBHOOK_KINDS = ['segment.entered', 'segment.exited'] as const;
export type WebhookKind = (typeof WEBHOOK_KINDS)[number];

/** One membership change, as the engine hands it over for delivery. */
export interface WebhookChange {
  /** The change's row in membership_history: with the webhook id it makes the message id. */
  readonly historyId: number;
  readonly segmentId: string;
  readonly segmentName: string;
  readonly userId: string | null;
  readonly anonymousId: string | null;
  readonly kind: 'entered' | 'exited';
  readonly at: number;
  readonly reason: string;
}

export interface WebhookInput {
  readonly url: string;
  /** null or absent: every segment. */
  readonly segmentIds?: readonly string[] | null;
  /** Default: every kind. */
  readonly kinds?: readonly string[];
}

/** A webhook as listed: the secret is left out. */
export interface WebhookView {
  readonly id: string;
  readonly url: string;
  readonly segmentIds: string[] | null;
  readonly kinds: string[];
  readonly createdAt: string;
}

/** A webhook with its signing secret (`whsec_…`), as create and get answer. */
export interface WebhookWithSecret extends WebhookView {
  readonly secret: string;
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

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

/** A signing secret in the Standard Webhooks format: `whsec_` and base64 of 24 random bytes. */
const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;
const newWebhookId = () => `whk_${randomBytes(8).toString('hex')}`;

const invalid = (message: string, issues: readonly Issue[]) => new AppError({ code: 'VALIDATION_FAILED', message, issues });

/** The Standard Webhooks body of one change: `{type, timestamp, data}`. */
export function webhookPayload(c: WebhookChange): string {
  return JSON.stringify({
    type: `segment.${c.kind}`,
    timestamp: iso(c.at),
    data: { segmentId: c.segmentId, segmentName: c.segmentName, userId: c.userId, anonymousId: c.anonymousId, reason: c.reason, at: iso(c.at) },
  });
}

/** The message id of one change for one webhook: the same on every retry, unique per (webhook, change). */
export const webhookMessageId = (historyId: number, webhookId: string) => `msg_${historyId}_${webhookId}`;

/**
 * Webhook definitions (the domain side of /api/webhooks) and the outbox writer the engine
 * calls with each membership change, inside the transaction that makes the change.
 */
export class WebhookService {
  /** Each project's webhooks, so that enqueue costs no query; dropped on create and delete. */
  private readonly cache = new Map<string, readonly WebhookRow[]>();
  /** Bumped on every change of a project's webhooks: a list read before a change is not cached after it. */
  private readonly generation = new Map<string, number>();

  constructor(
    private readonly store: SqlStore,
    private readonly clock: Clock,
  ) {}

  private invalidate(projectId: string): void {
    this.generation.set(projectId, (this.generation.get(projectId) ?? 0) + 1);
    this.cache.delete(projectId);
  }

  private view(w: WebhookRow): WebhookView {
    return { id: w.id, url: w.url, segmentIds: w.segmentIds ? [...w.segmentIds] : null, kinds: [...w.kinds], createdAt: iso(w.createdAt) };
  }

  private withSecret(w: WebhookRow): WebhookWithSecret {
    return { ...this.view(w), secret: w.secret };
  }

  private async require(projectId: string, id: string): Promise<WebhookRow> {
    const w = await new WebhookStore(this.store).getWebhook(projectId, id);
    if (!w) throw new AppError({ code: 'NOT_FOUND', message: `no webhook with id "${id}"` });
    return w;
  }

  async create(projectId: string, input: WebhookInput): Promise<WebhookWithSecret> {
    const issues: Issue[] = [];
    let url: URL | null = null;
    try {
      url = typeof input.url === 'string' && input.url.length <= 2048 ? new URL(input.url) : null;
    } catch {
      url = null;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      issues.push({ path: '/url', message: 'must be an absolute http:// or https:// URL' });
    }
    const kinds = [...new Set(input.kinds ?? WEBHOOK_KINDS)];
    if (kinds.length === 0) issues.push({ path: '/kinds', message: `must name at least one of ${WEBHOOK_KINDS.join(', ')}` });
    (input.kinds ?? []).forEach((k, i) => {
      if (!(WEBHOOK_KINDS as readonly string[]).includes(k)) issues.push({ path: `/kinds/${i}`, message: `unknown kind "${k}"; use ${WEBHOOK_KINDS.join(' or ')}` });
    });
    const segmentIds = input.segmentIds == null ? null : [...new Set(input.segmentIds)];
    if (segmentIds && segmentIds.length === 0) issues.push({ path: '/segmentIds', message: 'must list at least one segment id, or be null for every segment' });
    if (input.segmentIds) {
      for (const [i, id] of input.segmentIds.entries()) {
        if (!(await this.store.getSegment(projectId, id))) issues.push({ path: `/segmentIds/${i}`, message: `no segment with id "${id}"` });
      }
    }
    if (issues.length) throw invalid(`the webhook is not valid: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues);

    const row: WebhookRow = { id: newWebhookId(), projectId, url: url!.href, secret: newSecret(), segmentIds, kinds, createdAt: this.clock.now() };
    await new WebhookStore(this.store).insertWebhook(row);
    this.invalidate(projectId);
    return this.withSecret(row);
  }

  async list(projectId: string): Promise<WebhookView[]> {
    return (await new WebhookStore(this.store).listWebhooks(projectId)).map((w) => this.view(w));
  }

  async get(projectId: string, id: string): Promise<WebhookWithSecret> {
    return this.withSecret(await this.require(projectId, id));
  }

  /** Deletes a webhook and its outbox: pending messages are not sent, and its log goes with it. */
  async delete(projectId: string, id: string): Promise<void> {
    const deleted = await this.store.transaction((tx) => new WebhookStore(tx).deleteWebhook(projectId, id));
    this.invalidate(projectId);
    if (!deleted) throw new AppError({ code: 'NOT_FOUND', message: `no webhook with id "${id}"` });
  }

  /** A webhook's delivery log, newest first, by an opaque cursor. */
  async deliveries(projectId: string, webhookId: string, limit: number, cursor: string | null): Promise<{ deliveries: DeliveryView[]; nextCursor: string | null }> {
    await this.require(projectId, webhookId);
    let before: number | null = null;
    if (cursor !== null) {
      const decoded = /^[A-Za-z0-9_-]{1,40}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
      const n = /^\d{1,15}$/.test(decoded) ? Number(decoded) : Number.NaN;
      if (!Number.isSafeInteger(n)) throw invalid('cursor is not one this API returned', [{ path: '/cursor', message: 'invalid cursor' }]);
      before = n;
    }
    const rows = await new WebhookStore(this.store).listDeliveries(projectId, webhookId, limit + 1, before);
    const page = rows.slice(0, limit);
    const next = rows.length > limit ? Buffer.from(String(page[page.length - 1]!.id)).toString('base64url') : null;
    return { deliveries: page.map(deliveryView), nextCursor: next };
  }

  private async hooksOf(tx: SqlStore, projectId: string): Promise<readonly WebhookRow[]> {
    const hit = this.cache.get(projectId);
    if (hit) return hit;
    const gen = this.generation.get(projectId) ?? 0;
    const rows = await new WebhookStore(tx).listWebhooks(projectId);
    if ((this.generation.get(projectId) ?? 0) === gen) this.cache.set(projectId, rows);
    return rows;
  }

  /**
   * Writes one outbox row per (matching webhook, change) through `tx`, so the messages
   * commit or roll back with the changes they report. Returns the number of rows written.
   */
  async enqueue(tx: SqlStore, projectId: string, changes: readonly WebhookChange[]): Promise<number> {
    if (changes.length === 0) return 0;
    const hooks = await this.hooksOf(tx, projectId);
    if (hooks.length === 0) return 0;
    const now = this.clock.now();
    const rows = [];
    for (const c of changes) {
      const kind = `segment.${c.kind}`;
      let payload: string | undefined;
      for (const h of hooks) {
        if (!h.kinds.includes(kind) || (h.segmentIds !== null && !h.segmentIds.includes(c.segmentId))) continue;
        payload ??= webhookPayload(c);
        rows.push({ projectId, webhookId: h.id, messageId: webhookMessageId(c.historyId, h.id), kind, payload, createdAt: now });
      }
    }
    await new WebhookStore(tx).insertDeliveries(rows);
    return rows.length;
  }
}

function deliveryView(d: DeliveryRow): DeliveryView {
  let payload: unknown;
  try {
    payload = JSON.parse(d.payload);
  } catch {
    payload = d.payload;
  }
  return {
    id: d.id, messageId: d.messageId, kind: d.kind, status: d.status, attempts: d.attempts, lastStatus: d.lastStatus, lastError: d.lastError,
    createdAt: iso(d.createdAt), nextAttemptAt: d.status === 'pending' ? iso(d.nextAttemptAt) : null, deliveredAt: isoOrNull(d.deliveredAt), payload,
  };
}

export interface WebhookDispatcherOptions {
  /** The fetch to send with (tests may wrap it). */
  readonly fetch?: typeof fetch;
  /** Rows taken per run (default 200). */
  readonly batchSize?: number;
  /** Rows of one webhook taken per run (default 50): one endpoint's backlog does not hold up the others. */
  readonly perWebhook?: number;
  /** Webhooks sent to at once (default 8); each webhook's messages go one after another, in order. */
  readonly concurrency?: number;
  /** Per-request timeout (default 10 s). */
  readonly timeoutMs?: number;
  /** Source of retry jitter, in [0, 1) (default Math.random). */
  readonly random?: () => number;
  /** Errors of a background run (the store unavailable, say); default: console.error. */
  readonly onError?: (err: unknown) => void;
}

type Outcome = { readonly ok: true; readonly status: number } | { readonly ok: false; readonly status: number | null; readonly error: string };

/**
 * Sends the outbox: due rows are POSTed with Standard Webhooks signatures; a 2xx marks a
 * row delivered, anything else schedules a retry (retryDelay) until RETRY_WINDOW_MS has
 * passed since the row was written. Per webhook, messages go in creation order; the first
 * failure (other than a 4xx refusal of that one message) stops that webhook's run and moves
 * its later rows behind the failed one, so an endpoint that is down gets one request per
 * retry, not one per message. When it answers again, its waiting rows are made due at once,
 * to follow in order.
 */
export class WebhookDispatcher {
  private readonly fetch: typeof fetch;
  private readonly batchSize: number;
  private readonly perWebhook: number;
  private readonly concurrency: number;
  private readonly timeoutMs: number;
  private readonly random: () => number;
  private readonly onError: (err: unknown) => void;
  /** Webhooks whose last attempt succeeded in this process: a success of any other one pulls its waiting rows forward. */
  private readonly healthy = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private stopping = false;

  constructor(
    private readonly store: SqlStore,
    private readonly clock: Clock,
    opts: WebhookDispatcherOptions = {},
  ) {
    this.fetch = opts.fetch ?? globalThis.fetch;
    this.batchSize = opts.batchSize ?? 200;
    this.perWebhook = opts.perWebhook ?? 50;
    this.concurrency = opts.concurrency ?? 8;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.random = opts.random ?? Math.random;
    this.onError = opts.onError ?? ((err) => console.error('strata: webhook dispatch failed:', err));
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
    const due = await ws.dueDeliveries(this.clock.now(), this.batchSize, this.perWebhook);
    const lanes = new Map<string, DueDelivery[]>();
    for (const d of due) {
      const key = `${d.projectId}\u0000${d.webhookId}`;
      let lane = lanes.get(key);
      if (!lane) lanes.set(key, (lane = []));
      lane.push(d);
    }
    const totals = { attempts: 0, delivered: 0 };
    const queue = [...lanes.entries()];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await this.deliverLane(ws, next[0], next[1], totals);
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, queue.length) }, worker));
    return totals;
  }

  /** One webhook's due rows, in creation order, until the first failure. */
  private async deliverLane(ws: WebhookStore, key: string, rows: readonly DueDelivery[], totals: { attempts: number; delivered: number }): Promise<void> {
    for (let i = 0; i < rows.length; i++) {
      if (this.stopping) return;
      const row = rows[i]!;
      const outcome = await this.send(row);
      const at = this.clock.now();
      totals.attempts++;
      // A 2xx, or a refusal of this one message: either way the endpoint is up.
      const up = outcome.ok || isRefusal(outcome.status);
      let pulled = 0;
      if (up && !this.healthy.has(key)) {
        this.healthy.add(key);
        // Older rows may be waiting for a retry: the next run sends them, with the rest, in order.
        pulled = await ws.pullForward(row.projectId, row.webhookId, at);
      }
      if (outcome.ok) {
        await ws.markDelivered(row.id, { attempts: row.attempts + 1, lastStatus: outcome.status, at });
        totals.delivered++;
      } else {
        const next = await this.recordFailure(ws, row, outcome, at);
        if (!up) {
          this.healthy.delete(key);
          if (next !== null) await this.deferBehind(ws, rows.slice(i + 1), next, at, outcome.error);
          return;
        }
      }
      if (pulled > 0) return;
    }
  }

  /** Records a failed attempt; returns when the row is tried next, or null when it was given up. */
  private async recordFailure(ws: WebhookStore, row: DueDelivery, o: Outcome & { ok: false }, at: number): Promise<number | null> {
    const attempts = row.attempts + 1;
    const deadline = row.createdAt + RETRY_WINDOW_MS;
    let next: number | null = at + retryDelay(attempts, this.random);
    // The last attempt is made at the deadline itself, so retries always span the whole window.
    if (next > deadline) next = at < deadline ? deadline : null;
    if (next === null) await ws.markFailed(row.id, { attempts, lastStatus: o.status, lastError: o.error });
    else await ws.reschedule(row.id, { attempts, lastStatus: o.status, lastError: o.error, nextAttemptAt: next });
    return next;
  }

  /** Moves rows not attempted behind a failed one; those past their own window are given up. */
  private async deferBehind(ws: WebhookStore, rest: readonly DueDelivery[], next: number, at: number, error: string): Promise<void> {
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

  private async send(row: DueDelivery): Promise<Outcome> {
    const ts = new Date(this.clock.now());
    try {
      const signature = new Webhook(row.secret).sign(row.messageId, ts, row.payload);
      const res = await this.fetch(row.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Strata-Webhooks/0.1',
          'webhook-id': row.messageId,
          'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)),
          'webhook-signature': signature,
        },
        body: row.payload,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await bodySnippet(res);
      if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
      const where = res.status >= 300 && res.status < 400 ? ` (redirects are not followed${res.headers.get('location') ? `: ${res.headers.get('location')}` : ''})` : '';
      return { ok: false, status: res.status, error: `HTTP ${res.status}${where}${text ? `: ${text}` : ''}` };
    } catch (err) {
      return { ok: false, status: null, error: this.describe(err) };
    }
  }

  private describe(err: unknown): string {
    const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${this.timeoutMs} ms`;
    if (e?.cause?.code) return `${e.cause.code}${e.cause.message ? `: ${e.cause.message}` : ''}`;
    return e?.cause?.message ?? e?.message ?? String(err);
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
