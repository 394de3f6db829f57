/**
 * What a project's state holds in typed arrays, read for /metrics and the memory watch. Their
 * buffers live outside the V8 heap (`process.memoryUsage().arrayBuffers`): the heap's figures
 * alone miss most of the engine. Summed per list and per column, never per profile, so that a
 * scrape every few seconds costs next to nothing.
 */
import { orderBytes } from './bulk-eval.ts';
import type { ProjectState } from './project-state.ts';

/** Bytes of the typed arrays the engine holds, by part (each `byteLength`: spare room included). */
export interface ColumnBytes {
  /** Kept event lists: times, names and property/context codes, and each list's runs by slot. */
  readonly events: number;
  /** Profile records: ids, first/last seen, kept-part codes, user and anonymous id bytes. */
  readonly records: number;
  /** The id → slot index, and the profiles' order the bulk evaluator keeps. */
  readonly index: number;
  /** Membership bits, one per segment a profile (and the per-segment sizes and scratch marks). */
  readonly membership: number;
  /** Next wake-up times by slot. */
  readonly wakes: number;
}

export const NO_BYTES: ColumnBytes = { events: 0, records: 0, index: 0, membership: 0, wakes: 0 };

/** What `ps` holds in typed arrays, by part. */
export function columnBytes(ps: ProjectState): ColumnBytes {
  const c = ps.cols;
  return {
    events: c.lists.bytes,
    records: c.records.bytes,
    index: ps.profiles.indexBytes + orderBytes(ps),
    membership: c.bits.data.byteLength + (ps.sizes?.byteLength ?? 0) + ps.mark.byteLength,
    wakes: c.wakes.byteLength,
  };
}

/** Two parts' sums, part by part. */
export function addBytes(a: ColumnBytes, b: ColumnBytes): ColumnBytes {
  return { events: a.events + b.events, records: a.records + b.records, index: a.index + b.index, membership: a.membership + b.membership, wakes: a.wakes + b.wakes };
}

/** Every part together. */
export const totalBytes = (b: ColumnBytes): number => b.events + b.records + b.index + b.membership + b.wakes;
