/**
 * `$session` visits and late events: the windows a late event can change visits in, and the
 * per-profile times of own events kept in memory (`VisitTimes`), from which a late event's
 * visits are decided without reading the profile's events back.
 *
 * A visit starts at an own (non-derived) event that comes more than the session timeout after
 * the one before it (in time, then storage order); its row is its first event's, at that
 * instant. So a profile's visits are a function of the sorted times of its own events alone.
 */

/**
 * The ranges of a profile's rows that late events at the times `at` (null: after a merge, every
 * row) can change visits in: one timeout on either side of each time, overlapping ranges merged
 * (so that no row is derived in two of them).
 */
export function visitWindows(profileId: number, at: readonly number[] | null, sessionTimeoutMs: number): { profileId: number; lo: number; hi: number }[] {
  if (at === null) return [{ profileId, lo: Number.MIN_SAFE_INTEGER, hi: Number.MAX_SAFE_INTEGER }];
  const out: { profileId: number; lo: number; hi: number }[] = [];
  for (const t of [...at].sort((a, b) => a - b)) {
    const last = out[out.length - 1];
    if (last && t - sessionTimeoutMs <= last.hi) last.hi = t + sessionTimeoutMs;
    else out.push({ profileId, lo: t - sessionTimeoutMs, hi: t + sessionTimeoutMs });
  }
  return out;
}

/** The first index of sorted `a` whose value is ≥ t. */
function lowerBound(a: readonly number[], t: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The visit starts among sorted own event times `a` that lie in [from, hi]. */
export function visitStartsIn(a: readonly number[], from: number, hi: number, sessionTimeoutMs: number): number[] {
  const out: number[] = [];
  for (let i = lowerBound(a, from); i < a.length && a[i]! <= hi; i++) {
    if (i === 0 || a[i]! - a[i - 1]! > sessionTimeoutMs) out.push(a[i]!);
  }
  return out;
}

/** Inserts t into sorted `times`, after any equal ones (storage order within an instant). */
export function insertTime(times: number[], t: number): void {
  if (times.length === 0 || times[times.length - 1]! <= t) { times.push(t); return; }
  let i = lowerBound(times, t);
  while (times[i] === t) i++;
  times.splice(i, 0, t);
}

/**
 * Adds the times `late` to a profile's sorted own event times `times` (in place) and answers
 * which visit starts that removes and adds. Only starts within the windows of the late times
 * can change (`visitWindows`: a new event at t can change only whether it starts a visit and
 * whether the next event, if within the timeout after t, does); adding events never widens a
 * gap, so an added start is always at the instant of a late time that had no event before.
 */
export function addLateTimes(times: number[], late: readonly number[], sessionTimeoutMs: number): { removed: number[]; added: number[] } {
  const windows = visitWindows(0, late, sessionTimeoutMs);
  const before = windows.map((w) => visitStartsIn(times, w.lo + sessionTimeoutMs, w.hi, sessionTimeoutMs));
  for (const t of late) insertTime(times, t);
  const removed: number[] = [], added: number[] = [];
  windows.forEach((w, k) => {
    const was = new Set(before[k]);
    const now = visitStartsIn(times, w.lo + sessionTimeoutMs, w.hi, sessionTimeoutMs);
    const is = new Set(now);
    for (const s of before[k]!) if (!is.has(s)) removed.push(s);
    for (const s of now) if (!was.has(s)) added.push(s);
  });
  return { removed, added };
}

/**
 * The sorted times of own events of recently seen profiles, in memory and bounded (least
 * recently used first out), so that a late event's visits are decided without reading events
 * back. An entry is complete or absent: it is made when a profile is created, or from one read
 * of the profile's whole history at its first late event; it follows every event ingested
 * after that. A profile with more than `maxPerProfile` own events is not kept (its late events
 * read windows of its rows, as without this).
 *
 * Only for a store no other process writes (the embedded SQLite store), whose transactions run
 * one at a time: an entry must be exactly what is committed. A transaction that fails empties
 * the whole cache (`SqlStore.transaction`); a merge or an erasure forgets its profiles.
 */
export class VisitTimes {
  /** By project, then profile; `used`: looked at since the last trim (it then moves to the back instead of going). */
  private readonly entries = new Map<string, Map<number, { times: number[]; used: boolean }>>();
  /** Profiles found too large to keep, so their whole history is not read again (bounded). */
  private readonly large = new Set<string>();
  private total = 0;

  constructor(readonly maxTimes = 4_000_000, readonly maxPerProfile = 20_000) {}

  private static key(projectId: string, profileId: number): string {
    return `${projectId}\u0000${profileId}`;
  }

  /** The profile's sorted own event times (to change in place, then `grew`), or undefined when not kept. */
  get(projectId: string, profileId: number): number[] | undefined {
    const e = this.entries.get(projectId)?.get(profileId);
    if (!e) return undefined;
    e.used = true;
    return e.times;
  }

  /** Whether the profile's history was found too large to keep. */
  isLarge(projectId: string, profileId: number): boolean {
    return this.large.has(VisitTimes.key(projectId, profileId));
  }

  /** Keeps a profile's complete sorted own event times (a profile just created: none). */
  put(projectId: string, profileId: number, times: number[]): void {
    this.drop(projectId, profileId);
    if (times.length > this.maxPerProfile) {
      if (this.large.size >= 10_000) this.large.clear();
      this.large.add(VisitTimes.key(projectId, profileId));
      return;
    }
    let project = this.entries.get(projectId);
    if (!project) this.entries.set(projectId, (project = new Map()));
    project.set(profileId, { times, used: false });
    this.total += times.length;
  }

  /** Counts times added to an entry in place (`addLateTimes`, `insertTime`), dropping it if it grew too large. */
  grew(projectId: string, profileId: number, by: number): void {
    const e = this.entries.get(projectId)?.get(profileId);
    if (!e) return;
    this.total += by;
    if (e.times.length > this.maxPerProfile) this.put(projectId, profileId, e.times);
  }

  /** Drops a profile's entry (merged, erased, or its events changed other than by ingest). */
  forget(projectId: string, profileId: number): void {
    this.drop(projectId, profileId);
    this.large.delete(VisitTimes.key(projectId, profileId));
  }

  /**
   * Drops entries until the bound holds, the least recently used first (a second-chance clock
   * over insertion order: an entry looked at since it was last passed moves to the back once).
   */
  trim(): void {
    // Each pass goes over every project before the next: a recently used entry of the first
    // project outlives an unused one of any other.
    for (let pass = 0; pass < 2 && this.total > this.maxTimes; pass++) {
      for (const [projectId, project] of this.entries) {
        // Over a copy: an entry moved to the back is not met again in the same pass.
        for (const [id, e] of [...project]) {
          if (this.total <= this.maxTimes) break;
          project.delete(id);
          if (e.used && pass === 0) { e.used = false; project.set(id, e); }
          else this.total -= e.times.length;
        }
        if (project.size === 0) this.entries.delete(projectId);
        if (this.total <= this.maxTimes) return;
      }
    }
  }

  clear(): void {
    this.entries.clear();
    this.large.clear();
    this.total = 0;
  }

  private drop(projectId: string, profileId: number): void {
    const project = this.entries.get(projectId);
    const e = project?.get(profileId);
    if (!e) return;
    project!.delete(profileId);
    this.total -= e.times.length;
  }
}
