import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database } from './schema.ts';
import type { SqlStore } from './sql-store.ts';
import type { DeliveryRow, DueDelivery } from './webhook-store.ts';
import { chunks, readJson } from './util.ts';

export type DestinationKind = 'http' | 'segment';

export interface DestinationRow {
  readonly id: string;
  readonly projectId: string;
  readonly name: string;
  readonly kind: DestinationKind;
  readonly url: string;
  /** Signs the http kind's requests (Standard Webhooks). */
  readonly secret: string;
  /** The segment kind's write key, sent as the Basic auth user. */
  readonly writeKey: string | null;
  /** null: every segment of the project. */
  readonly segmentIds: readonly string[] | null;
  readonly batchSize: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** The latest first sync or resync; null: none yet. */
  readonly sync: DestinationSync | null;
}

/**
 * A first sync (or resync) as a resumable job: the segments it sends (fixed at its start),
 * where it has got to (segment index, last profile id sent of it), and counts. Stored with
 * every page of entries it enqueues, in the same transaction.
 */
export interface DestinationSync {
  readonly status: 'running' | 'done';
  /** Makes the change ids of this sync unique (receivers de-duplicate on them). */
  readonly stamp: string;
  readonly segmentIds: readonly string[];
  readonly index: number;
  readonly after: number | null;
  readonly enqueued: number;
  readonly startedAt: number;
  readonly finishedAt: number | null;
}

/** A due outbox row of a destination, with what sending it needs. */
export interface DueDestinationDelivery extends DueDelivery {
  readonly destinationKind: DestinationKind;
  readonly destinationName: string;
  readonly writeKey: string | null;
  readonly batchSize: number;
}

/**
 * Destinations (outbound sync targets). Their outbox is the webhooks' one,
 * `webhook_deliveries`, with the destination id in `webhook_id`: WebhookStore's row
 * methods (insert, mark, reschedule, defer, pull forward, list) serve both; only the
 * due-row query differs, as it joins the owner's table.
 */
export class DestinationStore {
  private readonly db: Kysely<Database>;
  constructor(store: SqlStore) {
    this.db = store.db;
  }

  private toRow(r: Database['destinations']): DestinationRow {
    return {
      id: r.id, projectId: r.project_id, name: r.name, kind: r.kind as DestinationKind, url: r.url, secret: r.secret, writeKey: r.write_key,
      segmentIds: readJson<string[] | null>(r.segment_ids, null), batchSize: Number(r.batch_size), createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
      sync: readJson<DestinationSync | null>(r.sync, null),
    };
  }

  async insert(d: DestinationRow): Promise<void> {
    await this.db.insertInto('destinations').values({
      id: d.id, project_id: d.projectId, name: d.name, kind: d.kind, url: d.url, secret: d.secret, write_key: d.writeKey,
      segment_ids: d.segmentIds === null ? null : JSON.stringify(d.segmentIds), batch_size: d.batchSize, created_at: d.createdAt, updated_at: d.updatedAt,
      sync: d.sync === null ? null : JSON.stringify(d.sync),
    }).execute();
  }

  /**
   * Records a sync's progress; false when the destination is gone or, with `expected` (null:
   * none yet), when its sync is no longer that one (another process moved it on, or a resync
   * replaced it).
   */
  async setSync(projectId: string, id: string, sync: DestinationSync, expected?: DestinationSync | null): Promise<boolean> {
    let q = this.db.updateTable('destinations').set({ sync: JSON.stringify(sync) }).where('project_id', '=', projectId).where('id', '=', id);
    if (expected === null) q = q.where('sync', 'is', null);
    else if (expected) q = q.where('sync', '=', JSON.stringify(expected));
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Destinations of every project whose sync has not finished (to resume at start). */
  async unfinishedSyncs(): Promise<DestinationRow[]> {
    const rows = await this.db.selectFrom('destinations').selectAll().where('sync', 'is not', null).orderBy('project_id').orderBy('created_at').execute();
    return rows.map((r) => this.toRow(r)).filter((d) => d.sync?.status === 'running');
  }

  async update(d: DestinationRow): Promise<void> {
    await this.db.updateTable('destinations').set({
      name: d.name, url: d.url, write_key: d.writeKey, segment_ids: d.segmentIds === null ? null : JSON.stringify(d.segmentIds),
      batch_size: d.batchSize, updated_at: d.updatedAt,
    }).where('project_id', '=', d.projectId).where('id', '=', d.id).execute();
  }

  async list(projectId: string): Promise<DestinationRow[]> {
    const rows = await this.db.selectFrom('destinations').selectAll().where('project_id', '=', projectId).orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => this.toRow(r));
  }

  async get(projectId: string, id: string): Promise<DestinationRow | null> {
    const r = await this.db.selectFrom('destinations').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return r ? this.toRow(r) : null;
  }

  /** Deletes a destination with its outbox and log. False when there was none. */
  async delete(projectId: string, id: string): Promise<boolean> {
    await this.db.deleteFrom('webhook_deliveries').where('project_id', '=', projectId).where('webhook_id', '=', id).execute();
    const r = await this.db.deleteFrom('destinations').where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Pending destination rows due at `now`, oldest first, at most `perDestination` of any one. */
  async due(now: number, limit: number, perDestination: number): Promise<DueDestinationDelivery[]> {
    const rows = await this.db
      .selectFrom((eb) => eb.selectFrom('webhook_deliveries as d')
        .innerJoin('destinations as t', (j) => j.onRef('t.project_id', '=', 'd.project_id').onRef('t.id', '=', 'd.webhook_id'))
        .selectAll('d')
        .select(['t.url', 't.secret', 't.kind as destination_kind', 't.name as destination_name', 't.write_key', 't.batch_size'])
        .select((e) => e.fn.agg<number>('row_number').over((o) => o.partitionBy(['d.project_id', 'd.webhook_id']).orderBy('d.id')).as('rn'))
        .where('d.status', '=', 'pending')
        .where('d.next_attempt_at', '<=', now)
        .as('due'))
      .selectAll()
      .where('rn', '<=', perDestination)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      ...deliveryOf(r), url: r.url, secret: r.secret, destinationKind: r.destination_kind as DestinationKind, destinationName: r.destination_name,
      writeKey: r.write_key, batchSize: Number(r.batch_size),
    }));
  }

  /** The names of the segments each profile is in now, limited to `segmentIds` when given. */
  async segmentNamesOf(projectId: string, profileIds: readonly number[], segmentIds: readonly string[] | null): Promise<Map<number, string[]>> {
    const out = new Map<number, string[]>();
    for (const c of chunks([...new Set(profileIds)])) {
      let q = this.db.selectFrom('memberships as m').innerJoin('segments as s', (j) => j.onRef('s.id', '=', 'm.segment_id').onRef('s.project_id', '=', 'm.project_id'))
        .select(['m.profile_id', 's.name']).where('m.project_id', '=', projectId).where('m.profile_id', 'in', c);
      if (segmentIds) q = q.where('m.segment_id', 'in', segmentIds.length ? [...segmentIds] : ['']);
      for (const r of await q.orderBy('s.name').execute()) {
        const id = Number(r.profile_id);
        out.set(id, [...(out.get(id) ?? []), r.name]);
      }
    }
    return out;
  }

  /** Marks sent rows delivered, in one statement. */
  async markDelivered(ids: readonly number[], lastStatus: number, at: number): Promise<void> {
    for (const c of chunks(ids)) {
      await this.db.updateTable('webhook_deliveries').set({ status: 'delivered', attempts: sql<number>`attempts + 1`, last_status: lastStatus, last_error: null, delivered_at: at })
        .where('id', 'in', c).where('status', '=', 'pending').execute();
    }
  }
}

function deliveryOf(r: Selectable<Database['webhook_deliveries']>): DeliveryRow {
  return {
    id: Number(r.id), projectId: r.project_id, webhookId: r.webhook_id, messageId: r.message_id, kind: r.kind, payload: r.payload,
    createdAt: Number(r.created_at), nextAttemptAt: Number(r.next_attempt_at), attempts: Number(r.attempts), status: r.status,
    lastStatus: r.last_status === null ? null : Number(r.last_status), lastError: r.last_error,
    deliveredAt: r.delivered_at === null ? null : Number(r.delivered_at),
  };
}
