/** Membership changes as the live engine decides them, and as they are written. */
import type { MembershipReason, SqlStore } from '@strata/store';

/** One entry or exit, as the engine decides it. */
export interface MembershipChange {
  readonly segmentId: string;
  readonly profileId: number;
  readonly kind: 'entered' | 'exited';
  readonly at: number;
  readonly reason: MembershipReason;
}

/** A change once written: with its history id (stable, for webhook de-duplication) and the people's ids. */
export interface RecordedChange extends MembershipChange {
  readonly historyId: number;
  readonly segmentName: string;
  readonly userId: string | null;
  readonly anonymousId: string | null;
}

/** Called inside the transaction that records changes (the webhook outbox writes there). */
export type ChangeListener = (tx: SqlStore, projectId: string, changes: readonly RecordedChange[]) => Promise<void>;

/** A change decided and waiting to be written. */
export interface Pending {
  change: MembershipChange;
  /** false: the store already holds the membership (it moved with a merge); only history is written. */
  write: boolean;
}
