import { sql } from 'kysely';
import type { StoreHandle } from '../store-handle.ts';

/** How far a partition of the event log is applied (0: nothing yet). */
export async function appliedPosition(h: StoreHandle, partition: number): Promise<number> {
  const row = await h.db.selectFrom('log_positions').select('position').where('partition', '=', partition).executeTakeFirst();
  return row ? Number(row.position) : 0;
}

/** Every partition's applied position the store has recorded (a partition never applied is absent). */
export async function appliedPositions(h: StoreHandle): Promise<Map<number, number>> {
  const rows = await h.db.selectFrom('log_positions').select(['partition', 'position']).execute();
  return new Map(rows.map((r) => [Number(r.partition), Number(r.position)]));
}

/**
 * The position up to which every one of a log's `partitions` is applied: the least of their
 * recorded positions (0 while one has none). What a reader of the store waits for, and what may be
 * trimmed, when several workers (or one follower of them all) record the partitions.
 */
export async function appliedEverywhere(h: StoreHandle, partitions: number): Promise<number> {
  return leastOf(await appliedPositions(h), allPartitions(partitions));
}

/** Partitions 0 … count − 1. */
export function allPartitions(count: number): number[] {
  return Array.from({ length: count }, (_, p) => p);
}

/** The least of `at` over `partitions`, a partition absent counting as 0 (none applied yet); 0 for no partitions. */
export function leastOf(at: ReadonlyMap<number, number>, partitions: readonly number[]): number {
  return partitions.length ? Math.min(...partitions.map((p) => at.get(p) ?? 0)) : 0;
}

/**
 * The position up to which a read may take every one of a log's `partitions` as applied: the
 * least of their readable positions (`log_positions.readable`, else their position). A partition
 * worker holds a partition's readable position below a record whose items it forwarded to another
 * partition until that partition has applied them (docs/scale-out.md § Merges across partitions),
 * so that a read waiting for the record's position sees what it forwarded too.
 */
export async function readableEverywhere(h: StoreHandle, partitions: number): Promise<number> {
  const rows = await h.db.selectFrom('log_positions').select(['partition', 'position', 'readable']).execute();
  return leastOf(new Map(rows.map((r) => [Number(r.partition), Number(r.readable ?? r.position)])), allPartitions(partitions));
}

/** The partitions whose readable position is held below their position (partition → readable). */
export async function heldReadable(h: StoreHandle): Promise<Map<number, number>> {
  const rows = await h.db.selectFrom('log_positions').select(['partition', 'readable']).where('readable', 'is not', null).execute();
  return new Map(rows.map((r) => [Number(r.partition), Number(r.readable)]));
}

/** Records that a partition is applied up to `position`: in the transaction that wrote what those records caused. */
export async function setAppliedPosition(h: StoreHandle, partition: number, position: number): Promise<void> {
  await setAppliedPositions(h, new Map([[partition, position]]));
}

/**
 * Records several partitions' applied positions (partition → position) in one statement: an
 * apply transaction holding records of many partitions (the log on NATS) writes them all at once.
 */
export async function setAppliedPositions(h: StoreHandle, positions: ReadonlyMap<number, number>, readable?: ReadonlyMap<number, number>): Promise<void> {
  if (positions.size === 0) return;
  // A partition's readable position is written with its position, null when it is the same (so a process that holds none back clears any left).
  const held = (p: number, at: number) => { const r = readable?.get(p); return r !== undefined && r < at ? r : null; };
  await h.db.insertInto('log_positions').values([...positions].map(([partition, position]) => ({ partition, position, readable: held(partition, position) })))
    // Never back: a worker that lost a partition's lease and commits late must not undo its new owner's progress.
    .onConflict((oc) => oc.column('partition').doUpdateSet({
      position: sql<number>`CASE WHEN excluded.position > log_positions.position THEN excluded.position ELSE log_positions.position END`,
      readable: sql<number | null>`excluded.readable`,
    }))
    .execute();
}

/**
 * Makes `partitions` the worker's whose token is `owner` (`log_positions.owner`), in a transaction
 * that holds their locks exclusively (log/partition-locks.ts), so that no transaction of the worker
 * that had them is under way. A partition never applied gets its row here, at position 0. From then
 * on a transaction of any other worker on them fails its `checkOwner` (docs/scale-out.md § Leases):
 * a worker whose lease lapsed without its knowing (a long pause, a network split from NATS) writes
 * nothing more, whatever it still believes.
 */
export async function claimPartitions(h: StoreHandle, partitions: readonly number[], owner: string): Promise<void> {
  if (partitions.length === 0) return;
  await h.db.insertInto('log_positions').values(partitions.map((partition) => ({ partition, position: 0, readable: null, owner })))
    .onConflict((oc) => oc.column('partition').doUpdateSet({ owner: sql<string>`excluded.owner` }))
    .execute();
}

/** A transaction of a worker whose partitions another worker has claimed since it did: rolled back. */
export class PartitionTaken extends Error {
  constructor(readonly partitions: readonly number[]) {
    super(`partitions ${partitions.join(', ')} were claimed by another worker: this one no longer applies them (its lease lapsed)`);
    this.name = 'PartitionTaken';
  }
}

/**
 * Throws PartitionTaken when one of `partitions` no longer records `owner` as its owner. Called in
 * every transaction of a worker after it has taken its partitions' locks: a claim cannot commit
 * while such a transaction is under way, so one that passes this check commits before any claim.
 */
export async function checkOwner(h: StoreHandle, partitions: readonly number[], owner: string): Promise<void> {
  if (partitions.length === 0) return;
  const rows = await h.db.selectFrom('log_positions').select(['partition', 'owner']).where('partition', 'in', [...partitions]).execute();
  const mine = new Set(rows.filter((r) => r.owner === owner).map((r) => Number(r.partition)));
  const taken = partitions.filter((p) => !mine.has(p));
  if (taken.length) throw new PartitionTaken(taken);
}

/**
 * Refuses a log with fewer partitions than the store has applied positions for: the store was
 * written from a log of more partitions, and records of the partitions this one lacks (some may
 * be acknowledged and not applied yet) would never be read. A log with more partitions is fine:
 * the new ones start from nothing, and positions rise across all of them.
 */
export function checkLogPartitions(positions: ReadonlyMap<number, number>, partitions: number): void {
  const beyond = [...positions.keys()].filter((p) => p >= partitions);
  if (beyond.length === 0) return;
  const had = Math.max(...beyond) + 1;
  // The store knows only the partitions it applied records of: the log it was written from had at
  // least `had`, maybe more. No count is advised: one other than that stream's is refused by NATS.
  throw new Error(`the event log has ${partitions} partition${partitions === 1 ? '' : 's'}, but the store has applied records of partition ${had - 1}, `
    + `so the log it was written from had at least ${had} partitions: records of the partitions this log lacks would never be read. Start with the log the store was written from: `
    + 'the same STRATA_NATS_URL and STRATA_NATS_PREFIX, and STRATA_PARTITIONS as its stream was made with');
}
