import { AppError, isoTime as iso, type Json, type JsonObject } from '@strata/core';
import { MissionStore, RewardStore, UserDataStore, type ErasureCounts, type IngestItem, type Rejection, type SqlStore, type StoredEvent } from '@strata/store';
import type { Clock } from './clock.ts';
import type { LiveEngine } from './live-engine.ts';

/** The ingestion warning for messages dropped because they name a suppressed id: it carries no id. */
export const suppressedWarning = (n: number): Rejection => ({
  index: -1, message: `${n} message${n === 1 ? '' : 's'} dropped: naming a user erased with suppression`, payload: '',
});

/**
 * Ingest's view of suppressed ids. Most projects have none: whether a project has any is
 * cached, so their batches cost no lookup; it is re-read after an erasure with suppression.
 */
export class SuppressionList {
  /** Whether a project has suppressed ids, and until when that answer is trusted (ms since the epoch). */
  private readonly any = new Map<string, { any: boolean; until: number }>();
  /** Counts invalidations: a read that began before one never fills the cache after it. */
  private generation = 0;

  /**
   * `store`: what `screen` reads, before a request is appended to the event log. `ttlMs`: how long
   * "this project has no suppressed ids" is trusted. The process that erases invalidates it at
   * once; a process of the api role, which never erases, reads it again after this long (5 s there).
   */
  constructor(private readonly store?: SqlStore, private readonly ttlMs = Number.POSITIVE_INFINITY) {}

  /**
   * `filter` on the store, outside any transaction: ingest screens a request before it is appended
   * to the event log, so that messages naming an erased id are not kept even there. (The worker
   * filters again when it applies: an erasure may commit in between.)
   */
  screen(projectId: string, items: readonly IngestItem[]): Promise<{ kept: readonly IngestItem[]; dropped: number }> {
    return this.store ? this.filter(this.store, projectId, items) : Promise.resolve({ kept: items, dropped: 0 });
  }

  /** Called in the erasure's transaction: the next writer reads the store again (committed or rolled back). */
  invalidate(projectId: string): void {
    this.any.delete(projectId);
    this.generation++;
  }

  /** The items of a batch that name no suppressed id (userId, anonymousId or previousId), and how many were dropped. */
  async filter(tx: SqlStore, projectId: string, items: readonly IngestItem[]): Promise<{ kept: readonly IngestItem[]; dropped: number }> {
    const store = new UserDataStore(tx);
    const known = this.any.get(projectId);
    let any = known !== undefined && Date.now() < known.until ? known.any : undefined;
    if (any === undefined) {
      const generation = this.generation;
      any = await store.hasSuppressions(projectId);
      if (generation === this.generation) this.any.set(projectId, { any, until: Date.now() + this.ttlMs });
    }
    if (!any || items.length === 0) return { kept: items, dropped: 0 };
    const idsOf = (i: IngestItem) => [i.userId, i.anonymousId, i.previousId].filter((x): x is string => x !== null);
    const suppressed = await store.suppressedAmong(projectId, items.flatMap(idsOf));
    if (suppressed.size === 0) return { kept: items, dropped: 0 };
    const kept = items.filter((i) => !idsOf(i).some((id) => suppressed.has(id)));
    return { kept, dropped: items.length - kept.length };
  }
}

const eventView = (e: StoredEvent) => ({
  messageId: e.messageId, type: e.type, event: e.name, properties: e.properties, context: e.context, timestamp: iso(e.timestamp), receivedAt: iso(e.receivedAt),
});

/** Everything held about a user, as `GET /api/users/:id/export` answers it. */
export interface UserExport {
  readonly exportedAt: string;
  readonly profile: {
    readonly userId: string | null; readonly anonymousId: string | null; readonly traits: JsonObject; readonly traitsUpdatedAt: Record<string, string>;
    readonly context: JsonObject; readonly contextAt: string | null; readonly labels: string[];
    readonly firstSeen: string | null; readonly lastSeen: string | null; readonly createdAt: string; readonly updatedAt: string;
  };
  readonly keys: { readonly kind: 'userId' | 'anonymousId'; readonly id: string }[];
  readonly events: ReturnType<typeof eventView>[];
  readonly visits: ReturnType<typeof eventView>[];
  readonly memberships: { segmentId: string; segmentName: string | null; since: string }[];
  readonly membershipHistory: { segmentId: string; segmentName: string | null; kind: 'entered' | 'exited'; at: string; reason: string }[];
  readonly manualLists: { segmentId: string; segmentName: string | null; list: 'include' | 'exclude' }[];
  readonly points: { balance: number; ledger: { kind: string; amount: number; balance: number; reason: string; ref: string | null; at: string }[] };
  readonly missions: {
    progress: { missionId: string; missionName: string | null; startedAt: string; progress: number; completions: number; lastCompletedAt: string | null }[];
    completions: { missionId: string; missionName: string | null; n: number; at: string; points: number }[];
  };
  readonly redemptions: { rewardId: string; rewardName: string | null; code: string | null; cost: number; at: string; ref: string | null }[];
  readonly outbox: { target: string; messageId: string; kind: string; status: string; createdAt: string; deliveredAt: string | null; payload: Json }[];
  readonly ingestWarnings: { receivedAt: string; index: number; message: string; payload: string }[];
  readonly importBadRows: { importId: string; line: number; reason: string }[];
}

/**
 * A user's data as a whole (docs/privacy.md): the export of everything held about them, and
 * the erasure that removes it from every table and from the live engine in one transaction,
 * optionally suppressing their ids at ingest from then on.
 */
export class UserDataService {
  constructor(
    private readonly store: SqlStore,
    private readonly engine: LiveEngine,
    private readonly clock: Clock,
    private readonly suppressions: SuppressionList,
    /** Drops applied records from the event log and makes them unreadable there (IngestService.forgetApplied). */
    private readonly forgetLogged: () => Promise<void> = async () => undefined,
  ) {}

  private notFound(id: string): AppError {
    return new AppError({ code: 'NOT_FOUND', message: `no user with userId or anonymousId "${id}"` });
  }

  async export(projectId: string, id: string): Promise<UserExport> {
    const now = this.clock.now();
    return this.store.transaction(async (tx) => {
      const data = new UserDataStore(tx);
      // One snapshot: the export is the state at one instant, even while ingest writes.
      await data.snapshot();
      const key = await tx.profileKey(projectId, id);
      const r = key ? await data.collect(projectId, key.profileId) : null;
      if (!r) throw this.notFound(id);
      const segments = new Map((await tx.listSegments(projectId)).map((s) => [s.id, s.name]));
      const missions = new Map((await new MissionStore(tx).list(projectId)).map((m) => [m.id, m.name]));
      const rewards = new Map((await new RewardStore(tx).list(projectId)).map((w) => [w.id, w.name]));
      const isVisit = (e: StoredEvent) => e.name === '$session' && e.type === 'session';
      const p = r.profile;
      return {
        exportedAt: iso(now),
        profile: {
          userId: p.userId, anonymousId: p.anonymousId, traits: p.traits,
          traitsUpdatedAt: Object.fromEntries(Object.entries(p.traitsAt).map(([k, at]) => [k, iso(at)])),
          context: p.context, contextAt: iso(p.contextAt), labels: p.labels, firstSeen: iso(p.firstSeen), lastSeen: iso(p.lastSeen),
          createdAt: iso(p.createdAt), updatedAt: iso(p.updatedAt),
        },
        keys: r.keys,
        events: r.events.filter((e) => !isVisit(e)).map(eventView),
        visits: r.events.filter(isVisit).map(eventView),
        memberships: r.memberships.map((m) => ({ segmentId: m.segmentId, segmentName: segments.get(m.segmentId) ?? null, since: iso(m.since) })),
        membershipHistory: r.history.map((h) => ({ segmentId: h.segmentId, segmentName: segments.get(h.segmentId) ?? null, kind: h.kind, at: iso(h.at), reason: h.reason })),
        manualLists: r.manualLists.map((m) => ({ ...m, segmentName: segments.get(m.segmentId) ?? null })),
        points: { balance: r.points.balance, ledger: r.points.ledger.map((e) => ({ kind: e.kind, amount: e.amount, balance: e.balance, reason: e.reason, ref: e.ref, at: iso(e.at) })) },
        missions: {
          progress: r.missionProgress.map((m) => ({
            missionId: m.missionId, missionName: missions.get(m.missionId) ?? null, startedAt: iso(m.startedAt), progress: m.progress,
            completions: m.completions, lastCompletedAt: iso(m.lastCompletedAt),
          })),
          completions: r.missionCompletions.map((c) => ({ missionId: c.missionId, missionName: missions.get(c.missionId) ?? null, n: c.n, at: iso(c.at), points: c.points })),
        },
        redemptions: r.redemptions.map((x) => ({ rewardId: x.rewardId, rewardName: rewards.get(x.rewardId) ?? null, code: x.code, cost: x.cost, at: iso(x.at), ref: x.ref })),
        outbox: r.outbox.map((o) => ({ target: o.target, messageId: o.messageId, kind: o.kind, status: o.status, createdAt: iso(o.createdAt), deliveredAt: iso(o.deliveredAt), payload: o.payload })),
        ingestWarnings: r.ingestWarnings.map((w) => ({ receivedAt: iso(w.receivedAt), index: w.index, message: w.message, payload: w.payload })),
        importBadRows: r.importBadRows,
      };
    });
  }

  /**
   * Erases a user: every row naming their profile or ids, and the engine's memory of them,
   * in one transaction. With `suppress`, later ingest of any of their ids is dropped.
   */
  async erase(projectId: string, id: string, opts: { suppress: boolean }): Promise<ErasureCounts> {
    const counts = await this.engine.write(async (tx) => {
      const key = await tx.profileKey(projectId, id);
      if (!key) throw this.notFound(id);
      const now = this.clock.now();
      await this.engine.forget(tx, projectId, key.profileId, now);
      const erased = await new UserDataStore(tx).erase(projectId, key.profileId, now, opts);
      if (!erased) throw this.notFound(id);
      if (opts.suppress) this.suppressions.invalidate(projectId);
      return erased;
    });
    // Again once committed: a screen of ingest (outside this transaction) may have read the store as it was before.
    if (opts.suppress) this.suppressions.invalidate(projectId);
    // The erasure has committed: a failed checkpoint must not answer as if it had not (the next one writes the same pages).
    await new UserDataStore(this.store).checkpoint().catch((e: unknown) => {
      console.error(`strata: erasure committed, WAL checkpoint not done yet: ${(e as Error).message}`);
    });
    // The user's events came through the event log: what of them is applied is dropped from it now, not at the next trim.
    await this.forgetLogged().catch((e: unknown) => {
      console.error(`strata: erasure committed, the event log not emptied of applied records yet: ${(e as Error).message}`);
    });
    return counts;
  }
}
