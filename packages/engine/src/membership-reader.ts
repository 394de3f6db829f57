import type { SqlStore } from '@strata/store';
import type { LiveEngine } from './live-engine.ts';

/** Who a profile is, as targeting names them back. */
export interface ProfileIds {
  readonly id: number;
  readonly userId: string | null;
  readonly anonymousId: string | null;
  readonly lastSeen: number | null;
}

/**
 * Where the targeting reads (GET /v1/targeting, the missions and rewards a user may see) learn a
 * profile's segments. A process of the all role answers from the engine's memory (exact now, no
 * query); a process of the api role holds no engine state and reads the store's membership rows,
 * which the applying process writes in the transaction that records the log position it
 * applied — so after waiting for a position (read-your-writes.ts) they include it.
 */
export interface MembershipReader {
  /** Where the answers come from, for logs and tests. */
  readonly source: 'engine' | 'store';
  /** The profile a userId or anonymousId names; null when Strata has not seen it. */
  profile(projectId: string, lookup: string): Promise<ProfileIds | null>;
  /** The segments the profile is in now, in the project's segment order (created, then id). */
  segmentsOf(projectId: string, profileId: number): Promise<readonly { id: string; name: string }[]>;
  /** When the profile was last seen (null: never, or no such profile). */
  lastSeen(projectId: string, profileId: number): Promise<number | null>;
}

/** Memberships from the engine's memory (the all role: every profile is in memory). */
export function engineMemberships(engine: LiveEngine, store: SqlStore): MembershipReader {
  return {
    source: 'engine',
    async profile(projectId, lookup) {
      // One key lookup; the ids come from the engine's copy of the record.
      const key = await store.profileKey(projectId, lookup);
      if (!key) return null;
      return engine.record(projectId, key.profileId) ?? (await store.findProfile(projectId, lookup));
    },
    async segmentsOf(projectId, profileId) {
      const ids = engine.segmentsOf(projectId, profileId);
      if (ids.length === 0) return [];
      const names = engine.segmentNames(projectId);
      return ids.map((id) => ({ id, name: names.get(id) ?? id }));
    },
    async lastSeen(projectId, profileId) {
      return engine.record(projectId, profileId)?.lastSeen ?? null;
    },
  };
}

/** Memberships from the store's rows (the api role: no engine state here). */
export function storeMemberships(store: SqlStore): MembershipReader {
  return {
    source: 'store',
    profile: (projectId, lookup) => store.findProfile(projectId, lookup),
    segmentsOf: (projectId, profileId) => store.segmentsInOrder(projectId, profileId),
    lastSeen: (projectId, profileId) => store.profileLastSeen(projectId, profileId),
  };
}

/**
 * How a service that answers targeting reads (missions, rewards, experiences) is wired: where it
 * learns a user's segments (the engine unless given) and whether it may keep a project's
 * definitions between calls. A process of the api role gives the store and no caching: the
 * definitions change on another process, which this one never hears of.
 */
export interface DefinitionReads {
  readonly memberships?: MembershipReader;
  readonly cacheDefinitions?: boolean;
}
