import { AppError, storedContext, storedMessage } from '@strata/core';
import { storeUnavailableReason, type EventLog, type IngestItem, type LogRecord, type Rejection } from '@strata/store';
import type { IngestResult } from './ingest-apply.ts';
import type { Deferred } from './ingest-records.ts';

/**
 * Ingest's appends to the event log (docs/architecture.md § The path of one event, step 3):
 * requests that arrive while an append is being written go together into the next one, so one
 * fsync (or one round of PubAcks) serves many, and each request is answered once its records are
 * durable. What becomes of the appended records is the caller's (`IngestService`).
 */

/** An item as it is stored: its context without the client's address unless that is kept. */
export function storedItem(item: IngestItem, storeIp: boolean): IngestItem {
  const context = storedContext(item.context, storeIp);
  if (context === item.context) return item;
  // The serialised context the item carried still holds the address.
  const { contextJson: _stale, ...rest } = item;
  return { ...rest, context };
}

/** A rejected item as its warning stores it; the payload is parsed again only when it may hold an address. */
export function storedRejection(r: Rejection, storeIp: boolean): Rejection {
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

/** A request waiting to be appended: its records (one per run of items of one partition), appended together, and what its caller waits for. */
export interface Appending { readonly records: readonly LogRecord[]; readonly ack: Deferred<number>; readonly results?: readonly Deferred<IngestResult>[] }

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const sizeOf = (rs: readonly LogRecord[]) => rs.reduce((n, r) => n + r.items.length + r.rejections.length, 0);

export interface AppenderHooks {
  /**
   * A group's records were appended at `positions` (in the order of the group's records): the
   * caller queues or awaits them, then each request is acknowledged with its last position.
   * Every position is a record this call wrote (a log never answers an append with an earlier
   * copy's position: jetstream-record.ts), so each is applied; a client's retry of a request that
   * was written but not acknowledged is a second copy, whose items the store drops as repeated
   * messageIds.
   */
  appended(group: readonly Appending[], positions: readonly number[]): void;
  /** A request was refused (nothing acknowledged): `items` for the totals. */
  failed(items: number): void;
}

export class RequestAppender {
  private queue: Appending[] = [];
  private appending = false;

  constructor(private readonly log: EventLog, private readonly lingerMs: number, private readonly hooks: AppenderHooks) {}

  /** Whether a request waits to be appended or an append is being written. */
  get busy(): boolean {
    return this.appending || this.queue.length > 0;
  }

  push(request: Appending): void {
    this.queue.push(request);
    if (!this.appending) setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    if (this.appending) return;
    this.appending = true;
    try {
      while (this.queue.length) {
        // A small group waits a moment for company, so that more requests share the next fsync; a long queue is written at once.
        if (this.queue.length < 4 && this.lingerMs) await sleep(this.lingerMs);
        const group = this.queue;
        this.queue = [];
        await this.appendGroup(group);
      }
    } finally {
      this.appending = false;
    }
  }

  /**
   * Appends the records of a group of requests in one call and answers each request. A refusal
   * that is a request's own fault (a record too large for the log) fails the whole call: the
   * requests are then appended one by one, so that only the one at fault hears it.
   */
  private async appendGroup(group: readonly Appending[]): Promise<void> {
    let positions: number[];
    try {
      positions = await this.log.append(group.flatMap((g) => g.records));
    } catch (cause) {
      const own = cause instanceof AppError && cause.code !== 'STORE_UNAVAILABLE';
      if (own && group.length > 1) {
        for (const g of group) await this.appendGroup([g]);
        return;
      }
      const err = own ? cause : new AppError({
        code: 'STORE_UNAVAILABLE', cause,
        message: `the event log could not take the events (${storeUnavailableReason(cause) ?? (cause instanceof Error ? cause.message : String(cause))}): nothing was acknowledged; send them again`,
      });
      for (const g of group) {
        this.hooks.failed(sizeOf(g.records));
        g.ack.reject(err);
      }
      return;
    }
    this.hooks.appended(group, positions);
  }
}
