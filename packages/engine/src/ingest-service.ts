import { AppError } from '@strata/core';
import type { IngestItem, IngestOutcome, Rejection, SqlStore } from '@strata/store';
import type { Clock } from './clock.ts';
import type { LiveEngine } from './live-engine.ts';
import { suppressedWarning, type SuppressionList } from './user-data-service.ts';

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
  /** Ids erased with suppression: messages naming one are dropped (answered as accepted; docs/privacy.md). */
  readonly suppressions?: SuppressionList;
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

  submit(projectId: string, items: readonly IngestItem[], rejections: readonly Rejection[], receivedAt: number): Promise<IngestResult> {
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
            const { kept, dropped } = this.opts.suppressions ? await this.opts.suppressions.filter(tx, projectId, p.items) : { kept: p.items, dropped: 0 };
            const out = await tx.ingest(projectId, kept, this.opts.sessionTimeoutMs);
            const rejections = dropped ? [...p.rejections, suppressedWarning(dropped)] : p.rejections;
            if (rejections.length) await tx.recordRejections(projectId, p.receivedAt, rejections);
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
