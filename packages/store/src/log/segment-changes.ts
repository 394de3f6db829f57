import { sql } from 'kysely';
import type { StoreHandle } from '../store-handle.ts';
import { readJson } from '../util.ts';
import { leastOf } from './positions.ts';

/**
 * Segment changes made where no engine runs (a process of the api role) and applied where one
 * does (docs/scale-out.md § Admin changes): the change is a row, written in the transaction that
 * changes the segment; each process that applies the event log applies the rows after the last
 * one its partitions record, in its own transaction, and records the last one there too. So a
 * change is applied to every profile once its partition's worker has run a transaction since —
 * whichever worker holds the partition then, and however often workers restart.
 */
export interface SegmentChange {
  readonly seq: number;
  readonly projectId: string;
  readonly segmentIds: readonly string[];
  /**
   * 'definition': the segments' conditions (or existence) changed; 'manual': profiles were added to
   * an include list; 'unlist': a profile was taken out by hand; 'labels': a user's labels were
   * changed by hand (`labels`; no segment ids), applied where the user's profile is held.
   */
  readonly reason: 'definition' | 'manual' | 'unlist' | 'labels';
  /** The profiles a manual change is about (null: a definition change, about every profile). */
  readonly profileIds: readonly number[] | null;
  /** A labels change: the user (userId or anonymousId, resolved where it is applied) and the labels added and removed. */
  readonly labels?: LabelsChange;
}

export interface LabelsChange {
  readonly userId: string;
  readonly add: readonly string[];
  readonly remove: readonly string[];
}

/**
 * Records a segment change in the transaction that makes it; returns its sequence number. On
 * PostgreSQL the transactions that record changes take one lock until they commit, so that the
 * changes commit in the order of their numbers: a reader that has seen a change has seen every
 * one before it (two `api` processes recording at once must not leave a lower number to commit
 * after a higher one is read).
 */
export async function recordSegmentChange(h: StoreHandle, c: Omit<SegmentChange, 'seq'>): Promise<number> {
  // Key (schema, -1): the partition locks (log/partition-locks.ts) use the partitions' numbers, never below 0.
  if (h.dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(hashtext(current_schema()), -1)`.execute(h.db);
  const row = await h.db.insertInto('segment_changes').values({
    project_id: c.projectId, segment_ids: JSON.stringify(c.segmentIds), reason: c.reason,
    profile_ids: c.profileIds === null ? null : JSON.stringify(c.profileIds), detail: c.labels ? JSON.stringify(c.labels) : null, at: Date.now(),
  }).returning('seq').executeTakeFirstOrThrow();
  return Number(row.seq);
}

/**
 * The changes after the last one every one of `partitions` has applied (`segmentChangesApplied`),
 * in order, in one read: what an applying engine reads first in each of its transactions.
 */
export async function segmentChangesToApply(h: StoreHandle, partitions: readonly number[]): Promise<SegmentChange[]> {
  if (partitions.length === 0) return [];
  const ps = [...new Set(partitions)];
  // The least applied, a partition with no row counting as 0 (then fewer rows than partitions).
  const applied = sql<number>`(SELECT CASE WHEN count(*) < ${ps.length} THEN 0 ELSE min(segment_changes) END FROM log_positions WHERE partition IN (${sql.join(ps)}))`;
  return changesOf(await h.db.selectFrom('segment_changes').selectAll().where('seq', '>', applied).orderBy('seq').execute());
}

/** The changes after `after` up to `upTo`, in order. */
export async function segmentChangesBetween(h: StoreHandle, after: number, upTo: number): Promise<SegmentChange[]> {
  if (upTo <= after) return [];
  return changesOf(await h.db.selectFrom('segment_changes').selectAll().where('seq', '>', after).where('seq', '<=', upTo).orderBy('seq').execute());
}

function changesOf(rows: readonly { seq: number; project_id: string; segment_ids: unknown; reason: string; profile_ids: unknown; detail: unknown }[]): SegmentChange[] {
  return rows.map((r) => ({
    seq: Number(r.seq), projectId: r.project_id, segmentIds: readJson<string[]>(r.segment_ids, []),
    reason: r.reason as SegmentChange['reason'], profileIds: r.profile_ids === null ? null : readJson<number[]>(r.profile_ids, []),
    ...(r.detail === null || r.detail === undefined ? {} : { labels: readJson<LabelsChange>(r.detail, { userId: '', add: [], remove: [] }) }),
  }));
}

/** The last change recorded (0: none). */
export async function lastSegmentChange(h: StoreHandle): Promise<number> {
  const row = await h.db.selectFrom('segment_changes').select((eb) => eb.fn.max('seq').as('top')).executeTakeFirst();
  return Number(row?.top ?? 0);
}

/**
 * The last change applied to the profiles of every one of `partitions`: the least they record (0
 * while one records none).
 */
export async function segmentChangesApplied(h: StoreHandle, partitions: readonly number[]): Promise<number> {
  if (partitions.length === 0) return 0;
  const rows = await h.db.selectFrom('log_positions').select(['partition', 'segment_changes']).where('partition', 'in', [...partitions]).execute();
  return leastOf(new Map(rows.map((r) => [Number(r.partition), Number(r.segment_changes)])), partitions);
}

/** Records that every change up to `seq` is applied to the profiles of `partitions` (never back). */
export async function setSegmentChangesApplied(h: StoreHandle, partitions: readonly number[], seq: number): Promise<void> {
  if (partitions.length === 0) return;
  await h.db.insertInto('log_positions').values([...new Set(partitions)].map((partition) => ({ partition, position: 0, segment_changes: seq })))
    .onConflict((oc) => oc.column('partition').doUpdateSet({ segment_changes: sql<number>`CASE WHEN excluded.segment_changes > log_positions.segment_changes THEN excluded.segment_changes ELSE log_positions.segment_changes END` }))
    .execute();
}

/** Forgets the changes every partition has applied (they are read only after a partition's last one). */
export async function trimSegmentChanges(h: StoreHandle, upTo: number): Promise<void> {
  if (upTo > 0) await h.db.deleteFrom('segment_changes').where('seq', '<=', upTo).execute();
}
