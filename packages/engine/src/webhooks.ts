import { Webhook } from 'standardwebhooks';
import { AppError, type Issue, isoTime as iso } from '@strata/core';
import { WebhookStore, type DueDelivery, type SqlStore, type WebhookRow } from '@strata/store';
import type { Clock } from './clock.ts';
import { newId, newSigningSecret } from './ids.ts';
import { ProjectCache } from './project-cache.ts';
import { OutboxDispatcher, deliveriesPage, deliveryView, post, type DeliveryView, type Outcome, type OutboxDispatcherOptions } from './outbox.ts';

export { RETRY_SCHEDULE_MS, RETRY_WINDOW_MS, retryDelay, type DeliveryView } from './outbox.ts';

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

/** A webhook with its signing secret (`whsec_…`), as create and rotate answer (once each). */
export interface WebhookWithSecret extends WebhookView {
  readonly secret: string;
}


/** A signing secret in the Standard Webhooks format: `whsec_` and base64 of 24 random bytes. */

const invalid = (message: string, issues: readonly Issue[]) => new AppError({ code: 'VALIDATION_FAILED', message, issues });

/** The Standard Webhooks body of one change: `{type, timestamp, data}`. */
export function webhookPayload(c: WebhookChange): string {
  return JSON.stringify({
    type: `segment.${c.kind}`,
    timestamp: iso(c.at),
    data: { segmentId: c.segmentId, segmentName: c.segmentName, userId: c.userId, anonymousId: c.anonymousId, reason: c.reason, at: iso(c.at) },
  });
}

/** The kind (and payload `type`) of a test message, sent on request to check an endpoint. */
export const WEBHOOK_TEST_KIND = 'webhook.test';

/** The Standard Webhooks body of a test message: no membership change, just who sent it and when. */
export function webhookTestPayload(webhookId: string, at: number): string {
  return JSON.stringify({
    type: WEBHOOK_TEST_KIND,
    timestamp: iso(at),
    data: { webhookId, message: 'A test message from Strata: this endpoint receives its webhook and can verify the signature.', at: iso(at) },
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
  private readonly hooks = new ProjectCache<WebhookRow>();

  constructor(
    private readonly store: SqlStore,
    private readonly clock: Clock,
  ) {}

  /** Forgets the project's webhooks read for the outbox (changed here, or on another process: its definitions counter moved). */
  forget(projectId: string): void {
    this.hooks.invalidate(projectId);
  }

  /**
   * Runs a change of the project's webhooks in one transaction that also moves its definitions
   * counter, so that processes writing the outbox elsewhere (workers) forget their copies before
   * their next transaction (definition-follower.ts); then forgets this process's.
   */
  private async change<T>(projectId: string, fn: (hooks: WebhookStore) => Promise<T>): Promise<T> {
    try {
      return await this.store.transaction(async (tx) => {
        const out = await fn(new WebhookStore(tx));
        await tx.bumpDefinitions(projectId);
        return out;
      });
    } finally {
      this.forget(projectId);
    }
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

    const row: WebhookRow = { id: newId('whk'), projectId, url: url!.href, secret: newSigningSecret(), segmentIds, kinds, createdAt: this.clock.now() };
    await this.change(projectId, (hooks) => hooks.insertWebhook(row));
    return this.withSecret(row);
  }

  async list(projectId: string): Promise<WebhookView[]> {
    return (await new WebhookStore(this.store).listWebhooks(projectId)).map((w) => this.view(w));
  }

  /** A webhook without its secret: the secret is shown once, by create (or rotate). */
  async get(projectId: string, id: string): Promise<WebhookView> {
    return this.view(await this.require(projectId, id));
  }

  /**
   * Gives a webhook a new signing secret, shown in this answer only. Every attempt from now on,
   * of pending messages too, is signed with it: the receiver must switch at the same time.
   */
  async rotateSecret(projectId: string, id: string): Promise<WebhookWithSecret> {
    const secret = newSigningSecret();
    if (!(await this.change(projectId, (hooks) => hooks.setSecret(projectId, id, secret)))) throw new AppError({ code: 'NOT_FOUND', message: `no webhook with id "${id}"` });
    return this.withSecret(await this.require(projectId, id));
  }

  /**
   * Puts a test message (kind `webhook.test`) in the webhook's outbox: the dispatcher signs and
   * sends it like any other, after the messages written before it, and it shows in the log.
   */
  async sendTest(projectId: string, id: string): Promise<DeliveryView> {
    await this.require(projectId, id);
    const now = this.clock.now();
    const messageId = newId('msg_test');
    const store = new WebhookStore(this.store);
    await store.insertDeliveries([{ projectId, webhookId: id, messageId, kind: WEBHOOK_TEST_KIND, payload: webhookTestPayload(id, now), createdAt: now }]);
    const row = (await store.listDeliveries(projectId, id, 50, null)).find((d) => d.messageId === messageId);
    if (!row) throw new AppError({ code: 'NOT_FOUND', message: `the webhook "${id}" was deleted meanwhile` });
    return deliveryView(row);
  }

  /** Deletes a webhook and its outbox: pending messages are not sent, and its log goes with it. */
  async delete(projectId: string, id: string): Promise<void> {
    const deleted = await this.change(projectId, (hooks) => hooks.deleteWebhook(projectId, id));
    if (!deleted) throw new AppError({ code: 'NOT_FOUND', message: `no webhook with id "${id}"` });
  }

  /** A webhook's delivery log, newest first, by an opaque cursor. */
  async deliveries(projectId: string, webhookId: string, limit: number, cursor: string | null): Promise<{ deliveries: DeliveryView[]; nextCursor: string | null }> {
    await this.require(projectId, webhookId);
    return deliveriesPage(this.store, projectId, webhookId, limit, cursor);
  }

  private hooksOf(tx: SqlStore, projectId: string): Promise<readonly WebhookRow[]> {
    return this.hooks.get(projectId, () => new WebhookStore(tx).listWebhooks(projectId));
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

export type WebhookDispatcherOptions = OutboxDispatcherOptions;

/**
 * Sends the webhook outbox (see OutboxDispatcher for order and retries): one message per
 * request, signed with Standard Webhooks.
 */
export class WebhookDispatcher extends OutboxDispatcher<DueDelivery> {
  constructor(store: SqlStore, clock: Clock, opts: WebhookDispatcherOptions = {}) {
    super(store, clock, opts, { batchSize: 200, perWebhook: 50, what: 'webhook' });
  }

  protected due(now: number): Promise<DueDelivery[]> {
    return new WebhookStore(this.store).dueDeliveries(now, this.batchSize, this.perWebhook);
  }

  protected batches(rows: readonly DueDelivery[]): DueDelivery[][] {
    return rows.map((r) => [r]);
  }

  protected send([row]: readonly DueDelivery[]): Promise<Outcome> {
    const ts = new Date(this.clock.now());
    let signature: string;
    try {
      signature = new Webhook(row!.secret).sign(row!.messageId, ts, row!.payload);
    } catch (err) {
      return Promise.resolve({ ok: false, status: null, error: (err as Error).message ?? String(err) });
    }
    return post(this.fetch, row!.url, {
      'user-agent': 'Strata-Webhooks/0.1',
      'webhook-id': row!.messageId,
      'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)),
      'webhook-signature': signature,
    }, row!.payload, this.timeoutMs);
  }
}
