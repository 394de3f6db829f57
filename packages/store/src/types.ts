import type { EventRecord, Json, JsonObject, ProfileRecord } from '@strata/core';

/** Per-project settings (the `settings` JSON column). */
export interface ProjectSettings {
  /** Identity verification of the public SDK API: `userHash = hex(HMAC-SHA256(secret, userId))` required when enabled. */
  readonly identityVerification?: { readonly enabled: boolean; readonly secret: string };
  /** Who may read a user's segment names and ids on the public /v1/targeting (absent: 'verified'; docs/targeting.md). */
  readonly publicSegments?: PublicSegments;
}

/** 'verified': only calls that proved the user (identity verification on); 'always': any write-key call; 'never': none. */
export type PublicSegments = 'verified' | 'always' | 'never';
export const PUBLIC_SEGMENTS: readonly PublicSegments[] = ['verified', 'always', 'never'];

export interface Project {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
  readonly settings: ProjectSettings;
}

/** A stored profile: the record conditions see, plus bookkeeping. */
export interface StoredProfile extends ProfileRecord {
  readonly id: number;
  readonly projectId: string;
  readonly anonymousIds: readonly string[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** Who a profile is and when it was last seen: what targeting needs of it (ProfileStore.idsOf, the engine's copy of a record). */
export interface ProfileIds {
  readonly id: number;
  readonly userId: string | null;
  readonly anonymousId: string | null;
  readonly lastSeen: number | null;
}

/** One validated ingest item, normalised from a Segment-spec message by the server. */
export interface IngestItem {
  readonly messageId: string;
  readonly type: 'identify' | 'track' | 'page' | 'screen' | 'group' | 'alias';
  /** The name conditions use: `track` → its event, `page` → `$pageview`, … */
  readonly name: string;
  readonly userId: string | null;
  readonly anonymousId: string | null;
  /** For `alias`: the id being linked to `userId`. */
  readonly previousId: string | null;
  readonly properties: JsonObject;
  readonly context: JsonObject;
  /** Traits to merge into the profile (identify). */
  readonly traits: JsonObject | null;
  readonly timestamp: number;
  readonly receivedAt: number;
  /** `properties` and `context` already serialised (by the size check), so they are not serialised twice. */
  readonly propertiesJson?: string;
  readonly contextJson?: string;
}

export interface Rejection {
  readonly index: number;
  readonly message: string;
  readonly payload: string;
}

export interface IngestOutcome {
  readonly stored: number;
  readonly duplicates: number;
  /** Profiles whose data changed (membership must be re-evaluated for them). */
  readonly touched: ReadonlySet<number>;
  /** Anonymous profiles merged into known ones: [from, into]. */
  readonly merges: readonly (readonly [number, number])[];
  /** The touched profiles as conditions now see them. */
  readonly records: readonly EngineProfile[];
  /**
   * Touched profiles whose record the batch left as it was (their events alone changed: late
   * events older than the record's times, say), so a copy of the record kept before it is still true.
   */
  readonly unchanged?: ReadonlySet<number>;
  /** The events written (derived visits included), in time order per profile. */
  readonly events: readonly EngineEvent[];
  /** Profiles whose stored events changed beyond `events` (a merge): read them again. */
  readonly reload: ReadonlySet<number>;
  /**
   * Visits a late event ended (re-derived: two visits became one, or a visit now starts earlier);
   * the visits that replace them are in `events`. Not listed for profiles in `reload`.
   */
  readonly removedVisits?: readonly { readonly profileId: number; readonly timestamp: number }[];
}

/** A profile record with its store id (`key` is its string form), as the live engine keeps it. */
export interface EngineProfile extends ProfileRecord {
  readonly id: number;
}

/** An event as the live engine receives it. */
export interface EngineEvent extends EventRecord {
  readonly id?: number;
  readonly profileId: number;
}

export type MembershipReason = 'event' | 'time' | 'manual' | 'definition' | 'merge';

export interface HistoryEntry {
  readonly id: number;
  readonly segmentId: string;
  readonly profileId: number;
  readonly kind: 'entered' | 'exited';
  readonly at: number;
  readonly reason: MembershipReason;
}

export interface SegmentRow {
  readonly id: string;
  readonly projectId: string;
  readonly name: string;
  readonly description: string;
  readonly condition: Json | null;
  readonly template: string | null;
  readonly params: JsonObject | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface Member {
  readonly profileId: number;
  readonly userId: string | null;
  readonly anonymousId: string | null;
  readonly since: number;
  /** On the segment's include list: added by hand (the condition may hold too). */
  readonly manual: boolean;
}

export interface ProfileWithEvents {
  readonly profile: StoredProfile;
  readonly events: EventRecord[];
}

export interface StoredEvent extends EventRecord {
  readonly id: number;
  readonly type: string;
  readonly messageId: string | null;
  readonly receivedAt: number;
}
