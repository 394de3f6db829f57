import { partitionOf, type IngestItem, type LoggedRecord, type LogRecord, type Rejection } from '@strata/store';
import type { IngestResult } from './ingest-apply.ts';

/**
 * How one acknowledged request becomes log records: one per run of consecutive items of one
 * partition (docs/architecture.md § The path of one event).
 */

/**
 * The id an item is routed by: its userId, else its anonymousId (the profile it resolves to when
 * it arrives). An item with neither names only a previousId (an alias or group shape); it goes
 * by that id, so that a retried request routes it to the same partition; an item with no id at
 * all goes by the empty string (partition of '' — always the same one).
 */
export function routingKey(item: IngestItem): string {
  return item.userId || item.anonymousId || item.previousId || '';
}

/**
 * A request's items as records: a new record each time an item's partition differs from the
 * previous item's (runs of consecutive items), so that the records, appended in one call in this
 * order, get positions in the order the items were sent. Ingest cannot know which ids are already
 * one profile (an identify earlier in the request, or long before, may have linked them), so the
 * request's order is kept whole: an item for an anonymous id sent after the identify that links
 * it to a userId is applied after it, as on one partition. The refused items go with the first
 * record; a request that keeps no item is one record of partition 0 (its refusals, or nothing:
 * it is still acknowledged with a position of its own).
 */
export function recordsOf(projectId: string, partitions: number, receivedAt: number, items: readonly IngestItem[], rejections: readonly Rejection[]): LogRecord[] {
  const runs: { partition: number; items: IngestItem[] }[] = [];
  for (const item of items) {
    const p = partitionOf(routingKey(item), partitions);
    const last = runs[runs.length - 1];
    if (last?.partition === p) last.items.push(item);
    else runs.push({ partition: p, items: [item] });
  }
  if (runs.length === 0) return [{ projectId, partition: 0, receivedAt, items: [], rejections }];
  return runs.map((run, i) => ({
    projectId, partition: run.partition, receivedAt, items: run.items, rejections: i === 0 ? rejections : [],
    ...(i < runs.length - 1 ? { more: runs.length - 1 - i } : {}),
  }));
}

/**
 * Records in position order as the steps they are applied in: the records of one request (a
 * record saying `more` follow it, and they do: at the next positions, of its project and instant) are one
 * step, their items in the order they were sent and the refusals with them, as the request would
 * be on one partition. A request whose records are not all at hand (the end of a read) is applied
 * in as many steps as there are parts of it; each record is still applied once.
 */
export function requestSteps<R extends LoggedRecord>(records: readonly R[]): { readonly record: LogRecord; readonly of: readonly R[] }[] {
  const steps: { record: LogRecord; of: R[] }[] = [];
  for (let i = 0; i < records.length;) {
    const first = records[i]!;
    const of = [first];
    for (let k = 1; k <= (first.more ?? 0) && i + k < records.length; k++) {
      const r = records[i + k]!;
      if (r.position !== first.position + k || r.projectId !== first.projectId || r.receivedAt !== first.receivedAt || (r.more ?? 0) !== first.more! - k) break;
      of.push(r);
    }
    i += of.length;
    steps.push({
      of,
      record: of.length === 1 ? first : { projectId: first.projectId, partition: first.partition, receivedAt: first.receivedAt, items: of.flatMap((r) => r.items), rejections: of.flatMap((r) => r.rejections) },
    });
  }
  return steps;
}

/** The settling half of a promise: what a request waiting on the log or the worker is answered through. */
export interface Deferred<T> { resolve(v: T): void; reject(e: unknown): void }

/**
 * One deferred result per record of a request, settling `whole` once every one is settled: with
 * their sum when all were applied, else with the first failure (a record set aside, or Strata
 * stopping before it was applied) — only then, so that a caller told of a failure is not told while
 * other parts of its request are still being applied (the service settles every record it queued).
 */
export function splitResult(records: number, whole: Deferred<IngestResult>): Deferred<IngestResult>[] {
  let left = records, stored = 0, duplicates = 0;
  let failure: { error: unknown } | null = null;
  const settle = () => {
    if (--left > 0) return;
    if (failure) whole.reject(failure.error);
    else whole.resolve({ stored, duplicates });
  };
  return Array.from({ length: records }, () => {
    let done = false;
    return {
      resolve(r: IngestResult) {
        if (done) return;
        done = true;
        stored += r.stored;
        duplicates += r.duplicates;
        settle();
      },
      reject(e: unknown) {
        if (done) return;
        done = true;
        failure ??= { error: e };
        settle();
      },
    };
  });
}
