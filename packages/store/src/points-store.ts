import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { StoreHandle } from './store-handle.ts';

export type PointsKind = 'earn' | 'spend' | 'adjust' | 'expire';

/** One ledger entry: `amount` is signed (earn > 0, spend and expire < 0), `balance` is the balance after it. */
export interface PointsEntry {
  readonly id: number;
  readonly projectId: string;
  readonly profileId: number;
  readonly kind: PointsKind;
  readonly amount: number;
  readonly balance: number;
  readonly reason: string;
  /** Idempotency reference (e.g. `mission:<id>:<profile>:<n>`, `redemption:<id>`): one entry per ref. */
  readonly ref: string | null;
  readonly at: number;
}

export type PointsOutcome =
  | { readonly ok: true; readonly entry: PointsEntry }
  /** An entry with this ref exists already: nothing was added (a retry). */
  | { readonly ok: false; readonly reason: 'duplicate'; readonly entry: PointsEntry }
  /** The balance would go negative: nothing was added. */
  | { readonly ok: false; readonly reason: 'insufficient'; readonly balance: number };

type LedgerRow = Database['points_ledger'] & { id: number };

const toEntry = (r: LedgerRow): PointsEntry => ({
  id: Number(r.id), projectId: r.project_id, profileId: Number(r.profile_id), kind: r.kind as PointsKind, amount: Number(r.amount),
  balance: Number(r.balance), reason: r.reason, ref: r.ref, at: Number(r.at),
});

/**
 * The points ledger: append-only entries and a balance per user kept beside them, changed by
 * one conditional statement so that it never goes negative even when two transactions race
 * (the CHECK constraint backs it). Construct it over a transaction's store
 * (`new PointsStore(tx)`) to write with the rest of that transaction.
 */
export class PointsStore {
  private readonly db: Kysely<Database>;
  constructor(store: StoreHandle) {
    this.db = store.db;
  }

  async balance(projectId: string, profileId: number): Promise<number> {
    const r = await this.db.selectFrom('points_balances').select('balance').where('project_id', '=', projectId).where('profile_id', '=', profileId).executeTakeFirst();
    return r ? Number(r.balance) : 0;
  }

  async byRef(projectId: string, ref: string): Promise<PointsEntry | null> {
    const r = await this.db.selectFrom('points_ledger').selectAll().where('project_id', '=', projectId).where('ref', '=', ref).executeTakeFirst();
    return r ? toEntry(r as LedgerRow) : null;
  }

  /** Adds an entry and moves the balance, unless the ref was used or the balance would go below zero. */
  async apply(projectId: string, profileId: number, e: { kind: PointsKind; amount: number; reason: string; ref?: string | null; at: number }): Promise<PointsOutcome> {
    if (!Number.isSafeInteger(e.amount)) throw new RangeError(`points must be a whole number, got ${e.amount}`);
    const ref = e.ref ?? null;
    if (ref !== null) {
      const seen = await this.byRef(projectId, ref);
      if (seen) return { ok: false, reason: 'duplicate', entry: seen };
    }
    let balance: number;
    if (e.amount >= 0) {
      const r = await sql<{ balance: number }>`INSERT INTO points_balances (project_id, profile_id, balance) VALUES (${projectId}, ${profileId}, ${e.amount})
        ON CONFLICT (project_id, profile_id) DO UPDATE SET balance = points_balances.balance + excluded.balance RETURNING balance`.execute(this.db);
      balance = Number(r.rows[0]!.balance);
    } else {
      const r = await sql<{ balance: number }>`UPDATE points_balances SET balance = balance + ${e.amount}
        WHERE project_id = ${projectId} AND profile_id = ${profileId} AND balance + ${e.amount} >= 0 RETURNING balance`.execute(this.db);
      if (r.rows.length === 0) return { ok: false, reason: 'insufficient', balance: await this.balance(projectId, profileId) };
      balance = Number(r.rows[0]!.balance);
    }
    const row = await this.db.insertInto('points_ledger').values({
      project_id: projectId, profile_id: profileId, kind: e.kind, amount: e.amount, balance, reason: e.reason, ref, at: e.at,
    }).returningAll().executeTakeFirstOrThrow();
    return { ok: true, entry: toEntry(row as LedgerRow) };
  }

  /** A user's entries, newest first, before entry id `beforeId` when given. */
  async entries(projectId: string, profileId: number, limit: number, beforeId: number | null): Promise<PointsEntry[]> {
    let q = this.db.selectFrom('points_ledger').selectAll().where('project_id', '=', projectId).where('profile_id', '=', profileId);
    if (beforeId !== null) q = q.where('id', '<', beforeId);
    return (await q.orderBy('id', 'desc').limit(limit).execute()).map((r) => toEntry(r as LedgerRow));
  }
}

/** Moves points of a merged-away profile to the surviving one (ingest's merge, `IngestStore.merge`, calls it). */
export async function mergePoints(db: Kysely<Database>, projectId: string, from: number, into: number): Promise<void> {
  await db.updateTable('points_ledger').set({ profile_id: into }).where('project_id', '=', projectId).where('profile_id', '=', from).execute();
  await sql`INSERT INTO points_balances (project_id, profile_id, balance)
    SELECT project_id, ${into}, balance FROM points_balances WHERE project_id = ${projectId} AND profile_id = ${from}
    ON CONFLICT (project_id, profile_id) DO UPDATE SET balance = points_balances.balance + excluded.balance`.execute(db);
  const moved = await db.selectFrom('points_balances').select('balance').where('project_id', '=', projectId).where('profile_id', '=', from).executeTakeFirst();
  await db.deleteFrom('points_balances').where('project_id', '=', projectId).where('profile_id', '=', from).execute();
  if (moved && Number(moved.balance) !== 0) {
    // The moved entries keep the balances of the profile they were made on: an entry of 0 marks the merge with the new total.
    const total = await db.selectFrom('points_balances').select('balance').where('project_id', '=', projectId).where('profile_id', '=', into).executeTakeFirstOrThrow();
    const last = await db.selectFrom('points_ledger').select(sql<number>`max(at)`.as('at')).where('project_id', '=', projectId).where('profile_id', '=', into).executeTakeFirst();
    await db.insertInto('points_ledger').values({
      project_id: projectId, profile_id: into, kind: 'adjust', amount: 0, balance: Number(total.balance),
      reason: `merged: ${Number(moved.balance)} points of a merged profile`, ref: `merge:${from}`, at: Number(last?.at ?? 0),
    }).execute();
  }
}
