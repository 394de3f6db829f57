import type { Json } from '@strata/core';
import { PointsStore, type SqlStore } from '@strata/store';
import type { Clock } from './clock.ts';
import type { ExperienceForUser, ExperienceService } from './experience-service.ts';
import type { LiveEngine } from './live-engine.ts';

/** A source of targeted content for one user (missions, rewards): see MissionService / RewardService. */
export interface TargetSource<T> {
  forUser(tx: SqlStore, projectId: string, profileId: number, now: number): Promise<T[]>;
}

export interface TargetingView {
  readonly userId: string | null;
  readonly anonymousId: string | null;
  /** false: Strata has not seen this user; they get what targets everyone. */
  readonly known: boolean;
  /** The user's segments; null where they are not disclosed (the public API without identity verification: docs/targeting.md). */
  readonly segments: { id: string; name: string }[] | null;
  readonly points: number;
  readonly missions: Json[];
  readonly rewards: Json[];
  readonly experiences: ExperienceForUser[];
}

/** A profile id no profile has: what "nobody in particular" is targeted with. */
const NOBODY = -1;

/**
 * What a user may see now: their segments (from the engine's memory), then the active
 * missions with their progress, the rewards they may redeem with affordability and stock, the
 * experiences' winning variants, and their points balance (GET /v1/targeting, GET
 * /api/users/:id/targeting).
 */
export class TargetingService {
  constructor(
    private readonly store: SqlStore,
    private readonly engine: LiveEngine,
    private readonly clock: Clock,
    private readonly experiences: ExperienceService,
    private readonly sources: { missions?: TargetSource<unknown>; rewards?: TargetSource<unknown> } = {},
  ) {}

  /**
   * `withSegments: false` leaves the segments' names and ids out (null); they still decide
   * which experiences, missions and rewards the user gets.
   */
  async forUser(projectId: string, id: { userId?: string; anonymousId?: string }, opts: { withSegments?: boolean } = {}): Promise<TargetingView> {
    const lookup = id.userId ?? id.anonymousId!;
    // One key lookup; the ids come from the engine's copy of the record (every profile is in memory).
    const key = await this.store.profileKey(projectId, lookup);
    const profile = key ? this.engine.record(projectId, key.profileId) ?? (await this.store.findProfile(projectId, lookup)) : null;
    const profileId = profile?.id ?? NOBODY;
    const now = this.clock.now();
    const segmentIds = profile ? this.engine.segmentsOf(projectId, profile.id) : [];
    const [missions, rewards, experiences, points] = await Promise.all([
      this.sources.missions?.forUser(this.store, projectId, profileId, now) ?? [],
      this.sources.rewards?.forUser(this.store, projectId, profileId, now) ?? [],
      this.experiences.forUser(projectId, new Set(segmentIds)),
      profile ? new PointsStore(this.store).balance(projectId, profile.id) : 0,
    ]);
    return {
      userId: profile?.userId ?? id.userId ?? null, anonymousId: profile?.anonymousId ?? id.anonymousId ?? null, known: profile !== null,
      segments: opts.withSegments === false ? null : this.named(projectId, segmentIds), points,
      missions: missions as Json[], rewards: rewards as Json[], experiences,
    };
  }

  private named(projectId: string, segmentIds: readonly string[]): { id: string; name: string }[] {
    const names = this.engine.segmentNames(projectId);
    return segmentIds.map((s) => ({ id: s, name: names.get(s) ?? s }));
  }
}
