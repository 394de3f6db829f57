import { randomUUID } from 'node:crypto';
import { partitionOf, type IngestItem, type LoggedRecord, type LogRecord, type Rejection } from '@strata/store';
import type { IngestResult } from './ingest-apply.ts';
import { people } from './ingest-steps.ts';

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
 * The id each item of a request is routed by: that of its person in the request — the items
 * linked by a shared userId, anonymousId or previousId (`people`) — which is the first userId
 * among them, else the first item's `routingKey`. So a visitor's anonymous events and the
 * identify that names them, sent together, go to one partition (the userId's), where they are
 * applied as one step, as on one partition; sent apart, the identify's partition takes the
 * anonymous profile over (docs/scale-out.md § Merges across partitions).
 */
export function routingKeys(items: readonly IngestItem[]): string[] {
  const person = people(items);
  const key = new Map<number, string>();
  items.forEach((item, i) => {
    const p = person[i]!;
    if (item.userId && !(key.get(p) ?? '').startsWith('\u0000u')) key.set(p, `\u0000u${item.userId}`);
    else if (!key.has(p)) key.set(p, `\u0000k${routingKey(item)}`);
  });
  return person.map((p) => key.get(p)!.slice(2));
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
  const keys = partitions > 1 ? routingKeys(items) : [];
  for (const [i, item] of items.entries()) {
    const p = partitions > 1 ? partitionOf(keys[i]!, partitions) : 0;
    const last = runs[runs.length - 1];
    if (last?.partition === p) last.items.push(item);
    else runs.push({ partition: p, items: [item] });
  }
  if (runs.length === 0) return [{ projectId, partition: 0, receivedAt, items: [], rejections }];
  const markers = partitions > 1 ? linkMarkers(runs, partitions) : [];
  const all = [...runs.map((run, i) => ({ partition: run.partition, items: run.items, rejections: i === 0 ? rejections : [] })), ...markers];
  // The records of a request split by partition share an id: on a log other processes append to, theirs may fall in between.
  const request = all.length > 1 ? randomUUID() : undefined;
  return all.map((r, i) => ({
    projectId, receivedAt, ...r,
    ...(i < all.length - 1 ? { more: all.length - 1 - i } : {}),
    ...(request !== undefined ? { request } : {}),
  }));
}

/**
 * The markers a request's records need (`LogRecord.awaits`), after them: one for each partition
 * whose ids an item links from a record of another partition — an identify's anonymousId, an
 * alias's previousId — naming the partitions of those records. Without it, an event sent for
 * the anonymous id after the identify was acknowledged (routed by that id, to its own partition)
 * could be applied by that partition's worker before the identify's worker applied the link.
 */
function linkMarkers(runs: readonly { partition: number; items: readonly IngestItem[] }[], count: number): { partition: number; items: IngestItem[]; rejections: Rejection[]; awaits: number[]; links: string[] }[] {
  const marks = new Map<number, { from: Set<number>; ids: Set<string> }>();
  const link = (id: string | null, from: number) => {
    if (!id) return;
    const p = partitionOf(id, count);
    if (p === from) return;
    let m = marks.get(p);
    if (!m) marks.set(p, (m = { from: new Set(), ids: new Set() }));
    m.from.add(from);
    m.ids.add(id);
  };
  for (const run of runs) {
    for (const item of run.items) {
      // An anonymousId is linked by an item that also names a userId; a previousId always is.
      if (item.userId) link(item.anonymousId, run.partition);
      link(item.previousId, run.partition);
    }
  }
  return [...marks].sort(([a], [b]) => a - b).map(([partition, m]) => ({
    partition, items: [], rejections: [], awaits: [...m.from].sort((a, b) => a - b), links: [...m.ids],
  }));
}

/**
 * Records in position order as the steps they are applied in: the records of one request split
 * by partition are one step, their items in the order they were sent and the refusals with them,
 * as the request would be on one partition. Its later records are found by the request's id
 * wherever they lie in the batch (on a log other processes append to, their records may fall in
 * between: those requests were concurrent with this one, so applying them after it keeps every
 * order a client could have seen), each saying one fewer follows; a record written before ids
 * were given joins only records at the next positions, of its project and instant. A request
 * whose records are not all at hand (the end of a read, or an append that failed part-way) is
 * applied in as many steps as there are parts of it; each record is still applied once.
 * `of` lists the indices of a step's records in `records`, the first first.
 */
export function requestSteps<R extends LoggedRecord>(records: readonly R[]): { readonly record: LogRecord; readonly of: readonly number[] }[] {
  const steps: { record: LogRecord; of: number[] }[] = [];
  const joined = new Set<number>();
  for (let i = 0; i < records.length; i++) {
    if (joined.has(i)) continue;
    const first = records[i]!;
    const of = [i];
    const more = first.more ?? 0;
    for (let j = i + 1; j < records.length && of.length <= more; j++) {
      const r = records[j]!;
      const next = r.projectId === first.projectId && r.receivedAt === first.receivedAt && (r.more ?? 0) === more - of.length;
      if (first.request !== undefined) {
        if (r.request === first.request && next && !joined.has(j)) of.push(j);
      } else if (r.request === undefined && next && r.position === first.position + of.length) {
        of.push(j);
      } else {
        break;
      }
    }
    for (const j of of) joined.add(j);
    const parts = of.map((j) => records[j]!);
    steps.push({
      of,
      record: of.length === 1 ? first : { projectId: first.projectId, partition: first.partition, receivedAt: first.receivedAt, items: parts.flatMap((r) => r.items), rejections: parts.flatMap((r) => r.rejections) },
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
