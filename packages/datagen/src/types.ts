import type { Plan, Region } from './catalog.ts';
import type { DeviceType } from './devices.ts';

export interface GenerateOptions {
  /** Any finite number; the same seed (and options) gives byte-identical output. */
  seed: number;
  /** Number of users (people) to generate. */
  users: number;
  /** Epoch milliseconds: the "now" of the dataset. Every timestamp is ≤ end. */
  end: number;
  /** History length in days (every timestamp is ≥ end − days). Default 90. */
  days?: number;
  /** Mean number of messages per user (identify calls included). Default 10. */
  eventsPerUser?: number;
}

/** A Segment-spec call as the client libraries send it (`identify`, `track`, `page`, `screen`). */
export type SegmentMessage = {
  type: 'identify' | 'track' | 'page' | 'screen';
  messageId: string;
  userId?: string;
  anonymousId: string;
  /** ISO-8601 UTC with milliseconds. */
  timestamp: string;
  /** `track` only. */
  event?: string;
  /** `page` / `screen` only. */
  name?: string;
  properties?: Record<string, unknown>;
  /** `identify` only. */
  traits?: Record<string, unknown>;
  context: Record<string, unknown>;
};

/** The activity pattern a user was generated with (what the data was meant to show). */
export type Lifecycle = 'new' | 'active' | 'churned' | 'resurrected';
/** Shopping behaviour: browsers rarely add to cart, abandoners add but never buy, heavy buyers spend VIP-level money. */
export type BuyerType = 'browser' | 'abandoner' | 'buyer' | 'heavy';

/**
 * What the generator decided about a user, for tests and benchmarks that want to know the
 * intended answer. Derived from the same random stream; not sent anywhere.
 */
export interface UserMeta {
  readonly lifecycle: Lifecycle;
  readonly buyer: BuyerType;
  readonly country: string;
  readonly region: Region;
  readonly deviceType: DeviceType;
  /** Uses the native app (`screen` calls) rather than the web site (`page` calls). */
  readonly app: boolean;
  /** The plan after the user's last identify call; null for anonymous users. */
  readonly plan: Plan | null;
  /** Signed up during the dataset (true) or an existing customer who logged in (false); null if anonymous. */
  readonly signedUp: boolean | null;
  /** Epoch ms of the first and last message. */
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** Number of purchase events and their total revenue (2 decimals). */
  readonly purchases: number;
  readonly revenue: number;
}

export interface GeneratedUser {
  /** 0-based position in the dataset. */
  index: number;
  /** "u" + zero-padded index for known users (e.g. "u000123"), null for anonymous ones. */
  userId: string | null;
  anonymousId: string;
  /** Every call of the user, in timestamp order (ties keep causal order). */
  messages: SegmentMessage[];
  meta: UserMeta;
}
