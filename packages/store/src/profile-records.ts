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

  constructor(readonly max = 50_000) {}

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
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }

  forget(projectId: string, profileId: number): void {
    this.entries.delete(ProfileRecords.key(projectId, profileId));
  }

  /** Forgets every profile of a project (an import wrote some of them; its deletion, all). */
  forgetProject(projectId: string): void {
    const prefix = `${projectId}\u0000`;
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
