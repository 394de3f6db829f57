import type { IngestItem, Rejection } from '../types.ts';

/**
 * The event log: what ingest acknowledges is appended here first, durably, and membership
 * workers apply it from here in order. Two implementations serve the two deployments: a local
 * file (embedded, `sqlite-log.ts`) and NATS JetStream (distributed, `jetstream-log.ts`).
 * docs/architecture.md § The event log.
 */

/** One acknowledged request's worth of a partition: its validated items and the items it refused. */
export interface LogRecord {
  readonly projectId: string;
  /** The partition (0 … partitions − 1) of the profile the items belong to (`partitionOf`). */
  readonly partition: number;
  /** When the request was received (ms). */
  readonly receivedAt: number;
  readonly items: readonly IngestItem[];
  readonly rejections: readonly Rejection[];
  /**
   * How many records of the same request follow this one, appended right after it (absent: none).
   * A request split by partition is applied as one step when its records are read together.
   */
  readonly more?: number;
  /**
   * The id shared by the records of one request split by partition (absent when it was not split).
   * On a log that several processes append to, another process's records may fall between them;
   * the worker joins a request's records by this id, not by their places.
   */
  readonly request?: string;
  /**
   * A marker (no items): the request linked ids of this partition (`links`: an identify's
   * anonymousId, an alias's previousId) from a record of each of these partitions, appended before
   * it. A worker that owns this partition and not those applies nothing after the marker until
   * they are applied up to it (unless the ids' profiles are homed elsewhere already: then what is
   * sent for them later is forwarded, after the link), so that an event sent for such an id after
   * the request is applied after the link (docs/scale-out.md § Merges across partitions).
   */
  readonly awaits?: readonly number[];
  /** A marker's ids of this partition that the request linked (anonymous ids, previous ids). */
  readonly links?: readonly string[];
}

/** A record as the log holds it: with its position. */
export interface LoggedRecord extends LogRecord {
  /**
   * The record's position: increasing in append order across the whole log (not per partition),
   * so one number says how far a request got whatever partitions its records went to.
   */
  readonly position: number;
}

/** What one read of a partition gives. */
export interface LogRead {
  /** The partition's records after the position asked for, in order. */
  readonly records: readonly LoggedRecord[];
  /**
   * Every record of the partition at or before this position is in `records` or was before the
   * position asked for. At least the last record's position; past it when the log is known to hold
   * nothing more for the partition (so a reader waiting on a later position of another partition
   * is not held up).
   */
  readonly upTo: number;
}

/** Which implementation a log is (for /metrics and the start line). */
export type EventLogKind = 'sqlite' | 'postgres' | 'jetstream';

export interface EventLog {
  /** Which implementation this is: the embedded file or table, or NATS JetStream. */
  readonly kind: EventLogKind;
  /** How many partitions the log has (1 for the embedded log unless made with more). */
  readonly partitions: number;
  /**
   * Appends records and resolves with their positions only once every one of them is durable.
   * Every position is that of a record this call wrote, never an earlier copy's: ingest applies
   * each one, and a copy it never queued (written by a call that failed) would be acknowledged
   * and never applied. On rejection nothing may be counted as acknowledged (some records may
   * still have been written: ingest's messageId de-duplication makes a retry safe).
   */
  append(records: readonly LogRecord[]): Promise<number[]>;
  /**
   * A partition's records after `after`, at most `max`, waiting up to `waitMs` for the first one
   * when none is there yet (0: answer at once).
   */
  read(partition: number, after: number, max: number, waitMs: number): Promise<LogRead>;
  /**
   * Every partition's records after `after`, in position order, at most `max`, waiting up to
   * `waitMs` for the first one when none is there yet: what one worker applying every partition
   * of a log that other processes append to reads (`upTo` as for `read`, over the whole log).
   */
  readAll(after: number, max: number, waitMs: number): Promise<LogRead>;
  /** Lets the log drop a partition's records at or before `position` (they are applied and their effects durable). */
  trim(partition: number, position: number): Promise<void>;
  /**
   * Lets the log drop every partition's records at or before `position`: what one worker that
   * applies every partition in position order trims. On NATS it is one purge of the whole stream,
   * which moves no reader past a record it has not read (a purge of one subject may: the stream's
   * consumers are moved to that subject's first message left, on a NATS 2.9 server).
   */
  trimAll(position: number): Promise<void>;
  /**
   * Makes what `trim` dropped unreadable in the log's own files (an erasure: docs/privacy.md), as
   * far as the log can: the embedded SQLite log writes its zeroed pages back and empties its WAL.
   */
  forgetTrimmed(): Promise<void>;
  /** The position of the last record appended (0 for an empty log). */
  head(): Promise<number>;
  /**
   * Makes every later position greater than `position`: for a log newer than the store that
   * applied up to there (an in-memory log, or a log file replaced), so that positions never go
   * back and a read waiting for one is never answered by an older record's.
   */
  continueAfter(position: number): Promise<void>;
  close(): Promise<void>;
}

/** FNV-1a of a string: a stable, well-spread hash for choosing a partition. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The partition of a key (a profile's routing key) among `partitions`. */
export function partitionOf(key: string, partitions: number): number {
  return partitions <= 1 ? 0 : fnv1a(key) % partitions;
}
