import type { ApiView } from './api-view.ts';
import { randomBytes } from 'node:crypto';
import { AppError, validationError, type Issue, isoTime as iso } from '@strata/core';
import { PointsStore, RewardStore, type CodeCounts, type RedemptionRow, type RewardRow, type RewardType, type SqlStore } from '@strata/store';
import type { Clock } from './clock.ts';
import type { LiveEngine } from './live-engine.ts';
import { engineMemberships, segmentIdsOf, type MembershipReader } from './membership-reader.ts';
import type { PointsService } from './points-service.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { newId } from './ids.ts';

export interface RewardInput {
  readonly name: string;
  readonly description?: string;
  readonly type: RewardType;
  readonly cost: number;
  readonly stock?: number | null;
  readonly perUserLimit?: number | null;
  readonly segmentIds?: readonly string[];
  readonly active?: boolean;
  /** ISO date-time or null. */
  readonly startsAt?: string | null;
  readonly endsAt?: string | null;
}

export type RewardPatch = Partial<RewardInput>;

export interface RewardView extends ApiView<RewardRow, 'startsAt' | 'endsAt' | 'createdAt' | 'updatedAt'> {
  /** The code pool: codes uploaded and those not handed out yet. */
  readonly codes: CodeCounts;
  readonly redemptions: number;
}

export interface RedemptionView {
  readonly id: number;
  readonly rewardId: string;
  /** null once the reward is deleted. */
  readonly rewardName: string | null;
  readonly userId: string | null;
  readonly code: string | null;
  readonly cost: number;
  readonly at: string;
  readonly ref: string | null;
}

export interface RedeemResult {
  readonly redemption: RedemptionView;
  /** The user's balance after the redemption (now, for a repeated request). */
  readonly balance: number;
  /** true: this idempotency key was redeemed before; that redemption is answered again and nothing was charged. */
  readonly duplicate: boolean;
}

/** A reward as one user sees it in the shop (GET /v1/targeting). */
export interface RewardForUser extends Pick<RewardRow, 'id' | 'name' | 'description' | 'type' | 'cost' | 'stock'> {
  /** A unit (and, for a pooled reward, a code) is left. */
  readonly inStock: boolean;
  readonly redeemedByUser: number;
  /** Redemptions this user has left; null: no limit. */
  readonly remainingForUser: number | null;
  /** The user's balance covers the cost. */
  readonly affordable: boolean;
  readonly endsAt: string | null;
}

/** Types whose redemption hands out a code even without a pool: Strata generates one. */
const CODE_TYPES: ReadonlySet<RewardType> = new Set(['coupon', 'voucher']);
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A random 12-character code (Crockford base32: no I, L, O, U), grouped for reading aloud: `7K2M-QX9P-4TWD`. */
export function generateCode(): string {
  const bytes = randomBytes(12);
  let s = '';
  for (let i = 0; i < 12; i++) s += CODE_ALPHABET[bytes[i]! & 31];
  return `${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8)}`;
}

const MAX_POINTS = 1_000_000_000;

/**
 * Rewards (the bonus shop): definitions targeted at segments, code pools, and redemption.
 *
 * A redemption is one transaction through the engine's writer (`engine.write`), and each of its
 * steps is also safe on its own in the database, so it holds when transactions race without
 * the in-process writer (`redeemIn`): the user's balance row is locked first (one user's
 * redemptions run one at a time), the stock is taken by a conditional update, a code is
 * claimed by a conditional update, and the points are spent by the ledger's conditional update
 * (never below zero). Each refusal is a 409 whose code names the first check that failed, in
 * this order: REWARD_INACTIVE, OUTSIDE_DATES, NOT_IN_SEGMENT, LIMIT_REACHED, OUT_OF_STOCK,
 * INSUFFICIENT_POINTS.
 */
export class RewardService {
  constructor(
    private readonly store: SqlStore,
    private readonly engine: LiveEngine,
    private readonly points: PointsService,
    private readonly clock: Clock,
    memberships?: MembershipReader,
  ) {
    this.memberships = memberships ?? engineMemberships(engine, store);
  }

  /** Where the targeting learns a user's segments (the engine, or the store on a process of the api role). */
  private readonly memberships: MembershipReader;

  /** Per project, the rewards and their pools' counts as the targeting API reads them; dropped by every write here. */
  private readonly catalogs = new Map<string, Promise<{ rows: RewardRow[]; codes: Map<string, CodeCounts> }>>();

  private catalog(projectId: string): Promise<{ rows: RewardRow[]; codes: Map<string, CodeCounts> }> {
    let c = this.catalogs.get(projectId);
    if (!c) {
      const rs = new RewardStore(this.store);
      c = rs.list(projectId).then(async (rows) => ({ rows, codes: await rs.codeCounts(projectId, rows.map((r) => r.id)) }));
      c.catch(() => this.catalogs.delete(projectId));
      this.catalogs.set(projectId, c);
    }
    return c;
  }

  /**
   * Runs a write through the engine's writer, moving the project's definitions counter on in its
   * transaction (what processes of the api role check their copies against), then forgets the
   * project's catalog, whether the write committed or not.
   */
  private async changing<T>(projectId: string, fn: (tx: SqlStore) => Promise<T>): Promise<T> {
    try {
      return await this.engine.write(async (tx) => {
        const out = await fn(tx);
        await tx.bumpDefinitions(projectId);
        return out;
      });
    } finally {
      this.forget(projectId);
    }
  }

  /** Forgets the project's catalog (a change, or one made by another process). */
  forget(projectId: string): void {
    this.catalogs.delete(projectId);
  }

  // ------------------------------------------------------------ definitions

  /** Validates a whole reward; `store` is the caller's transaction when there is one (SQLite has one connection). */
  private async check(store: SqlStore, projectId: string, r: RewardInput): Promise<void> {
    const issues: Issue[] = [];
    if (!Number.isSafeInteger(r.cost) || r.cost < 0 || r.cost > MAX_POINTS) issues.push({ path: '/cost', message: `must be a whole number of points from 0 to ${MAX_POINTS}` });
    if (r.stock != null && (!Number.isSafeInteger(r.stock) || r.stock < 0)) issues.push({ path: '/stock', message: 'must be a whole number >= 0, or null (unlimited)' });
    if (r.perUserLimit != null && (!Number.isSafeInteger(r.perUserLimit) || r.perUserLimit < 1)) issues.push({ path: '/perUserLimit', message: 'must be a whole number >= 1, or null (no limit)' });
    const at = (k: 'startsAt' | 'endsAt') => {
      const v = r[k];
      if (v == null) return null;
      const ms = Date.parse(v);
      if (Number.isNaN(ms)) issues.push({ path: `/${k}`, message: 'must be an ISO 8601 date-time' });
      return Number.isNaN(ms) ? null : ms;
    };
    const from = at('startsAt'), to = at('endsAt');
    if (from !== null && to !== null && to <= from) issues.push({ path: '/endsAt', message: 'must be after startsAt' });
    if (r.segmentIds?.length) {
      const known = new Set((await store.listSegments(projectId)).map((s) => s.id));
      r.segmentIds.forEach((id, i) => { if (!known.has(id)) issues.push({ path: `/segmentIds/${i}`, message: `unknown segment id "${id}"` }); });
    }
    if (issues.length) throw validationError('the reward is not valid', issues);
  }

  private async require(rs: RewardStore, projectId: string, id: string): Promise<RewardRow> {
    const row = await rs.get(projectId, id);
    if (!row) throw new AppError({ code: 'NOT_FOUND', message: `no reward with id "${id}"` });
    return row;
  }

  private async views(projectId: string, rows: readonly RewardRow[]): Promise<RewardView[]> {
    const rs = new RewardStore(this.store);
    const codes = await rs.codeCounts(projectId, rows.map((r) => r.id));
    const counts = rows.length === 1 ? null : await rs.counts(projectId);
    const out: RewardView[] = [];
    for (const r of rows) {
      const redemptions = counts ? counts.get(r.id) ?? 0 : (await rs.stats(projectId, r.id, null, 0, Number.MAX_SAFE_INTEGER)).redemptions;
      out.push({
        id: r.id, name: r.name, description: r.description, type: r.type, cost: r.cost, stock: r.stock, perUserLimit: r.perUserLimit,
        segmentIds: r.segmentIds, active: r.active, startsAt: iso(r.startsAt), endsAt: iso(r.endsAt),
        codes: codes.get(r.id) ?? { total: 0, available: 0 }, redemptions, createdAt: iso(r.createdAt), updatedAt: iso(r.updatedAt),
      });
    }
    return out;
  }

  async create(projectId: string, input: RewardInput): Promise<RewardView> {
    // Checked and written by the writer: a segment deleted meanwhile cannot end up targeted.
    const row = await this.changing(projectId, async (tx) => {
      await this.check(tx, projectId, input);
      const r = this.newRow(projectId, input);
      await new RewardStore(tx).insert(r);
      return r;
    });
    return (await this.views(projectId, [row]))[0]!;
  }

  private newRow(projectId: string, input: RewardInput): RewardRow {
    const now = this.clock.now();
    return {
      projectId, id: newId('rwd'), name: input.name, description: input.description ?? '', type: input.type, cost: input.cost,
      stock: input.stock ?? null, perUserLimit: input.perUserLimit ?? null, segmentIds: [...new Set(input.segmentIds ?? [])], active: input.active ?? true,
      startsAt: input.startsAt == null ? null : Date.parse(input.startsAt), endsAt: input.endsAt == null ? null : Date.parse(input.endsAt),
      createdAt: now, updatedAt: now,
    };
  }

  async update(projectId: string, id: string, patch: RewardPatch): Promise<RewardView> {
    // Through the writer: a change of stock must not interleave with a redemption's transaction.
    const row = await this.changing(projectId, async (tx) => {
      const rs = new RewardStore(tx);
      const cur = await this.require(rs, projectId, id);
      const merged: RewardInput = {
        name: patch.name ?? cur.name, description: patch.description ?? cur.description, type: patch.type ?? cur.type, cost: patch.cost ?? cur.cost,
        stock: patch.stock !== undefined ? patch.stock : cur.stock, perUserLimit: patch.perUserLimit !== undefined ? patch.perUserLimit : cur.perUserLimit,
        segmentIds: patch.segmentIds ?? cur.segmentIds, active: patch.active ?? cur.active,
        startsAt: patch.startsAt !== undefined ? patch.startsAt : iso(cur.startsAt), endsAt: patch.endsAt !== undefined ? patch.endsAt : iso(cur.endsAt),
      };
      await this.check(tx, projectId, merged);
      const next: RewardRow = {
        ...cur, name: merged.name, description: merged.description ?? '', type: merged.type, cost: merged.cost, stock: merged.stock ?? null,
        perUserLimit: merged.perUserLimit ?? null, segmentIds: [...new Set(merged.segmentIds ?? [])], active: merged.active ?? true,
        startsAt: merged.startsAt == null ? null : Date.parse(merged.startsAt), endsAt: merged.endsAt == null ? null : Date.parse(merged.endsAt),
        updatedAt: Math.max(this.clock.now(), cur.updatedAt + 1),
      };
      await rs.update(next);
      return next;
    });
    return (await this.views(projectId, [row]))[0]!;
  }

  /** Deletes a reward and its unused codes; its redemptions stay in the history. */
  async delete(projectId: string, id: string): Promise<void> {
    await this.changing(projectId, async (tx) => {
      if (!(await new RewardStore(tx).delete(projectId, id))) throw new AppError({ code: 'NOT_FOUND', message: `no reward with id "${id}"` });
    });
  }

  async get(projectId: string, id: string): Promise<RewardView> {
    return (await this.views(projectId, [await this.require(new RewardStore(this.store), projectId, id)]))[0]!;
  }

  async list(projectId: string): Promise<RewardView[]> {
    return this.views(projectId, await new RewardStore(this.store).list(projectId));
  }

  /** Uploads codes to a reward's pool; codes already in it (or repeated in the upload) are skipped. */
  async addCodes(projectId: string, id: string, codes: readonly string[]): Promise<{ added: number; duplicates: number } & CodeCounts> {
    const issues: Issue[] = [];
    codes.forEach((c, i) => { if (c.trim() !== c || c.length === 0) issues.push({ path: `/codes/${i}`, message: 'a code has no leading or trailing white space and is not empty' }); });
    if (issues.length) throw validationError('some codes are not valid', issues);
    return this.changing(projectId, async (tx) => {
      const rs = new RewardStore(tx);
      await this.require(rs, projectId, id);
      const added = await rs.addCodes(projectId, id, codes, this.clock.now());
      const counts = (await rs.codeCounts(projectId, [id])).get(id) ?? { total: 0, available: 0 };
      return { added, duplicates: codes.length - added, ...counts };
    });
  }

  // ------------------------------------------------------------ redemption

  /** A known user's profile; an anonymous user cannot redeem (points and codes go to people who signed in). */
  private async user(tx: SqlStore, projectId: string, userId: string): Promise<number> {
    // Held to the end of the transaction: a merge that moves the key to another profile (a worker's, beside an api process) waits for it.
    const key = await tx.profileKey(projectId, userId, true);
    if (!key) throw new AppError({ code: 'NOT_FOUND', message: `no user with userId "${userId}"` });
    if (key.kind !== 'u') {
      throw new AppError({ code: 'VALIDATION_FAILED', message: `"${userId}" is an anonymousId: anonymous users cannot redeem; identify the user first`, issues: [{ path: '/userId', message: 'is an anonymousId; redeeming needs a userId' }] });
    }
    return key.profileId;
  }

  /**
   * Redeems a reward for a user (by userId) in one transaction of the engine's writer. With a
   * `ref` (idempotency key), a repeated request answers the user's earlier redemption with that
   * key and changes nothing.
   */
  async redeem(projectId: string, rewardId: string, userId: string, opts: { ref?: string | null } = {}): Promise<RedeemResult> {
    const out = await this.changing(projectId, async (tx) => {
      const profileId = await this.user(tx, projectId, userId);
      return this.redeemIn(tx, projectId, rewardId, profileId, opts.ref ?? null, this.clock.now());
    });
    const rs = new RewardStore(this.store);
    return { redemption: (await this.redemptionViews(projectId, [out.redemption], rs))[0]!, balance: out.balance, duplicate: out.duplicate };
  }

  /**
   * The redemption itself, in the caller's transaction: every check and write, each one safe
   * against a concurrent transaction doing the same (see the class comment). Throws the 409
   * of the first check that fails; the caller's transaction then rolls back what was taken.
   */
  async redeemIn(tx: SqlStore, projectId: string, rewardId: string, profileId: number, ref: string | null, now: number): Promise<{ redemption: RedemptionRow; balance: number; duplicate: boolean }> {
    const rs = new RewardStore(tx);
    await rs.lockUser(projectId, profileId);
    if (ref !== null) {
      const seen = await rs.redemptionByRef(projectId, profileId, ref);
      if (seen) {
        if (seen.rewardId !== rewardId) throw new AppError({ code: 'CONFLICT', message: `this idempotency key was used to redeem another reward (${seen.rewardId})` });
        return { redemption: seen, balance: await new PointsStore(tx).balance(projectId, profileId), duplicate: true };
      }
    }
    const reward = await this.require(rs, projectId, rewardId);
    const refuse = (code: 'REWARD_INACTIVE' | 'OUTSIDE_DATES' | 'NOT_IN_SEGMENT' | 'LIMIT_REACHED' | 'OUT_OF_STOCK', message: string) => new AppError({ code, message });
    if (!reward.active) throw refuse('REWARD_INACTIVE', `reward "${reward.name}" is not active`);
    if (reward.startsAt !== null && now < reward.startsAt) throw refuse('OUTSIDE_DATES', `reward "${reward.name}" can be redeemed from ${iso(reward.startsAt)}`);
    if (reward.endsAt !== null && now >= reward.endsAt) throw refuse('OUTSIDE_DATES', `reward "${reward.name}" could be redeemed until ${iso(reward.endsAt)}`);
    if (reward.segmentIds.length && !(await rs.inAnySegment(projectId, profileId, reward.segmentIds))) {
      throw refuse('NOT_IN_SEGMENT', `reward "${reward.name}" is for members of segment${reward.segmentIds.length > 1 ? 's' : ''} ${reward.segmentIds.join(', ')}; this user is in none`);
    }
    if (reward.perUserLimit !== null) {
      const n = await rs.countForUser(projectId, rewardId, profileId);
      if (n >= reward.perUserLimit) throw refuse('LIMIT_REACHED', `this user has redeemed reward "${reward.name}" ${n} time${n === 1 ? '' : 's'}; the limit is ${reward.perUserLimit}`);
    }
    if (reward.stock !== null && !(await rs.takeStock(projectId, rewardId))) throw refuse('OUT_OF_STOCK', `reward "${reward.name}" is out of stock`);
    let redemption = await rs.insertRedemption({ projectId, rewardId, profileId, code: null, cost: reward.cost, at: now, ref });
    const pooled = ((await rs.codeCounts(projectId, [rewardId])).get(rewardId)?.total ?? 0) > 0;
    const code = pooled ? await rs.claimCode(projectId, rewardId, redemption.id) : CODE_TYPES.has(reward.type) ? generateCode() : null;
    if (pooled && code === null) throw refuse('OUT_OF_STOCK', `reward "${reward.name}" has no codes left`);
    if (code !== null) {
      await rs.setRedemptionCode(projectId, redemption.id, code);
      redemption = { ...redemption, code };
    }
    let balance: number;
    if (reward.cost > 0) {
      const r = await this.points.change(tx, projectId, profileId, { kind: 'spend', amount: -reward.cost, reason: `reward: ${reward.name}`, ref: `redemption:${redemption.id}` });
      balance = r.entry.balance;
    } else {
      balance = await new PointsStore(tx).balance(projectId, profileId);
    }
    return { redemption, balance, duplicate: false };
  }

  private async redemptionViews(projectId: string, rows: readonly RedemptionRow[], rs: RewardStore): Promise<RedemptionView[]> {
    const people = new Map((await this.store.getProfiles(projectId, [...new Set(rows.map((r) => r.profileId))])).map((p) => [p.id, p.userId]));
    const names = new Map((await rs.list(projectId)).map((r) => [r.id, r.name]));
    return rows.map((r) => ({
      id: r.id, rewardId: r.rewardId, rewardName: names.get(r.rewardId) ?? null, userId: people.get(r.profileId) ?? null,
      code: r.code, cost: r.cost, at: iso(r.at), ref: r.ref,
    }));
  }

  /** Redemptions newest first, of a reward or of a user (userId or anonymousId), by cursor. */
  async redemptions(projectId: string, of: { rewardId: string } | { userId: string }, limit: number, cursor: string | null): Promise<{ redemptions: RedemptionView[]; nextCursor: string | null }> {
    const rs = new RewardStore(this.store);
    let by: { rewardId: string } | { profileId: number };
    if ('rewardId' in of) {
      await this.require(rs, projectId, of.rewardId);
      by = of;
    } else {
      const key = await this.store.profileKey(projectId, of.userId);
      if (!key) throw new AppError({ code: 'NOT_FOUND', message: `no user with userId or anonymousId "${of.userId}"` });
      by = { profileId: key.profileId };
    }
    const rows = await rs.redemptions(projectId, by, limit + 1, decodeCursor(cursor));
    const page = rows.slice(0, limit);
    return { redemptions: await this.redemptionViews(projectId, page, rs), nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]!.id) : null };
  }

  // ------------------------------------------------------------ targeting and insights

  /**
   * The shop as one user sees it at `now`: active, in-date rewards that target everyone or a
   * segment the user is in, with stock, the user's redemptions and affordability. Rewards the
   * user cannot redeem right now (sold out, limit reached, too expensive) are listed with the
   * reason readable from the fields. `profileId` may name no profile (an unknown user).
   */
  async forUser(tx: SqlStore, projectId: string, profileId: number, now: number, known?: ReadonlySet<string>): Promise<RewardForUser[]> {
    const { rows: all, codes } = await this.catalog(projectId);
    const live = all.filter((r) => r.active && (r.startsAt === null || now >= r.startsAt) && (r.endsAt === null || now < r.endsAt));
    if (live.length === 0) return [];
    // Membership from the engine's memory (exact now, and no query), or the store's rows on a process of the api role.
    const segments = await segmentIdsOf(this.memberships, projectId, profileId, known);
    const visible = live.filter((r) => r.segmentIds.length === 0 || r.segmentIds.some((s) => segments.has(s)));
    if (visible.length === 0) return [];
    const [mine, balance] = await Promise.all([new RewardStore(tx).countsByUser(projectId, profileId), new PointsStore(tx).balance(projectId, profileId)]);
    return visible
      .sort((a, b) => a.cost - b.cost || a.createdAt - b.createdAt || a.id.localeCompare(b.id))
      .map((r) => {
        const pool = codes.get(r.id);
        const redeemed = mine.get(r.id) ?? 0;
        return {
          id: r.id, name: r.name, description: r.description, type: r.type, cost: r.cost, stock: r.stock,
          inStock: (r.stock === null || r.stock > 0) && (!pool || pool.available > 0),
          redeemedByUser: redeemed, remainingForUser: r.perUserLimit === null ? null : Math.max(0, r.perUserLimit - redeemed),
          affordable: balance >= r.cost, endsAt: iso(r.endsAt),
        };
      });
  }

}
