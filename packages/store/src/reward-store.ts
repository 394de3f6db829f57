import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database } from './schema.ts';
import type { StoreHandle } from './store-handle.ts';
import { chunks, readJson, sqlBool } from './util.ts';

export type RewardType = 'coupon' | 'voucher' | 'digital' | 'physical';
export const REWARD_TYPES: readonly RewardType[] = ['coupon', 'voucher', 'digital', 'physical'];

/** A reward of the bonus shop. Times are epoch milliseconds. */
export interface RewardRow {
  readonly projectId: string;
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly type: RewardType;
  /** Points a redemption costs (0: free). */
  readonly cost: number;
  /** Units left; null: unlimited. */
  readonly stock: number | null;
  /** Redemptions one user may make; null: no limit. */
  readonly perUserLimit: number | null;
  /** Members of any of these segments may redeem; empty: everyone. */
  readonly segmentIds: readonly string[];
  readonly active: boolean;
  /** Redeemable from this instant (inclusive); null: no start. */
  readonly startsAt: number | null;
  /** Redeemable until this instant (exclusive); null: no end. */
  readonly endsAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface RedemptionRow {
  readonly id: number;
  readonly projectId: string;
  readonly rewardId: string;
  readonly profileId: number;
  readonly code: string | null;
  readonly cost: number;
  readonly at: number;
  /** The client's idempotency key, when it sent one. */
  readonly ref: string | null;
}

/** A reward's code pool: codes uploaded, and those not handed out yet. */
export interface CodeCounts {
  readonly total: number;
  readonly available: number;
}

const toReward = (r: Selectable<Database['rewards']>): RewardRow => ({
  projectId: r.project_id, id: r.id, name: r.name, description: r.description, type: r.type as RewardType, cost: Number(r.cost),
  stock: r.stock === null ? null : Number(r.stock), perUserLimit: r.per_user_limit === null ? null : Number(r.per_user_limit),
  segmentIds: readJson<string[]>(r.segment_ids, []), active: r.active === true || r.active === 1,
  startsAt: r.starts_at === null ? null : Number(r.starts_at), endsAt: r.ends_at === null ? null : Number(r.ends_at),
  createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
});

const toRedemption = (r: Selectable<Database['reward_redemptions']>): RedemptionRow => ({
  id: Number(r.id), projectId: r.project_id, rewardId: r.reward_id, profileId: Number(r.profile_id), code: r.code, cost: Number(r.cost), at: Number(r.at), ref: r.ref,
});

/**
 * Rewards, their code pools and redemptions. Construct it over a transaction's store
 * (`new RewardStore(tx)`) to write with the rest of that transaction. The statements a
 * redemption makes are each safe when two transactions race, without any lock in the process:
 * `lockUser` serialises one user's redemptions, `takeStock` and `claimCode` are conditional
 * updates that only one transaction can win for the last unit or a given code.
 */
export class RewardStore {
  private readonly db: Kysely<Database>;
  constructor(private readonly store: StoreHandle) {
    this.db = store.db;
  }

  private values(r: RewardRow) {
    return {
      project_id: r.projectId, id: r.id, name: r.name, description: r.description, type: r.type, cost: r.cost, stock: r.stock,
      per_user_limit: r.perUserLimit, segment_ids: JSON.stringify(r.segmentIds),
      active: sqlBool(this.store.dialect, r.active),
      starts_at: r.startsAt, ends_at: r.endsAt, created_at: r.createdAt, updated_at: r.updatedAt,
    };
  }

  async insert(r: RewardRow): Promise<void> {
    await this.db.insertInto('rewards').values(this.values(r)).execute();
  }

  async update(r: RewardRow): Promise<void> {
    const { project_id: _p, id: _i, created_at: _c, ...rest } = this.values(r);
    await this.db.updateTable('rewards').set(rest).where('project_id', '=', r.projectId).where('id', '=', r.id).execute();
  }

  /** Deletes a reward and its code pool; its redemptions stay (history and insights). */
  async delete(projectId: string, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('rewards').where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    await this.db.deleteFrom('reward_codes').where('project_id', '=', projectId).where('reward_id', '=', id).execute();
    return Number(r.numDeletedRows) > 0;
  }

  async get(projectId: string, id: string): Promise<RewardRow | null> {
    const r = await this.db.selectFrom('rewards').selectAll().where('project_id', '=', projectId).where('id', '=', id).executeTakeFirst();
    return r ? toReward(r) : null;
  }

  async list(projectId: string): Promise<RewardRow[]> {
    const rows = await this.db.selectFrom('rewards').selectAll().where('project_id', '=', projectId).orderBy('created_at').orderBy('id').execute();
    return rows.map(toReward);
  }

  // ------------------------------------------------------------ code pools

  /** Adds codes to a reward's pool; codes it has already are skipped. Returns how many were added. */
  async addCodes(projectId: string, rewardId: string, codes: readonly string[], now: number): Promise<number> {
    let added = 0;
    for (const c of chunks([...new Set(codes)])) {
      const r = await this.db.insertInto('reward_codes')
        .values(c.map((code) => ({ project_id: projectId, reward_id: rewardId, code, redemption_id: null, created_at: now })))
        .onConflict((oc) => oc.columns(['project_id', 'reward_id', 'code']).doNothing()).executeTakeFirst();
      added += Number(r.numInsertedOrUpdatedRows ?? 0);
    }
    return added;
  }

  async codeCounts(projectId: string, rewardIds: readonly string[]): Promise<Map<string, CodeCounts>> {
    const out = new Map<string, CodeCounts>();
    for (const c of chunks([...rewardIds])) {
      const rows = await this.db.selectFrom('reward_codes')
        .select(['reward_id', sql<number>`count(*)`.as('total'), sql<number>`count(*) - count(redemption_id)`.as('available')])
        .where('project_id', '=', projectId).where('reward_id', 'in', c).groupBy('reward_id').execute();
      for (const r of rows) out.set(r.reward_id, { total: Number(r.total), available: Number(r.available) });
    }
    return out;
  }

  /**
   * Hands the oldest unused code of the pool to a redemption, or returns null when none is
   * left. The update re-checks `redemption_id IS NULL`, so when another transaction claims
   * the same code first this one claims nothing and tries the next.
   */
  async claimCode(projectId: string, rewardId: string, redemptionId: number): Promise<string | null> {
    for (;;) {
      const r = await sql<{ code: string }>`UPDATE reward_codes SET redemption_id = ${redemptionId}
        WHERE id = (SELECT id FROM reward_codes WHERE project_id = ${projectId} AND reward_id = ${rewardId} AND redemption_id IS NULL ORDER BY id LIMIT 1)
          AND redemption_id IS NULL RETURNING code`.execute(this.db);
      if (r.rows.length) return r.rows[0]!.code;
      const left = await this.db.selectFrom('reward_codes').select('id').where('project_id', '=', projectId).where('reward_id', '=', rewardId)
        .where('redemption_id', 'is', null).limit(1).executeTakeFirst();
      if (!left) return null;
    }
  }

  // ------------------------------------------------------------ redemption steps

  /**
   * Takes a row lock on the user's points balance (creating a zero balance if there is none) for
   * the rest of the transaction: two redemptions of one user then run one after the other in
   * the database too, so the per-user limit and the idempotency key are checked against
   * committed redemptions. On SQLite the first write takes the database's write lock.
   */
  async lockUser(projectId: string, profileId: number): Promise<void> {
    await sql`INSERT INTO points_balances (project_id, profile_id, balance) VALUES (${projectId}, ${profileId}, 0)
      ON CONFLICT (project_id, profile_id) DO UPDATE SET balance = points_balances.balance`.execute(this.db);
  }

  /** Takes one unit of a stock-limited reward; false when none is left (the update's condition, not a read, decides). */
  async takeStock(projectId: string, rewardId: string): Promise<boolean> {
    const r = await sql`UPDATE rewards SET stock = stock - 1 WHERE project_id = ${projectId} AND id = ${rewardId} AND stock > 0`.execute(this.db);
    return Number(r.numAffectedRows ?? 0) > 0;
  }

  /** Whether a profile is in any of the segments (memberships as the engine wrote them). */
  async inAnySegment(projectId: string, profileId: number, segmentIds: readonly string[]): Promise<boolean> {
    if (segmentIds.length === 0) return false;
    const r = await this.db.selectFrom('memberships').select('segment_id').where('project_id', '=', projectId).where('profile_id', '=', profileId)
      .where('segment_id', 'in', [...segmentIds]).limit(1).executeTakeFirst();
    return r !== undefined;
  }

  async insertRedemption(r: Omit<RedemptionRow, 'id'>): Promise<RedemptionRow> {
    const row = await this.db.insertInto('reward_redemptions').values({
      project_id: r.projectId, reward_id: r.rewardId, profile_id: r.profileId, code: r.code, cost: r.cost, at: r.at, ref: r.ref,
    }).returningAll().executeTakeFirstOrThrow();
    return toRedemption(row);
  }

  async setRedemptionCode(projectId: string, id: number, code: string): Promise<void> {
    await this.db.updateTable('reward_redemptions').set({ code }).where('project_id', '=', projectId).where('id', '=', id).execute();
  }

  /** A user's redemption made with an idempotency key. */
  async redemptionByRef(projectId: string, profileId: number, ref: string): Promise<RedemptionRow | null> {
    const r = await this.db.selectFrom('reward_redemptions').selectAll().where('project_id', '=', projectId).where('profile_id', '=', profileId)
      .where('ref', '=', ref).orderBy('id').executeTakeFirst();
    return r ? toRedemption(r) : null;
  }

  /** Redemptions per reward of one user. */
  async countsByUser(projectId: string, profileId: number): Promise<Map<string, number>> {
    const rows = await this.db.selectFrom('reward_redemptions').select(['reward_id', sql<number>`count(*)`.as('n')])
      .where('project_id', '=', projectId).where('profile_id', '=', profileId).groupBy('reward_id').execute();
    return new Map(rows.map((r) => [r.reward_id, Number(r.n)]));
  }

  async countForUser(projectId: string, rewardId: string, profileId: number): Promise<number> {
    const r = await this.db.selectFrom('reward_redemptions').select(sql<number>`count(*)`.as('n')).where('project_id', '=', projectId)
      .where('profile_id', '=', profileId).where('reward_id', '=', rewardId).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Redemptions per reward. */
  async counts(projectId: string): Promise<Map<string, number>> {
    const rows = await this.db.selectFrom('reward_redemptions').select(['reward_id', sql<number>`count(*)`.as('n')])
      .where('project_id', '=', projectId).groupBy('reward_id').execute();
    return new Map(rows.map((r) => [r.reward_id, Number(r.n)]));
  }

  /** Redemptions newest first, of a reward or of a user, before redemption id `beforeId` when given. */
  async redemptions(projectId: string, by: { rewardId: string } | { profileId: number }, limit: number, beforeId: number | null): Promise<RedemptionRow[]> {
    let q = this.db.selectFrom('reward_redemptions').selectAll().where('project_id', '=', projectId);
    q = 'rewardId' in by ? q.where('reward_id', '=', by.rewardId) : q.where('profile_id', '=', by.profileId);
    if (beforeId !== null) q = q.where('id', '<', beforeId);
    return (await q.orderBy('id', 'desc').limit(limit).execute()).map(toRedemption);
  }

  /** Number of redemptions and points spent on them in [from, to), of one reward or all, by some profiles or all (insights). */
  async stats(projectId: string, rewardId: string | null, profileIds: readonly number[] | null, from: number, to: number): Promise<{ redemptions: number; pointsSpent: number }> {
    const one = async (ids: readonly number[] | null) => {
      let q = this.db.selectFrom('reward_redemptions').select([sql<number>`count(*)`.as('n'), sql<number>`coalesce(sum(cost), 0)`.as('spent')])
        .where('project_id', '=', projectId).where('at', '>=', from).where('at', '<', to);
      if (rewardId !== null) q = q.where('reward_id', '=', rewardId);
      if (ids) q = q.where('profile_id', 'in', [...ids]);
      const r = await q.executeTakeFirstOrThrow();
      return { redemptions: Number(r.n), pointsSpent: Number(r.spent) };
    };
    if (profileIds === null) return one(null);
    const out = { redemptions: 0, pointsSpent: 0 };
    for (const c of chunks([...profileIds])) {
      const r = await one(c);
      out.redemptions += r.redemptions;
      out.pointsSpent += r.pointsSpent;
    }
    return out;
  }
}

/** Redemptions of a merged-away profile belong to the surviving one (ingest's merge, `IngestStore.merge`, calls it). */
export async function mergeRewards(db: Kysely<Database>, projectId: string, from: number, into: number): Promise<void> {
  await db.updateTable('reward_redemptions').set({ profile_id: into }).where('project_id', '=', projectId).where('profile_id', '=', from).execute();
}
