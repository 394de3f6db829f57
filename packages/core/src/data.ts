/** JSON value as it arrives on the wire and is stored. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A profile as conditions see it (times are epoch milliseconds). */
export interface ProfileRecord {
  /** Stable internal key of the profile (store id); manual include/exclude lists hold these. */
  readonly key: string;
  readonly userId: string | null;
  readonly anonymousId: string | null;
  readonly traits: JsonObject;
  readonly context: JsonObject;
  readonly labels: readonly string[];
  readonly firstSeen: number | null;
  readonly lastSeen: number | null;
}

/** An event as conditions see it. */
export interface EventRecord {
  readonly name: string;
  readonly timestamp: number;
  readonly properties: JsonObject;
  readonly context: JsonObject;
}

/** Names Strata derives itself: `"event": "*"` skips them and they never count as activity. */
export const DERIVED_EVENT_NAMES: ReadonlySet<string> = new Set([
  '$session',
  '$segment_entered',
  '$segment_exited',
  '$mission_completed',
]);

export const isDerivedEvent = (name: string): boolean => DERIVED_EVENT_NAMES.has(name);

/** A segment definition as referenced by `{"segment": id}`: include/exclude hold profile keys. */
export interface SegmentDefinition {
  readonly condition: Json | null;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
}

/**
 * Context keys that change from event to event (the page, the campaign, the referrer). Stores
 * keep them with each event and share the rest of a context (device, OS, locale, location, …)
 * between the events that have the same.
 */
export const EVENT_OWN_CONTEXT_KEYS: ReadonlySet<string> = new Set(['page', 'campaign', 'referrer']);
