import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { AppError, type Issue, isoTime as iso } from '@strata/core';
import { DestinationStore, WebhookStore, type DestinationKind, type DestinationRow, type DestinationSync, type DueDestinationDelivery, type NewDelivery, type SqlStore, type WebhookStore as WS } from '@strata/store';
import type { Clock } from './clock.ts';
import { newId, newSigningSecret } from './ids.ts';
import { ProjectCache } from './project-cache.ts';
import { OutboxDispatcher, deliveriesPage, post, type DeliveryView, type Outcome, type OutboxDispatcherOptions } from './outbox.ts';
import type { WebhookChange } from './webhooks.ts';

export const DESTINATION_KINDS = ['http', 'segment'] as const;
/** Members read (and enqueued) per transaction by a first sync. */
export const SYNC_PAGE = 5000;
const MAX_BATCH = 1000;

/** A membership change as destinations take it: the webhook change plus the profile, to look its segments up at send time. */
export interface DestinationChange extends WebhookChange {
  readonly profileId: number;
}

export interface DestinationInput {
  readonly name?: string;
  readonly kind?: string;
  readonly url?: string;
  readonly segmentIds?: readonly string[] | null;
  readonly writeKey?: string | null;
  readonly batchSize?: number;
}

/** A destination as listed: no secret, no write key. */
export interface DestinationView {
  readonly id: string;
  readonly name: string;
  readonly kind: DestinationKind;
  readonly url: string;
  readonly segmentIds: string[] | null;
  readonly batchSize: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly sync: SyncView | null;
}

/** The latest first sync or resync, as the API shows it. */
export interface SyncView {
  readonly status: 'running' | 'done';
  /** Entries enqueued so far. */
  readonly enqueued: number;
  readonly startedAt: string;
  readonly finishedAt: string | null;
}

/** As create and get answer: with the signing secret (http) and the write key (segment). */
export interface DestinationWithSecrets extends DestinationView {
  readonly secret: string;
  readonly writeKey: string | null;
}

/** What a change looks like in the outbox (and, without profileId, in an http destination's batch). */
interface StoredChange {
  readonly id: string;
  readonly segmentId: string;
  readonly segmentName: string;
  readonly userId: string | null;
  readonly anonymousId: string | null;
  readonly kind: 'entered' | 'exited';
  readonly at: string;
  readonly reason: string;
  readonly profileId: number;
}

const invalid = (issues: readonly Issue[]) =>
  new AppError({ code: 'VALIDATION_FAILED', message: `the destination is not valid: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues });

function changeRow(projectId: string, d: DestinationRow, messageId: string, c: Omit<StoredChange, 'id'>, now: number): NewDelivery {
  const payload: StoredChange = { id: messageId, ...c };
  return { projectId, webhookId: d.id, messageId, kind: `segment.${c.kind}`, payload: JSON.stringify(payload), createdAt: now };
}

/**
 * Destinations (docs/export.md): external systems kept in step with segment membership.
 * Their messages go through the webhooks' durable outbox: `enqueue` runs in the
 * membership transaction like WebhookService.enqueue, and DestinationDispatcher sends
 * them in batches with the same retries and ordering.
 */
export class DestinationService {
  private readonly cache = new ProjectCache<DestinationRow>();
  /** Syncs running in this process, by project and destination id. */
  private readonly running = new Map<string, Promise<void>>();
  private stopping = false;

  constructor(
    private readonly store: SqlStore,
    private readonly clock: Clock,
    private readonly options: {
      syncPage?: number;
      onError?: (err: unknown) => void;
      retryMs?: number;
      /**
       * Runs a sync page's transaction. The server passes the live engine's writer, so that no
       * membership change commits between a page's read of the members and its rows (on
       * PostgreSQL the page would otherwise read members a concurrent change is removing).
       */
      write?: <T>(fn: (tx: SqlStore) => Promise<T>) => Promise<T>;
    } = {},
  ) {}

  private view(d: DestinationRow): DestinationView {
    const s = d.sync;
    return {
      id: d.id, name: d.name, kind: d.kind, url: d.url, segmentIds: d.segmentIds ? [...d.segmentIds] : null, batchSize: d.batchSize, createdAt: iso(d.createdAt), updatedAt: iso(d.updatedAt),
      sync: s && { status: s.status, enqueued: s.enqueued, startedAt: iso(s.startedAt), finishedAt: s.finishedAt === null ? null : iso(s.finishedAt) },
    };
  }

  private withSecrets(d: DestinationRow): DestinationWithSecrets {
    return { ...this.view(d), secret: d.secret, writeKey: d.writeKey };
  }

  private async require(projectId: string, id: string): Promise<DestinationRow> {
    const d = await new DestinationStore(this.store).get(projectId, id);
    if (!d) throw new AppError({ code: 'NOT_FOUND', message: `no destination with id "${id}"` });
    return d;
  }

  /** The merged definition, or the faults of the input (paths as in the request body). */
  private async validate(projectId: string, input: DestinationInput, base: DestinationRow | null): Promise<Omit<DestinationRow, 'id' | 'projectId' | 'secret' | 'createdAt' | 'updatedAt' | 'sync'>> {
    const issues: Issue[] = [];
    const name = input.name ?? base?.name;
    if (typeof name !== 'string' || name.trim() === '' || name.length > 200) issues.push({ path: '/name', message: 'must be a non-empty string of at most 200 characters' });
    const kind = base ? base.kind : input.kind;
    if (base && input.kind !== undefined && input.kind !== base.kind) issues.push({ path: '/kind', message: 'cannot be changed; create another destination' });
    if (!(DESTINATION_KINDS as readonly unknown[]).includes(kind)) issues.push({ path: '/kind', message: `must be one of ${DESTINATION_KINDS.join(', ')}` });
    let url: URL | null = null;
    try {
      const raw = input.url ?? base?.url;
      url = typeof raw === 'string' && raw.length <= 2048 ? new URL(raw) : null;
    } catch {
      url = null;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) issues.push({ path: '/url', message: 'must be an absolute http:// or https:// URL' });
    const segmentIds = input.segmentIds === undefined ? (base?.segmentIds ?? null) : input.segmentIds === null ? null : [...new Set(input.segmentIds)];
    if (segmentIds && segmentIds.length === 0) issues.push({ path: '/segmentIds', message: 'must list at least one segment id, or be null for every segment' });
    if (input.segmentIds) {
      for (const [i, id] of input.segmentIds.entries()) {
        if (!(await this.store.getSegment(projectId, id))) issues.push({ path: `/segmentIds/${i}`, message: `no segment with id "${id}"` });
      }
    }
    const writeKey = input.writeKey === undefined ? (base?.writeKey ?? null) : input.writeKey;
    if (kind === 'segment' && (typeof writeKey !== 'string' || writeKey === '')) issues.push({ path: '/writeKey', message: 'a segment destination needs the write key of its source' });
    if (kind === 'http' && writeKey !== null && input.writeKey !== undefined) issues.push({ path: '/writeKey', message: 'only segment destinations take a write key' });
    const batchSize = input.batchSize ?? base?.batchSize ?? 100;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) issues.push({ path: '/batchSize', message: `must be an integer from 1 to ${MAX_BATCH}` });
    if (issues.length) throw invalid(issues);
    return { name: name!.trim(), kind: kind as DestinationKind, url: url!.href, segmentIds, writeKey, batchSize };
  }

  /** Creates a destination and starts its first sync (the current members of its segments), which runs in the background. */
  async create(projectId: string, input: DestinationInput): Promise<DestinationWithSecrets> {
    const now = this.clock.now();
    const fields = await this.validate(projectId, input, null);
    const row: DestinationRow = { id: newId('dst'), projectId, secret: newSigningSecret(), createdAt: now, updatedAt: now, ...fields, sync: await this.newSync(projectId, fields.segmentIds, now) };
    await new DestinationStore(this.store).insert(row);
    this.cache.invalidate(projectId);
    this.runSync(projectId, row.id);
    return this.withSecrets(row);
  }

  async list(projectId: string): Promise<DestinationView[]> {
    return (await new DestinationStore(this.store).list(projectId)).map((d) => this.view(d));
  }

  async get(projectId: string, id: string): Promise<DestinationWithSecrets> {
    return this.withSecrets(await this.require(projectId, id));
  }

  /** Changes name, url, segments, write key or batch size; the kind stays. New segments are not synced: POST …/resync does that. */
  async update(projectId: string, id: string, input: DestinationInput): Promise<DestinationWithSecrets> {
    const base = await this.require(projectId, id);
    const row: DestinationRow = { ...base, ...(await this.validate(projectId, input, base)), updatedAt: this.clock.now() };
    await new DestinationStore(this.store).update(row);
    this.cache.invalidate(projectId);
    return this.withSecrets(row);
  }

  async delete(projectId: string, id: string): Promise<void> {
    const deleted = await this.store.transaction((tx) => new DestinationStore(tx).delete(projectId, id));
    this.cache.invalidate(projectId);
    if (!deleted) throw new AppError({ code: 'NOT_FOUND', message: `no destination with id "${id}"` });
  }

  /** Starts sending the current members of the destination's segments again, as entries (409 while a sync runs). */
  async resync(projectId: string, id: string): Promise<{ sync: SyncView }> {
    const d = await this.require(projectId, id);
    const busy = () => new AppError({ code: 'CONFLICT', message: `destination "${id}" is still syncing; resync once it is done` });
    if (d.sync?.status === 'running') throw busy();
    const sync = await this.newSync(projectId, d.segmentIds, this.clock.now());
    // Only over the sync it read: of two resyncs at once, one starts and the other is refused.
    if (!(await new DestinationStore(this.store).setSync(projectId, id, sync, d.sync))) {
      if (!(await new DestinationStore(this.store).get(projectId, id))) throw new AppError({ code: 'NOT_FOUND', message: `no destination with id "${id}"` });
      throw busy();
    }
    this.runSync(projectId, id);
    return { sync: this.view({ ...d, sync }).sync! };
  }

  /** Resumes the syncs a stopped process left unfinished (at start, after the engine). */
  async resumeSyncs(): Promise<number> {
    const open = await new DestinationStore(this.store).unfinishedSyncs();
    for (const d of open) this.runSync(d.projectId, d.id);
    return open.length;
  }

  /** Lets running syncs finish their current page and stop (they resume at the next start). */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running.values());
  }

  /** Resolves when the destination's sync running in this process (if any) has finished or stopped. */
  async settled(projectId: string, id: string): Promise<void> {
    await this.running.get(`${projectId}\u0000${id}`);
  }

  async deliveries(projectId: string, id: string, limit: number, cursor: string | null): Promise<{ deliveries: DeliveryView[]; nextCursor: string | null }> {
    await this.require(projectId, id);
    return deliveriesPage(this.store, projectId, id, limit, cursor);
  }

  /** A sync of the given segments (null: every segment), fixed as they are now, from the start. */
  private async newSync(projectId: string, segmentIds: readonly string[] | null, now: number): Promise<DestinationSync> {
    const ids = segmentIds ?? (await this.store.listSegments(projectId)).map((s) => s.id);
    // Unique per sync, even for two in one millisecond: receivers de-duplicate on the change id.
    return { status: 'running', stamp: `${now.toString(36)}${randomBytes(4).toString('hex')}`, segmentIds: [...ids], index: 0, after: null, enqueued: 0, startedAt: now, finishedAt: null };
  }

  /** Runs a destination's sync in the background unless it already runs here; a failed page is tried again after a pause. */
  private runSync(projectId: string, id: string): void {
    const key = `${projectId}\u0000${id}`;
    if (this.running.has(key) || this.stopping) return;
    const job = (async () => {
      for (;;) {
        try {
          while (!this.stopping && (await this.syncPage(projectId, id)));
          return;
        } catch (err) {
          (this.options.onError ?? ((e) => console.error(`Strata: destination ${id} sync failed, retrying:`, e)))(err);
          if (this.stopping) return;
          await new Promise((r) => setTimeout(r, this.options.retryMs ?? 5000));
        }
      }
    })().finally(() => this.running.delete(key));
    this.running.set(key, job);
  }

  /**
   * One page of a sync: the next SYNC_PAGE members of the current segment as entries (reason
   * "sync"), read and enqueued with the sync's new position in one transaction, so memory
   * stays flat, a live change cannot slip between a member's read and its row, and a sync
   * stopped anywhere resumes where it was without sending anyone twice. False when there is
   * nothing left (done, or the destination is gone).
   */
  private async syncPage(projectId: string, id: string): Promise<boolean> {
    const pageSize = this.options.syncPage ?? SYNC_PAGE;
    const write = this.options.write ?? (<T>(fn: (tx: SqlStore) => Promise<T>) => this.store.transaction(fn));
    return write(async (tx) => {
      const destinations = new DestinationStore(tx);
      const d = await destinations.get(projectId, id);
      const s = d?.sync;
      if (!d || !s || s.status !== 'running') return false;
      const now = this.clock.now();
      const segmentId = s.segmentIds[s.index];
      // A segment deleted since the sync started, or no longer the destination's (PATCH), is skipped.
      const selected = segmentId !== undefined && (d.segmentIds === null || d.segmentIds.includes(segmentId));
      const segment = selected ? await tx.getSegment(projectId, segmentId) : null;
      const page = segment ? await tx.listMembers(projectId, segment.id, pageSize, s.after) : [];
      const more = page.length === pageSize;
      const index = more ? s.index : s.index + 1;
      const done = index >= s.segmentIds.length;
      const next: DestinationSync = {
        ...s, index, after: more ? page[page.length - 1]!.profileId : null, enqueued: s.enqueued + page.length,
        ...(done ? { status: 'done' as const, finishedAt: now } : {}),
      };
      // The page is claimed from the state it was read at, before its rows are written: when another
      // process (or a resync) moved the sync on, nothing is written and the loop reads the sync again.
      if (!(await destinations.setSync(projectId, id, next, s))) {
        const current = (await destinations.get(projectId, id))?.sync;
        // Unchanged yet not claimable would loop for ever: fail the page (tried again after a pause).
        if (current && JSON.stringify(current) === JSON.stringify(s)) throw new Error(`destination ${id}: the sync's position could not be saved`);
        return true;
      }
      await new WebhookStore(tx).insertDeliveries(page.map((m) => changeRow(projectId, d, `sync_${s.stamp}_${m.profileId}_${segment!.id}_${d.id}`, {
        segmentId: segment!.id, segmentName: segment!.name, userId: m.userId, anonymousId: m.anonymousId, kind: 'entered', at: iso(now), reason: 'sync', profileId: m.profileId,
      }, now)));
      return !done;
    });
  }

  /**
   * Writes one outbox row per (matching destination, change) through `tx`, in the
   * transaction that records the changes. Returns the number of rows written.
   */
  async enqueue(tx: SqlStore, projectId: string, changes: readonly DestinationChange[]): Promise<number> {
    if (changes.length === 0) return 0;
    const dests = await this.cache.get(projectId, () => new DestinationStore(tx).list(projectId));
    if (dests.length === 0) return 0;
    const now = this.clock.now();
    const rows: NewDelivery[] = [];
    for (const c of changes) {
      for (const d of dests) {
        if (d.segmentIds !== null && !d.segmentIds.includes(c.segmentId)) continue;
        rows.push(changeRow(projectId, d, `msg_${c.historyId}_${d.id}`, {
          segmentId: c.segmentId, segmentName: c.segmentName, userId: c.userId, anonymousId: c.anonymousId, kind: c.kind, at: iso(c.at), reason: c.reason, profileId: c.profileId,
        }, now));
      }
    }
    await new WebhookStore(tx).insertDeliveries(rows);
    return rows.length;
  }
}

/** The Segment batch API body of a batch of changes (docs/export.md, "Segment destination"). */
export function segmentBatch(changes: readonly StoredChange[], segmentsOf: (profileId: number) => readonly string[], sentAt: string): object {
  const batch: object[] = [];
  const identified = new Set<number>();
  for (const c of changes) {
    const ids = { ...(c.userId !== null ? { userId: c.userId } : {}), ...(c.anonymousId !== null ? { anonymousId: c.anonymousId } : {}) };
    if (!identified.has(c.profileId)) {
      identified.add(c.profileId);
      batch.push({ type: 'identify', messageId: `${c.id}_identify`, ...ids, traits: { strata_segments: [...segmentsOf(c.profileId)] }, timestamp: c.at });
    }
    batch.push({
      type: 'track', messageId: c.id, ...ids, event: c.kind === 'entered' ? 'Segment Entered' : 'Segment Exited',
      properties: { segment_id: c.segmentId, segment_name: c.segmentName, reason: c.reason }, timestamp: c.at,
    });
  }
  return { batch, sentAt, context: { library: { name: 'strata', version: '0.1.0' } } };
}

/** The Segment batch endpoint under a destination's URL (an API base such as https://api.segment.io, or the full path). */
export const segmentBatchUrl = (url: string) => (/\/v1\/batch\/?$/.test(new URL(url).pathname) ? url : new URL('v1/batch', url.endsWith('/') ? url : `${url}/`).href);

/**
 * Sends destinations' outbox rows: each destination's due rows, in order, in requests of
 * its batchSize (OutboxDispatcher does order, retries and the log).
 */
export class DestinationDispatcher extends OutboxDispatcher<DueDestinationDelivery> {
  /** A destination mirrors membership: a later exit must never overtake an entry it refused. */
  protected override readonly strictOrder = true;

  constructor(store: SqlStore, clock: Clock, opts: OutboxDispatcherOptions = {}) {
    super(store, clock, opts, { batchSize: 5000, perWebhook: 2000, what: 'destination' });
  }

  protected due(now: number): Promise<DueDestinationDelivery[]> {
    return new DestinationStore(this.store).due(now, this.batchSize, this.perWebhook);
  }

  protected batches(rows: readonly DueDestinationDelivery[]): DueDestinationDelivery[][] {
    const out: DueDestinationDelivery[][] = [];
    const size = Math.max(1, rows[0]?.batchSize ?? 100);
    for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
    return out;
  }

  protected override async delivered(_ws: WS, rows: readonly DueDestinationDelivery[], status: number, at: number): Promise<void> {
    await new DestinationStore(this.store).markDelivered(rows.map((r) => r.id), status, at);
  }

  protected async send(rows: readonly DueDestinationDelivery[]): Promise<Outcome> {
    const first = rows[0]!;
    const changes = rows.map((r) => JSON.parse(r.payload) as StoredChange);
    const now = new Date(this.clock.now());
    if (first.destinationKind === 'segment') {
      const store = new DestinationStore(this.store);
      const selected = (await store.get(first.projectId, first.webhookId))?.segmentIds ?? null;
      const names = await store.segmentNamesOf(first.projectId, changes.map((c) => c.profileId), selected);
      const body = JSON.stringify(segmentBatch(changes, (id) => names.get(id) ?? [], now.toISOString()));
      return post(this.fetch, segmentBatchUrl(first.url), {
        'user-agent': 'Strata-Destinations/0.1',
        authorization: `Basic ${Buffer.from(`${first.writeKey ?? ''}:`).toString('base64')}`,
      }, body, this.timeoutMs);
    }
    const body = JSON.stringify({ destination: first.webhookId, changes: changes.map(({ profileId: _p, ...c }) => c) });
    const messageId = `bat_${first.id}_${rows[rows.length - 1]!.id}`;
    return post(this.fetch, first.url, {
      'user-agent': 'Strata-Destinations/0.1',
      'webhook-id': messageId,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': new Webhook(first.secret).sign(messageId, now, body),
    }, body, this.timeoutMs);
  }
}
