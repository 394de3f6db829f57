import { AppError, storedContext, storedMessage } from '@strata/core';
import type { IngestItem, IngestOutcome, Rejection, SqlStore } from '@strata/store';
import type { Clock } from './clock.ts';
import type { LiveEngine } from './live-engine.ts';

/** Sees each stored request's outcome inside its transaction (after the membership it caused). */
export type IngestListener = (tx: SqlStore, projectId: string, outcome: IngestOutcome, now: number) => Promise<void>;

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
        // Under load, linger a moment so that more requests share the next commit's fsync.
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
            const out = await tx.ingest(projectId, p.items, this.opts.sessionTimeoutMs);
            if (p.rejections.length) await tx.recordRejections(projectId, p.receivedAt, p.rejections);
            // Membership follows each request's events in the same transaction, in arrival order.
            await this.engine.applyIngest(tx, projectId, out, this.clock.now());
            for (const l of this.listeners) await l(tx, projectId, out, this.clock.now());
            results.set(p, { stored: out.stored, duplicates: out.duplicates });
          }
        }
      });
    } catch (cause) {
      if (group.length > 1) {
        // One request must not sink the others it shared a transaction with: write each alone.
        for (const p of group) await this.write([p]);
        return;
      }
      const err = cause instanceof AppError ? cause : new AppError({ code: 'STORE_UNAVAILABLE', message: 'the events could not be stored; nothing was acknowledged, send them again', cause });
      for (const p of group) p.reject(err);
      return;
    }
    for (const p of group) p.resolve(results.get(p)!);
  }
}
