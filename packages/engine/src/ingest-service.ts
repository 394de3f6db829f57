import { AppError, storedContext, storedMessage } from '@strata/core';
import { storeUnavailableReason, type IngestItem, type IngestOutcome, type Rejection, type SqlStore } from '@strata/store';
import type { Clock } from './clock.ts';
import type { LiveEngine, MembershipChange } from './live-engine.ts';
import { suppressedWarning, type SuppressionList } from './user-data-service.ts';

/**
 * Sees each stored step's outcome inside its transaction, after the membership it caused
 * (`changes`: the step's entries and exits, from which membership before the step follows).
 */
export type IngestListener = (tx: SqlStore, projectId: string, outcome: IngestOutcome, now: number, changes: readonly MembershipChange[]) => Promise<void>;

/** Picks the items of a request that must be applied alone (null: none need it). */
export type IngestIsolation = (tx: SqlStore, projectId: string, now: number) => Promise<((item: IngestItem) => boolean) | null>;

/**
 * A request's items as the steps they are applied in: as one step, unless some must be applied
 * alone. Then each person's items go in time order (ties in the order sent), each of those
 * picked a step of its own and the items between them together, so that membership just before
 * and just after each picked item is what it would be had the person sent their events one
 * request at a time. Different people's items share steps (the k-th step of each person is
 * one step): one person's events never change another's membership. A person is the items
 * linked by a shared userId, anonymousId or previousId within the request.
 */
export function ingestSteps(items: readonly IngestItem[], alone: ((item: IngestItem) => boolean) | null): (readonly IngestItem[])[] {
  if (!alone || items.length < 2 || !items.some(alone)) return [items];
  const ordered = items.map((item, i) => ({ item, i })).sort((a, b) => a.item.timestamp - b.item.timestamp || a.i - b.i);
  const person = people(items);
  const steps: IngestItem[][] = [];
  // Per person: the step their next item may join (`open`: a group of unpicked items), or start.
  const at = new Map<number, { step: number; open: boolean }>();
  for (const { item, i } of ordered) {
    const p = person[i]!;
    const mine = at.get(p) ?? { step: -1, open: false };
    const picked = alone(item);
    if (picked || !mine.open) mine.step++;
    mine.open = !picked;
    at.set(p, mine);
    (steps[mine.step] ??= []).push(item);
  }
  return steps;
}

/** Each item's person: the items whose ids (userId, anonymousId, previousId) are linked, as one number. */
function people(items: readonly IngestItem[]): number[] {
  const parent: number[] = [];
  const idOf = new Map<string, number>();
  const find = (x: number): number => { while (parent[x] !== x) x = parent[x] = parent[parent[x]!]!; return x; };
  const node = (key: string) => { let n = idOf.get(key); if (n === undefined) { n = parent.length; parent.push(n); idOf.set(key, n); } return n; };
  const roots = items.map((item, i) => {
    const ids = [item.userId, item.anonymousId, item.previousId].filter((v): v is string => v !== null && v !== '');
    // An item without ids is a person of its own.
    const own = node(`\u0000item${i}`);
    for (const id of ids) parent[find(node(`\u0001${id}`))] = find(own);
    return own;
  });
  return roots.map(find);
}

export interface IngestResult {
  readonly stored: number;
  readonly duplicates: number;
}

interface Pending {
  readonly projectId: string;
  readonly items: readonly IngestItem[];
  readonly rejections: readonly Rejection[];
  readonly receivedAt: number;
  resolve(r: IngestResult): void;
  reject(e: unknown): void;
}

export interface IngestServiceOptions {
  readonly sessionTimeoutMs: number;
  /** How long a small group waits for company before it is written (ms; 0 writes at once). */
  readonly lingerMs?: number;
  /** `STRATA_STORE_IP`: keep `context.ip` in what is stored (default: removed from events and warnings alike). */
  readonly storeIp?: boolean;
  /** Ids erased with suppression: messages naming one are dropped (answered as accepted; docs/privacy.md). */
  readonly suppressions?: SuppressionList;
}

/** An item as it is stored: its context without the client's address unless that is kept. */
function storedItem(item: IngestItem, storeIp: boolean): IngestItem {
  const context = storedContext(item.context, storeIp);
  if (context === item.context) return item;
  // The serialised context the item carried still holds the address.
  const { contextJson: _stale, ...rest } = item;
  return { ...rest, context };
}

/** A rejected item as its warning stores it; the payload is parsed again only when it may hold an address. */
function storedRejection(r: Rejection, storeIp: boolean): Rejection {
  if (storeIp || !r.payload.includes('"ip"')) return r;
  let message: unknown;
  try {
    message = JSON.parse(r.payload);
  } catch {
    return r;
  }
  const stored = storedMessage(message, false);
  return stored === message ? r : { ...r, payload: JSON.stringify(stored) };
}

/**
 * Writes ingested batches with group commit: requests that arrive while a transaction is
 * being written wait and go together into the next one, so each HTTP answer still comes
 * only after its own events are durably committed, but one fsync serves many requests.
 * The live engine brings membership of the touched profiles up to date in the same transaction.
 */
export class IngestService {
  private queue: Pending[] = [];
  private flushing = false;

  constructor(
    private readonly engine: LiveEngine,
    private readonly clock: Clock,
    private readonly opts: IngestServiceOptions,
  ) {}

  private readonly listeners: IngestListener[] = [];

  /** Called in the transaction of every stored request, after membership (missions award there). */
  onIngested(l: IngestListener): void {
    this.listeners.push(l);
  }

  private isolation: IngestIsolation | null = null;

  /** Items this picks are applied one at a time (`ingestSteps`): missions need the membership around each of their events. */
  applyAlone(pick: IngestIsolation): void {
    this.isolation = pick;
  }

  /**
   * Queues a request's items and rejections for the next transaction. This is the one way events
   * and ingestion warnings reach the store (HTTP ingest, imports, the demo), so the client's
   * address is removed here for all of them (unless `storeIp`).
   */
  submit(projectId: string, items: readonly IngestItem[], rejections: readonly Rejection[], receivedAt: number): Promise<IngestResult> {
    const keep = this.opts.storeIp === true;
    items = items.map((i) => storedItem(i, keep));
    rejections = rejections.map((r) => storedRejection(r, keep));
    return new Promise<IngestResult>((resolve, reject) => {
      this.queue.push({ projectId, items, rejections, receivedAt, resolve, reject });
      if (!this.flushing) setImmediate(() => void this.flush());
    });
  }

  /** Resolves when everything queued so far is written. */
  async drain(): Promise<void> {
    while (this.queue.length || this.flushing) await new Promise((r) => setTimeout(r, 1));
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length) {
        // A small group waits a moment for company, so that more requests share the next fsync; a long queue is written at once.
        if (this.queue.length < 4 && this.opts.lingerMs) await new Promise((r) => setTimeout(r, this.opts.lingerMs));
        const group = this.queue;
        this.queue = [];
        await this.write(group);
      }
    } finally {
      this.flushing = false;
    }
  }

  private async write(group: Pending[]): Promise<void> {
    const results = new Map<Pending, IngestResult>();
    try {
      await this.engine.write(async (tx) => {
        results.clear();
        const byProject = new Map<string, Pending[]>();
        for (const p of group) byProject.set(p.projectId, [...(byProject.get(p.projectId) ?? []), p]);
        for (const [projectId, ps] of byProject) {
          for (const p of ps) {
            const alone = this.isolation ? await this.isolation(tx, projectId, this.clock.now()) : null;
            const { kept, dropped } = this.opts.suppressions ? await this.opts.suppressions.filter(tx, projectId, p.items) : { kept: p.items, dropped: 0 };
            let stored = 0, duplicates = 0;
            for (const items of ingestSteps(kept, alone)) {
              const out = await tx.ingest(projectId, items, this.opts.sessionTimeoutMs);
              stored += out.stored;
              duplicates += out.duplicates;
              // Membership follows each step's events in the same transaction, in arrival order.
              const changes = await this.engine.applyIngest(tx, projectId, out, this.clock.now());
              for (const l of this.listeners) await l(tx, projectId, out, this.clock.now(), changes);
            }
            const rejections = dropped ? [...p.rejections, suppressedWarning(dropped)] : p.rejections;
            if (rejections.length) await tx.recordRejections(projectId, p.receivedAt, rejections);
            results.set(p, { stored, duplicates });
          }
        }
      });
    } catch (cause) {
      const down = storeUnavailableReason(cause);
      if (down !== null) {
        // The store cannot write now (locked, unwritable, full, unreachable): every request of the group
        // fails alike, at once, rather than each waiting on the store again alone.
        const err = new AppError({ code: 'STORE_UNAVAILABLE', message: `the store is unavailable (${down}): the events were not stored and nothing was acknowledged; send them again`, cause });
        for (const p of group) p.reject(err);
        return;
      }
      if (group.length > 1) {
        // One request must not sink the others it shared a transaction with: write each alone.
        for (const p of group) await this.write([p]);
        return;
      }
      // Any other failure is the request's or Strata's own (4xx or 500): it is not the store's to retry.
      for (const p of group) p.reject(cause);
      return;
    }
    for (const p of group) p.resolve(results.get(p)!);
  }
}
