import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { AppError, type Issue } from '@strata/core';
import { DestinationStore, WebhookStore, type DestinationKind, type DestinationRow, type DueDestinationDelivery, type NewDelivery, type SqlStore, type WebhookStore as WS } from '@strata/store';
import type { Clock } from './clock.ts';
import { OutboxDispatcher, ProjectCache, deliveriesPage, post, type DeliveryView, type Outcome, type OutboxDispatcherOptions } from './outbox.ts';
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

const iso = (ms: number) => new Date(ms).toISOString();
const newId = () => `dst_${randomBytes(8).toString('hex')}`;
const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;
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

  constructor(
    private readonly store: SqlStore,
    private readonly clock: Clock,
  ) {}

  private view(d: DestinationRow): DestinationView {
    return { id: d.id, name: d.name, kind: d.kind, url: d.url, segmentIds: d.segmentIds ? [...d.segmentIds] : null, batchSize: d.batchSize, createdAt: iso(d.createdAt), updatedAt: iso(d.updatedAt) };
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
  private async validate(projectId: string, input: DestinationInput, base: DestinationRow | null): Promise<Omit<DestinationRow, 'id' | 'projectId' | 'secret' | 'createdAt' | 'updatedAt'>> {
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

  /** Creates a destination and enqueues its first sync (the current members of its segments). */
  async create(projectId: string, input: DestinationInput): Promise<DestinationWithSecrets & { synced: number }> {
    const now = this.clock.now();
    const row: DestinationRow = { id: newId(), projectId, secret: newSecret(), createdAt: now, updatedAt: now, ...(await this.validate(projectId, input, null)) };
    await new DestinationStore(this.store).insert(row);
    this.cache.invalidate(projectId);
    const synced = await this.sync(row);
    return { ...this.withSecrets(row), synced };
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

  /** Enqueues the current members of the destination's segments again, as entries. */
  async resync(projectId: string, id: string): Promise<{ synced: number }> {
    return { synced: await this.sync(await this.require(projectId, id)) };
  }

  async deliveries(projectId: string, id: string, limit: number, cursor: string | null): Promise<{ deliveries: DeliveryView[]; nextCursor: string | null }> {
    await this.require(projectId, id);
    return deliveriesPage(this.store, projectId, id, limit, cursor);
  }

  /**
   * A first sync: every current member of each selected segment as an entry (reason
   * "sync"), SYNC_PAGE members per transaction, read and enqueued in the same one, so
   * memory stays flat and a live change cannot slip between a member's read and its row.
   */
  private async sync(d: DestinationRow): Promise<number> {
    const segments = d.segmentIds ? (await Promise.all(d.segmentIds.map((id) => this.store.getSegment(d.projectId, id)))).filter((s) => s !== null) : await this.store.listSegments(d.projectId);
    // Unique per sync, even for two in one millisecond: receivers de-duplicate on the change id.
    const stamp = `${this.clock.now().toString(36)}${randomBytes(4).toString('hex')}`;
    let total = 0;
    for (const s of segments) {
      let after: number | null = null;
      for (;;) {
        const n: { count: number; last: number | null } = await this.store.transaction(async (tx) => {
          const page = await tx.listMembers(d.projectId, s.id, SYNC_PAGE, after);
          const now = this.clock.now();
          const rows = page.map((m) => changeRow(d.projectId, d, `sync_${stamp}_${m.profileId}_${s.id}_${d.id}`, {
            segmentId: s.id, segmentName: s.name, userId: m.userId, anonymousId: m.anonymousId, kind: 'entered', at: iso(now), reason: 'sync', profileId: m.profileId,
          }, now));
          await new WebhookStore(tx).insertDeliveries(rows);
          return { count: page.length, last: page.length ? page[page.length - 1]!.profileId : null };
        });
        total += n.count;
        if (n.count < SYNC_PAGE) break;
        after = n.last;
      }
    }
    return total;
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
