import type { JsonObject } from '@strata/core';

/** A profile's record as ingest reads and writes it (the `profiles` row, its JSON parsed). */
export interface KeptRecord {
  readonly userId: string | null;
  readonly anonymousId: string | null;
  readonly traits: JsonObject;
  readonly traitsAt: Readonly<Record<string, number>>;
  readonly context: JsonObject;
  readonly contextAt: number | null;
  readonly labels: readonly string[];
  readonly firstSeen: number | null;
  readonly lastSeen: number | null;
  readonly createdAt: number;
}

/**
 * The records of recently ingested profiles, in memory and bounded (least recently used out
 * first), so that ingest does not read and parse a profile's row for every batch that names it.
 * Events arriving out of time order spread a batch over several times as many profiles as live
 * traffic does, so the row reads were one of the costs that made late events slower.
 *
 * An entry must be exactly the committed row, so this is only for a store no other process
 * writes (the embedded SQLite store), whose transactions run one at a time. Ingest puts what it
 * wrote (or read); every other writer of `profiles` forgets what it changed — labels, imports,
 * an erasure, a merge's deleted profile, a project's deletion — and a transaction that fails
 * empties it (`SqlStore.transaction`). Entries are never changed in place: the caller copies
 * what it changes (ingest's working profile copies `traits` and `traitsAt`).
 */
export class ProfileRecords {
  /** By project and id; Map order is the use order (an entry used moves to the back). */
  private readonly entries = new Map<string, KeptRecord>();
  /**
   * The ids (`u:<userId>`, `a:<anonymousId>`, by project) that name a kept profile, and each kept
   * profile's ids: kept and forgotten with its record, so that ingest looks up in the store only
   * ids of profiles it has not just seen (a batch of events out of time order names several times
   * as many profiles as one of live traffic). An id's profile changes only by ingest (an alias, a
   * merge, which forgets the profile merged away) or an erasure (which forgets the profile).
   */
  private readonly ids = new Map<string, number>();
  private readonly idsOf = new Map<string, string[]>();

  /**
   * `max` records; at most `maxIdsPerProfile` ids kept per profile (one user may be named by ever
   * more anonymous ids, one a session, while its record stays in use): the others are looked up.
   */
  constructor(readonly max = 50_000, readonly maxIdsPerProfile = 32) {}

  private static key(projectId: string, profileId: number): string {
    return `${projectId}\u0000${profileId}`;
  }

  get(projectId: string, profileId: number): KeptRecord | undefined {
    const k = ProfileRecords.key(projectId, profileId);
    const e = this.entries.get(k);
    if (e) { this.entries.delete(k); this.entries.set(k, e); }
    return e;
  }

  put(projectId: string, profileId: number, record: KeptRecord): void {
    const k = ProfileRecords.key(projectId, profileId);
    this.entries.delete(k);
    this.entries.set(k, record);
    if (this.entries.size > this.max) this.drop(this.entries.keys().next().value!);
  }

  /** The kept profile an id names (`u:<userId>` or `a:<anonymousId>`), or undefined: unknown here (the store may know it). */
  profileOf(projectId: string, id: string): number | undefined {
    return this.ids.get(`${projectId}\u0000${id}`);
  }

  /** Records that `id` names the profile, as committed; only for a profile whose record is kept (it is forgotten with it). */
  keepId(projectId: string, id: string, profileId: number): void {
    const k = ProfileRecords.key(projectId, profileId);
    if (!this.entries.has(k)) return;
    const full = `${projectId}\u0000${id}`;
    if (this.ids.get(full) === profileId) return;
    const of = this.idsOf.get(k);
    if (of && of.length >= this.maxIdsPerProfile) {
      // Not kept (looked up next time); an entry naming the profile it named before goes, being no longer true.
      this.ids.delete(full);
      return;
    }
    this.ids.set(full, profileId);
    if (of) of.push(full);
    else this.idsOf.set(k, [full]);
  }

  forget(projectId: string, profileId: number): void {
    this.drop(ProfileRecords.key(projectId, profileId));
  }

  private drop(k: string): void {
    this.entries.delete(k);
    const of = this.idsOf.get(k);
    if (!of) return;
    this.idsOf.delete(k);
    const profileId = Number(k.slice(k.lastIndexOf('\u0000') + 1));
    // An id moved to another profile since (an alias) stays with that one.
    for (const full of of) if (this.ids.get(full) === profileId) this.ids.delete(full);
  }

  /** Forgets every profile of a project (an import wrote some of them; its deletion, all). */
  forgetProject(projectId: string): void {
    const prefix = `${projectId}\u0000`;
    for (const k of [...this.entries.keys()]) if (k.startsWith(prefix)) this.drop(k);
  }

  clear(): void {
    this.entries.clear();
    this.ids.clear();
    this.idsOf.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  /** How many ids are kept (all projects). */
  get idCount(): number {
    return this.ids.size;
  }
}
