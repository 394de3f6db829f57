import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database } from './schema.ts';
import type { SqlStore } from './sql-store.ts';
import { chunks, readJson } from './util.ts';



export interface WebhookRow {
  readonly id: string;
  readonly projectId: string;
  readonly url: string;
  readonly secret: string;
  /** null: every segment of the project. */
  readonly segmentIds: readonly string[] | null;
  readonly kinds: readonly string[];
  readonly createdAt: number;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One outbox row: a message for one webhook, and the state of its delivery. */
export interface DeliveryRow {
  readonly id: number;
  readonly projectId: string;
  readonly webhookId: string;
  readonly messageId: string;
  readonly kind: string;
  /** The JSON body, exactly as it is signed and sent. */
  readonly payload: string;
  readonly createdAt: number;
  readonly nextAttemptAt: number;
  readonly attempts: number;
  readonly status: DeliveryStatus;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly deliveredAt: number | null;
}

/** A due row with what sending it needs. */
export interface DueDelivery extends DeliveryRow {
  readonly url: string;
  readonly secret: string;
}

export type NewDelivery = Pick<DeliveryRow, 'projectId' | 'webhookId' | 'messageId' | 'kind' | 'payload' | 'createdAt'>;

type DeliveryRecord = Selectable<Database['webhook_deliveries']>;

/**
 * Webhooks and their outbox (`webhook_deliveries`). Construct it over a store or over a
 * transaction's store (`new WebhookStore(tx)`): it queries `store.db`, so outbox rows
 * written inside `store.transaction` commit or roll back with the change they report.
 * Every query of the admin side is keyed by project; only the dispatcher's due-row query
 * spans projects.
 */
export class WebhookStore {
  private readonly db: Kysely<Database>;
  constructor(store: SqlStore) {
    this.db = store.db;
  }

  // ---------------------------------------------------------------- webhooks

  private toWebhook(r: Database['webhooks']): WebhookRow {
    return {
      id: r.id, projectId: r.project_id, url: r.url, secret: r.secret,
      segmentIds: readJson<string[] | null>(r.segment_ids, null), kinds: readJson<string[]>(r.kinds, []), createdAt: Number(r.created_at),
    };
  }

  async insertWebhook(w: WebhookRow): Promise<void> {
    await this.db.insertInto('webhooks').values({
      id: w.id, project_id: w.projectId, url: w.url, secret: w.secret,
      segment_ids: w.segmentIds === null ? null : JSON.stringify(w.segmentIds), kinds: JSON.stringify(w.kinds), created_at: w.createdAt,
    }).execute();
  }

  async listWebhooks(projectId: string): Promise<WebhookRow[]> {
    const rows = await this.db.selectFrom('webhooks').selectAll().where('project_id', '=', projectId).orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => this.toWebhook(r));
  }

  async getWebhook(projectId: string, id: string): Promise<WebhookRow | null> {
    const r = await this.db.selectFrom('webhooks').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return r ? this.toWebhook(r) : null;
  }

  /** Replaces a webhook's signing secret; false when there is no such webhook. */
  async setSecret(projectId: string, id: string, secret: string): Promise<boolean> {
    const r = await this.db.updateTable('webhooks').set({ secret }).where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * Deletes a webhook with its whole outbox, pending rows and log alike: nothing more is
   * sent to it, and its log was reachable only through it. False when there was none.
   */
  async deleteWebhook(projectId: string, id: string): Promise<boolean> {
    await this.db.deleteFrom('webhook_deliveries').where('project_id', '=', projectId).where('webhook_id', '=', id).execute();
    const r = await this.db.deleteFrom('webhooks').where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  // ---------------------------------------------------------------- outbox

  private toDelivery(r: DeliveryRecord): DeliveryRow {
    return {
      id: Number(r.id), projectId: r.project_id, webhookId: r.webhook_id, messageId: r.message_id, kind: r.kind, payload: r.payload,
      createdAt: Number(r.created_at), nextAttemptAt: Number(r.next_attempt_at), attempts: Number(r.attempts), status: r.status,
      lastStatus: r.last_status === null ? null : Number(r.last_status), lastError: r.last_error,
      deliveredAt: r.delivered_at === null ? null : Number(r.delivered_at),
    };
  }

  /** Adds pending rows, due at once (in the caller's transaction when the store is one). */
  async insertDeliveries(rows: readonly NewDelivery[]): Promise<void> {
    for (const c of chunks(rows)) {
      await this.db.insertInto('webhook_deliveries').values(c.map((d) => ({
        project_id: d.projectId, webhook_id: d.webhookId, message_id: d.messageId, kind: d.kind, payload: d.payload,
        created_at: d.createdAt, next_attempt_at: d.createdAt, attempts: 0, status: 'pending' as const,
      }))).execute();
    }
  }

  /**
   * Pending rows due at `now`, across projects, oldest first: at most `perWebhook` of any
   * one webhook, so that one endpoint's backlog does not hold up the others.
   */
  async dueDeliveries(now: number, limit: number, perWebhook: number): Promise<DueDelivery[]> {
    const rows = await this.db
      .selectFrom((eb) => eb.selectFrom('webhook_deliveries as d')
        .innerJoin('webhooks as w', (j) => j.onRef('w.project_id', '=', 'd.project_id').onRef('w.id', '=', 'd.webhook_id'))
        .selectAll('d')
        .select(['w.url', 'w.secret'])
        .select((e) => e.fn.agg<number>('row_number').over((o) => o.partitionBy(['d.project_id', 'd.webhook_id']).orderBy('d.id')).as('rn'))
        .where('d.status', '=', 'pending')
        .where('d.next_attempt_at', '<=', now)
        .as('due'))
      .selectAll()
      .where('rn', '<=', perWebhook)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ ...this.toDelivery(r), url: r.url, secret: r.secret }));
  }

  async markDelivered(id: number, a: { attempts: number; lastStatus: number; at: number }): Promise<void> {
    await this.db.updateTable('webhook_deliveries').set({
      status: 'delivered', attempts: a.attempts, last_status: a.lastStatus, last_error: null, delivered_at: a.at,
    }).where('id', '=', id).where('status', '=', 'pending').execute();
  }

  /** Records a failed attempt and when to try again. */
  async reschedule(id: number, a: { attempts: number; lastStatus: number | null; lastError: string; nextAttemptAt: number }): Promise<void> {
    await this.db.updateTable('webhook_deliveries').set({
      attempts: a.attempts, last_status: a.lastStatus, last_error: a.lastError, next_attempt_at: a.nextAttemptAt,
    }).where('id', '=', id).where('status', '=', 'pending').execute();
  }

  /** Gives a row up: no more attempts. */
  async markFailed(id: number, a: { attempts: number; lastStatus: number | null; lastError: string }): Promise<void> {
    await this.db.updateTable('webhook_deliveries').set({
      status: 'failed', attempts: a.attempts, last_status: a.lastStatus, last_error: a.lastError,
    }).where('id', '=', id).where('status', '=', 'pending').execute();
  }

  /** Moves rows that were not attempted to a later time, with a note why (attempts unchanged). */
  async defer(ids: readonly number[], nextAttemptAt: number, note: string): Promise<void> {
    for (const c of chunks(ids)) {
      await this.db.updateTable('webhook_deliveries').set({ next_attempt_at: nextAttemptAt, last_error: note })
        .where('id', 'in', c).where('status', '=', 'pending').execute();
    }
  }

  /** Gives up rows that were never attempted in time (attempts unchanged). */
  async expire(ids: readonly number[], note: string): Promise<void> {
    for (const c of chunks(ids)) {
      await this.db.updateTable('webhook_deliveries').set({ status: 'failed', last_error: note })
        .where('id', 'in', c).where('status', '=', 'pending').execute();
    }
  }

  /** Makes a webhook's pending rows due now (its endpoint answered again); the number moved. */
  async pullForward(projectId: string, webhookId: string, now: number): Promise<number> {
    const r = await this.db.updateTable('webhook_deliveries').set({ next_attempt_at: now })
      .where('status', '=', 'pending').where('next_attempt_at', '>', now)
      .where('project_id', '=', projectId).where('webhook_id', '=', webhookId).executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /**
   * The outbox backlog across projects: pending rows of webhooks and of destinations, and
   * when the oldest of each was written (null when none is pending).
   */
  async backlog(): Promise<Record<'webhook' | 'destination', { pending: number; oldestCreatedAt: number | null }>> {
    const rows = await this.db.selectFrom('webhook_deliveries as w')
      .leftJoin('destinations as d', (j) => j.onRef('d.project_id', '=', 'w.project_id').onRef('d.id', '=', 'w.webhook_id'))
      .select((eb) => [eb.fn.countAll().as('pending'), eb.fn.min('w.created_at').as('oldest'), eb.fn.max('d.id').as('destination')])
      .where('w.status', '=', 'pending')
      .groupBy(sql`d.id IS NULL`)
      .execute();
    const out: Record<'webhook' | 'destination', { pending: number; oldestCreatedAt: number | null }> = {
      webhook: { pending: 0, oldestCreatedAt: null }, destination: { pending: 0, oldestCreatedAt: null },
    };
    for (const r of rows) out[r.destination === null ? 'webhook' : 'destination'] = { pending: Number(r.pending), oldestCreatedAt: r.oldest === null ? null : Number(r.oldest) };
    return out;
  }

  /** A webhook's outbox, newest first, rows with id below `beforeId` when given. */
  async listDeliveries(projectId: string, webhookId: string, limit: number, beforeId: number | null): Promise<DeliveryRow[]> {
    let q = this.db.selectFrom('webhook_deliveries').selectAll().where('project_id', '=', projectId).where('webhook_id', '=', webhookId);
    if (beforeId !== null) q = q.where('id', '<', beforeId);
    const rows = await q.orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => this.toDelivery(r));
  }
}
