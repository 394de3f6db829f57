import type { ProfileIds, SqlStore } from '@strata/store';
import type { LiveEngine } from './live-engine.ts';

/**
 * Where the targeting reads (GET /v1/targeting, the missions and rewards a user may see) learn a
 * profile's segments. A process of the all role answers from the engine's memory (exact now, no
 * query); a process of the api role holds no engine state and reads the store's membership rows,
 * which the applying process writes in the transaction that records the log position it
 * applied — so after waiting for a position (read-your-writes.ts) they include it.
 */
export interface MembershipReader {
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
    async profile(projectId, lookup) {
      // One key lookup; the ids come from the engine's copy of the record.
      const key = await store.profileKey(projectId, lookup);
      if (!key) return null;
      return engine.record(projectId, key.profileId) ?? (await store.findProfile(projectId, lookup));
    },
    async segmentsOf(projectId, profileId) {
      return engine.segmentsInStoreOrder(projectId, profileId);
    },
    async lastSeen(projectId, profileId) {
      return engine.record(projectId, profileId)?.lastSeen ?? null;
    },
  };
}

/** Memberships from the store's rows (the api role: no engine state here). */
export function storeMemberships(store: SqlStore): MembershipReader {
  return {
    profile: (projectId, lookup) => store.profileIdsOf(projectId, lookup),
    segmentsOf: (projectId, profileId) => store.segmentsInOrder(projectId, profileId),
    lastSeen: (projectId, profileId) => store.profileLastSeen(projectId, profileId),
  };
}

/** The ids of a profile's segments, unless the caller read them already (`known`). */
export async function segmentIdsOf(reader: MembershipReader, projectId: string, profileId: number, known?: ReadonlySet<string>): Promise<ReadonlySet<string>> {
  return known ?? new Set((await reader.segmentsOf(projectId, profileId)).map((s) => s.id));
}

/**
 * On a process of the api role, where definitions change on another process: before each
 * targeting answer, one read of the project's definitions counter (`definition_versions`, moved on
 * in the transaction of every change to missions, rewards or experiences, with the project's
 * creation instant: `SqlStore.definitionsStamp`); when it is not the one
 * this process last saw, the services' copies of the project's definitions are forgotten and read
 * again. So an answer never uses definitions older than the last change committed before it.
 */
export class DefinitionsWatch {
  private readonly seen = new Map<string, string | null>();
  constructor(private readonly store: SqlStore, private readonly forgetters: readonly ((projectId: string) => void)[]) {}

  async refresh(projectId: string): Promise<void> {
    const version = await this.store.definitionsStamp(projectId);
    if (this.seen.get(projectId) === version) return;
    for (const forget of this.forgetters) forget(projectId);
    this.seen.set(projectId, version);
  }
}
