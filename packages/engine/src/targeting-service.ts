import type { Json } from '@strata/core';
import { PointsStore, type SqlStore } from '@strata/store';
import type { Clock } from './clock.ts';
import type { ExperienceForUser, ExperienceService } from './experience-service.ts';
import type { MembershipReader } from './membership-reader.ts';

/** A source of targeted content for one user (missions, rewards): see MissionService / RewardService. */
export interface TargetSource<T> {
  /** `segments`: the ids of the user's segments, read by the targeting already. */
  forUser(tx: SqlStore, projectId: string, profileId: number, now: number, segments: ReadonlySet<string>): Promise<T[]>;
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
 * What a user may see now: their segments (from the engine's memory on a process of the all
 * role, from the store's membership rows on one of the api role: membership-reader.ts), then the active
 * missions with their progress, the rewards they may redeem with affordability and stock, the
 * experiences' winning variants, and their points balance (GET /v1/targeting, GET
 * /api/users/:id/targeting).
 */
export class TargetingService {
  constructor(
    private readonly store: SqlStore,
    private readonly memberships: MembershipReader,
    private readonly clock: Clock,
    private readonly experiences: ExperienceService,
    private readonly sources: { missions?: TargetSource<unknown>; rewards?: TargetSource<unknown> } = {},
  ) {}

  /**
   * `withSegments: false` leaves the segments' names and ids out (null); they still decide
   * which experiences, missions and rewards the user gets.
   */
  async forUser(projectId: string, id: { userId?: string; anonymousId?: string }, opts: { withSegments?: boolean } = {}): Promise<TargetingView> {
    const profile = await this.memberships.profile(projectId, id.userId ?? id.anonymousId!);
    const profileId = profile?.id ?? NOBODY;
    const now = this.clock.now();
    const segments = profile ? await this.memberships.segmentsOf(projectId, profile.id) : [];
    const ids = new Set(segments.map((x) => x.id));
    const [missions, rewards, experiences, points] = await Promise.all([
      this.sources.missions?.forUser(this.store, projectId, profileId, now, ids) ?? [],
      this.sources.rewards?.forUser(this.store, projectId, profileId, now, ids) ?? [],
      this.experiences.forUser(projectId, ids),
      profile ? new PointsStore(this.store).balance(projectId, profile.id) : 0,
    ]);
    return {
      userId: profile?.userId ?? id.userId ?? null, anonymousId: profile?.anonymousId ?? id.anonymousId ?? null, known: profile !== null,
      segments: opts.withSegments === false ? null : [...segments], points,
      missions: missions as Json[], rewards: rewards as Json[], experiences,
    };
  }
}
