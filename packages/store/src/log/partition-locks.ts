import { sql } from 'kysely';
import type { StoreHandle } from '../store-handle.ts';

/**
 * What partition workers sharing one PostgreSQL database use to stay out of each other's way
 * (docs/scale-out.md § Merges across partitions). Every transaction of a worker holds its own
 * partitions' advisory locks shared; a transaction that takes a profile over from another
 * partition's worker also holds that partition's lock exclusively, so the two never write one
 * profile at once. The locks are transaction-scoped and keyed by the schema too (tests run many
 * schemas in one database).
 */

/**
 * Takes partition locks for the rest of the transaction, `shared` ones shared and `exclusive` ones
 * exclusively (a partition in both: exclusively), all in ascending order of partition in one
 * statement: two transactions that each take all their locks this way never wait for each other.
 */
export async function lockPartitions(h: StoreHandle, shared: readonly number[], exclusive: readonly number[]): Promise<void> {
  if (h.dialect !== 'postgres') throw new Error('partition locks need PostgreSQL: workers that share partitions between them share a PostgreSQL database');
  const only = new Set(exclusive);
  const all = [...new Set([...shared, ...exclusive])].sort((a, b) => a - b);
  if (all.length === 0) return;
  // unnest gives the rows in the arrays' order, so the locks are taken in ascending order.
  await sql`SELECT CASE WHEN x THEN pg_advisory_xact_lock(hashtext(current_schema()), p)::text ELSE pg_advisory_xact_lock_shared(hashtext(current_schema()), p)::text END
    FROM unnest(${all}::int[], ${all.map((p) => only.has(p))}::boolean[]) AS l(p, x)`.execute(h.db);
}

/** Records, in the transaction that took them over, profiles that left the worker of `fromPartition`. */
export async function recordMoves(h: StoreHandle, projectId: string, moves: readonly { readonly fromPartition: number; readonly profileId: number }[]): Promise<void> {
  if (moves.length === 0) return;
  await h.db.insertInto('profile_moves').values(moves.map((m) => ({ project_id: projectId, from_partition: m.fromPartition, profile_id: m.profileId }))).execute();
}

/** Profiles that left any of `partitions` after move `after` (ids rise), in order. */
export async function movesSince(h: StoreHandle, partitions: readonly number[], after: number): Promise<{ id: number; projectId: string; profileId: number }[]> {
  if (partitions.length === 0) return [];
  const rows = await h.db.selectFrom('profile_moves').select(['id', 'project_id', 'profile_id'])
    .where('from_partition', 'in', [...partitions]).where('id', '>', after).orderBy('id').execute();
  return rows.map((r) => ({ id: Number(r.id), projectId: r.project_id, profileId: Number(r.profile_id) }));
}

/** The last move recorded (0: none): where a worker starting now begins reading moves. */
export async function lastMove(h: StoreHandle): Promise<number> {
  const row = await h.db.selectFrom('profile_moves').select((eb) => eb.fn.max('id').as('top')).executeTakeFirst();
  return Number(row?.top ?? 0);
}

/** A profile as partition routing sees it: its id and the two ids its home partition follows from. */
export interface ProfileRef {
  readonly id: number;
  readonly userId: string | null;
  readonly anonymousId: string | null;
}

/** The profile each key names (`u:<userId>`, `a:<anonymousId>`), with its ids; unseen keys are absent. */
export async function keyProfiles(h: StoreHandle, projectId: string, users: ReadonlySet<string>, anons: ReadonlySet<string>): Promise<Map<string, ProfileRef>> {
  const out = new Map<string, ProfileRef>();
  const ids = [...new Set([...users, ...anons])];
  for (let i = 0; i < ids.length; i += 1000) {
    const rows = await h.db.selectFrom('profile_keys').innerJoin('profiles', (j) => j.onRef('profiles.project_id', '=', 'profile_keys.project_id').onRef('profiles.id', '=', 'profile_keys.profile_id'))
      .select(['profile_keys.kind', 'profile_keys.key', 'profiles.id', 'profiles.user_id', 'profiles.anonymous_id'])
      // Both kinds named, so that the keys' primary key (project, kind, key) finds them.
      .where('profile_keys.project_id', '=', projectId).where('profile_keys.kind', 'in', ['u', 'a']).where('profile_keys.key', 'in', ids.slice(i, i + 1000)).execute();
    for (const r of rows) {
      if (!(r.kind === 'u' ? users : anons).has(r.key)) continue;
      out.set(`${r.kind}:${r.key}`, { id: Number(r.id), userId: r.user_id, anonymousId: r.anonymous_id });
    }
  }
  return out;
}
