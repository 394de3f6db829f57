import type { Condition } from '@strata/core';
import type { EngineProfile, SegmentRow, SqlStore } from '@strata/store';
import * as scan from './membership-scan.ts';
import type { Tally } from './membership-scan.ts';
import type { ProjectState } from './project-state.ts';
import { previewFromStore } from './store-sync.ts';

/**
 * What the live engine answers from the state it holds, without writing: a profile's segments,
 * segment rows and names, members, previews, sizes, overlaps (over `membership-scan.ts`). The
 * base of `LiveEngine`, which loads and changes that state.
 */
export abstract class EngineReads {
  protected readonly projects = new Map<string, ProjectState>();

  constructor(protected readonly store: SqlStore) {}

  /** Ids of the segments a profile is in now (from memory). */
  segmentsOf(projectId: string, profileId: number): string[] {
    return scan.segmentsOf(this.projects.get(projectId), profileId);
  }

  /**
   * The segments a profile is in now, with their names, in the store's order of segments (created,
   * then id) — the order a reader of the membership rows gives them in (`segmentsOf` gives the
   * engine's own, which puts a segment after those it refers to).
   */
  segmentsInStoreOrder(projectId: string, profileId: number): { id: string; name: string }[] {
    return scan.segmentsInStoreOrder(this.projects.get(projectId), profileId);
  }

  /** Names of the project's segments by id (from memory). */
  segmentNames(projectId: string): Map<string, string> {
    const ps = this.projects.get(projectId);
    return new Map(ps ? ps.list.map((s) => [s.row.id, s.row.name]) : []);
  }

  /** Whether the engine holds the project's state (loaded). */
  holds(projectId: string): boolean {
    return this.projects.has(projectId);
  }

  /** The segment of a project with this name, as the engine holds it (undefined: none, or the project is not loaded). */
  segmentNamed(projectId: string, name: string): SegmentRow | undefined {
    return this.projects.get(projectId)?.named.get(name);
  }

  /** A segment's row as the engine holds it (undefined: not held, or the project is not loaded). */
  segmentRow(projectId: string, segmentId: string): SegmentRow | undefined {
    return this.projects.get(projectId)?.segments.get(segmentId)?.row;
  }

  /** Whether a segment has manual include or exclude entries (its members are then more than its condition). */
  hasManualLists(projectId: string, segmentId: string): boolean {
    const s = this.projects.get(projectId)?.segments.get(segmentId);
    return s !== undefined && (s.include.size > 0 || s.exclude.size > 0);
  }

  /** A profile's record as the engine keeps it (only the trait and context keys segments read). */
  record(projectId: string, profileId: number): EngineProfile | undefined {
    return this.projects.get(projectId)?.profiles.record(profileId);
  }

  /** Members of a segment in memory (profile ids; a scan of every profile). */
  members(projectId: string, segmentId: string): Set<number> {
    return scan.members(this.projects.get(projectId), segmentId);
  }

  /** A preview from engine state (scan.preview: in bulk unless `how` says per profile); null when the store must answer. */
  preview(projectId: string, condition: Condition, now: number, sampleSize: number, how: scan.Evaluation = 'bulk'): Tally | null {
    return scan.preview(this.projects.get(projectId), condition, now, sampleSize, how);
  }

  /**
   * A preview from engine state that may read events the engine does not keep, read from the
   * store for it alone (store-sync.previewFromStore; every event of a window, for a missing
   * `*` list, only with `every`); null when the project is not loaded or the engine cannot
   * answer (the store's SQL does then).
   */
  async previewFromStore(projectId: string, condition: Condition, now: number, sampleSize: number, { every = false } = {}): Promise<Tally | null> {
    const ps = this.projects.get(projectId);
    return ps ? previewFromStore(this.store, ps, condition, now, sampleSize, every) : null;
  }

  /** What a saved segment shares with every other (scan.overlapWith); null when the project or segment is not loaded. */
  overlapWith(projectId: string, segmentId: string, minJaccard = 0): Tally | null {
    return scan.overlapWith(this.projects.get(projectId), segmentId, minJaccard);
  }

  /** Every segment's size, from the membership bits (one scan of the profiles); null when the project is not loaded. */
  sizes(projectId: string): ReadonlyMap<string, number> | null {
    return scan.sizes(this.projects.get(projectId));
  }

  /** Pairwise intersections of up to 52 segments (scan.overlap); null when the project or a segment is not loaded. */
  overlap(projectId: string, ids: readonly string[]): { sizes: number[]; intersections: number[][] } | null {
    return scan.overlap(this.projects.get(projectId), ids);
  }

  /** The close pairs of a project's segments, and every segment's size (scan.closePairs); null when the project is not loaded. */
  closePairs(projectId: string, minJaccard: number): { ids: string[]; sizes: number[]; pairs: [number, number, number][]; total: number } | null {
    return scan.closePairs(this.projects.get(projectId), minJaccard);
  }
}
