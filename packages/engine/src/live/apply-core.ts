/**
 * The live engine's core step, in memory only: what a batch, a wake-up or a redefinition does
 * to a project's state (see project-state.ts), and which entries and exits it decides. No store
 * access here: the engine (live-engine.ts) reads what is needed first and writes the changes
 * after (store-sync.ts), so a partition worker can run the same functions over its profiles.
 */
import type { Bitset, EventRecord, ProfileRoot } from '@strata/core';
import { hasBit, relativeWindowNext } from '@strata/core';
import type { EngineEvent, EngineProfile, IngestOutcome, MembershipReason, SegmentRow } from '@strata/store';
import type { MembershipChange, Pending } from './changes.ts';
import { addEvent, addProfile, changedRoots, dropProfile, keepOf, ROOTS, staleNames, type ProfileState, type ProjectState, type SegmentState, type WindowEntry } from './project-state.ts';
import { setSegments } from './segment-index.ts';
import { loadEvents, positionsOf, segmentBits } from './bulk-eval.ts';
import type { Evaluation } from './membership-scan.ts';

/** Derived events a membership change adds to the profile; a cascade stops after this many rounds. */
const MAX_CASCADE = 8;

/**
 * Re-evaluates the given segments (in order) for a profile at `at`, recording differences.
 * `decided`: the profile's membership of each of them at `at`, decided already (in bulk).
 */
export function evaluate(ps: ProjectState, p: ProfileState, list: readonly SegmentState[], at: number, reason: MembershipReason, out: Pending[], decided?: (s: SegmentState) => boolean): number {
  let n = 0;
  const sizes = ps.sizes;
  for (const s of list) {
    const member = decided ? decided(s) : s.view.test(p, at);
    if (member === p.has(s.idx)) continue;
    p.flip(s.idx);
    if (sizes) sizes[s.idx]! += member ? 1 : -1;
    out.push({ change: { segmentId: s.row.id, profileId: p.id, kind: member ? 'entered' : 'exited', at, reason }, write: true });
    n++;
  }
  return n;
}

/** Segments affected by new events of `names` and by changed parts of the record, referenced ones first. */
function affected(ps: ProjectState, names: Iterable<string | null>, roots: readonly ProfileRoot[]): SegmentState[] {
  const mark = ps.mark;
  mark.fill(0);
  let hits = 0;
  const hit = (i: number) => { if (mark[i] === 0) { mark[i] = 1; hits++; } };
  for (const r of roots) for (const i of ps.byRoot.get(r) ?? []) hit(i);
  for (const n of names) for (const i of ps.byName.get(n) ?? []) hit(i);
  if (hits === ps.list.length) return ps.list;
  const out: SegmentState[] = [];
  for (let i = 0; i < mark.length; i++) if (mark[i]) out.push(ps.list[i]!);
  return out;
}

/** The derived events of this profile's new changes, applied to its state; further changes they cause follow (bounded). */
export function cascade(ps: ProjectState, p: ProfileState, out: Pending[], from: number, reason: MembershipReason): boolean {
  let kept = false;
  for (let round = 0, start = from; round < MAX_CASCADE && start < out.length; round++) {
    const names = new Set<string | null>();
    const end = out.length;
    for (let i = start; i < end; i++) {
      const c = out[i]!.change;
      if (c.profileId !== p.id) continue;
      for (const n of addEvent(ps, p, derivedEvent(ps, c))) names.add(n);
    }
    if (names.size === 0) return kept;
    kept = true;
    const at = out[end - 1]!.change.at;
    evaluate(ps, p, affected(ps, names, []), at, reason, out);
    start = end;
  }
  return kept;
}

export function derivedEvent(ps: ProjectState, c: MembershipChange): EngineEvent {
  return {
    profileId: c.profileId, name: c.kind === 'entered' ? '$segment_entered' : '$segment_exited', timestamp: c.at,
    properties: { segmentId: c.segmentId, segmentName: ps.segments.get(c.segmentId)?.row.name ?? '', reason: c.reason }, context: {},
  };
}

const byList = new WeakMap<readonly WindowEntry[], { name: string | null; windows: WindowEntry[] }[]>();

/** A project's windows (ProjectState.windows, replaced whole on change) grouped by the list they are over. */
function windowsByList(windows: readonly WindowEntry[]): { name: string | null; windows: WindowEntry[] }[] {
  let groups = byList.get(windows);
  if (!groups) {
    const m = new Map<string | null, WindowEntry[]>();
    for (const w of windows) { const l = m.get(w.name); if (l) l.push(w); else m.set(w.name, [w]); }
    byList.set(windows, (groups = [...m].map(([name, ws]) => ({ name, windows: ws }))));
  }
  return groups;
}

/** Sets the profile's next wake-up: the earliest instant time alone can change a membership. */
export function schedule(ps: ProjectState, p: ProfileState, now: number): void {
  let next = Infinity;
  let due: readonly number[] = [];
  // Window edges, once per distinct window and list (shared by every segment reading them),
  // the windows of one list together: a list the profile holds no event of has no edge.
  // A single window's segments are shared, not copied (most profiles wake for one window).
  for (const { name, windows } of windowsByList(ps.windows)) {
    const list = p.events(name);
    if (list.length === 0) continue;
    for (const w of windows) {
      const n = relativeWindowNext(list, w.fromMs, w.toMs, now);
      if (n < next) { next = n; due = w.segs; } else if (n === next && n !== Infinity) due = due.concat(w.segs);
    }
  }
  // ... and the segments with other time-relative operators, each on its own.
  for (const s of ps.complexTimed) {
    const n = s.view.next(p, now);
    if (n < next) { next = n; due = [s.idx]; } else if (n === next && n !== Infinity) due = due.concat(s.idx);
  }
  p.wake = next;
  p.due = due;
  if (next !== Infinity) ps.heap.push(next, p.id);
}

/** After only `list` changed its inputs: the wake-up can only come earlier (the others' instants still hold). */
function scheduleSome(ps: ProjectState, p: ProfileState, now: number, list: readonly SegmentState[]): void {
  const was = p.wake;
  // A window many of the segments read (a `*` list's 30 days, say) is looked at once per pass.
  const pass = ++ps.pass;
  for (const s of list) {
    if (!s.reads.timed) continue;
    if (s.reads.complex) { considerWake(p, s.view.next(p, now), s.idx); continue; }
    for (const k of s.reads.windows) {
      const w = ps.windowByKey.get(k)!;
      if (w.pass !== pass) { w.pass = pass; w.next = relativeWindowNext(p.events(w.name), w.fromMs, w.toMs, now); }
      considerWake(p, w.next, s.idx);
    }
  }
  if (p.wake < was) ps.heap.push(p.wake, p.id);
}

/** A segment's next instant `n` for a profile: its wake-up comes earlier, or the segment joins those due then. */
function considerWake(p: ProfileState, n: number, idx: number): void {
  if (n < p.wake) { p.wake = n; p.due = [idx]; } else if (n === p.wake && n !== Infinity && !p.due.includes(idx)) p.due = p.due.concat(idx);
}

/**
 * Every wake-up due at or before `now`, each at its own instant; `woke` hears of each profile
 * re-evaluated (the engine marks it touched by the transaction).
 */
export function wake(ps: ProjectState, now: number, woke: (profileId: number) => void): Pending[] {
  const out: Pending[] = [];
  while (ps.heap.peek() <= now) {
    const [at, id] = ps.heap.pop()!;
    const p = ps.profiles.get(id);
    if (!p || p.wake !== at) continue;
    woke(id);
    const from = out.length;
    // Only the segments due now can change now (the others' next instants are later); referenced ones first.
    evaluate(ps, p, dueSegments(ps, p.due), at, 'time', out);
    cascade(ps, p, out, from, 'time');
    schedule(ps, p, at);
  }
  return out;
}

/** The segments at positions `due`, each once, in list order (most due lists, a window's own, are so already). */
function dueSegments(ps: ProjectState, due: readonly number[]): SegmentState[] {
  let ordered = true;
  for (let i = 1; i < due.length && ordered; i++) ordered = due[i - 1]! < due[i]!;
  return (ordered ? due : [...new Set(due)].sort((a, b) => a - b)).map((i) => ps.list[i]!);
}

/** Merges and profile records of a batch; returns the ids of profiles new to the engine. */
export function applyRecords(ps: ProjectState, outcome: IngestOutcome, now: number, out: Pending[]): { created: Set<number>; roots: Map<number, ProfileRoot[]> } {
  // Merges: the survivor takes the merged profile's memberships (the store moved them, keeping the earlier since).
  if (outcome.merges.length) ps.sizes = null;
  for (const [from, into] of outcome.merges) {
    const gone = ps.profiles.record(from);
    if (gone) ps.gone.set(from, gone);
    const f = ps.profiles.get(from), t = ps.profiles.get(into);
    for (const s of ps.list) {
      if (!f?.has(s.idx)) continue;
      // The merged profile's membership ends with it (history and webhooks say so); the survivor's begins.
      out.push({ change: { segmentId: s.row.id, profileId: from, kind: 'exited', at: now, reason: 'merge' }, write: false });
      if (t && !t.has(s.idx)) {
        t.flip(s.idx);
        out.push({ change: { segmentId: s.row.id, profileId: into, kind: 'entered', at: now, reason: 'merge' }, write: false });
      }
    }
    dropProfile(ps, from);
  }
  const created = new Set<number>();
  const roots = new Map<number, ProfileRoot[]>();
  for (const rec of outcome.records) {
    const have = ps.profiles.get(rec.id);
    // A record the batch did not change is the one kept: nothing to compare (most late events' profiles).
    if (have && outcome.unchanged?.has(rec.id)) { roots.set(rec.id, []); continue; }
    const kept = keepOf(ps, rec, have?.profile);
    if (have) { roots.set(rec.id, changedRoots(have.profile, kept)); have.profile = kept; }
    else { addProfile(ps, rec); created.add(rec.id); }
  }
  return { created, roots };
}

/** A batch's events added to the kept lists, then the segments they can change re-evaluated. */
export function applyEvents(ps: ProjectState, outcome: IngestOutcome, now: number, { created, roots }: { created: ReadonlySet<number>; roots: ReadonlyMap<number, ProfileRoot[]> }, out: Pending[]): void {
  const merged = new Set(outcome.merges.map(([, into]) => into));
  // The survivors' entries by merge are derived events too (written with the batch): kept before evaluating.
  for (const x of out) {
    const p = ps.profiles.get(x.change.profileId);
    if (p) addEvent(ps, p, derivedEvent(ps, x.change));
  }
  const names = new Map<number, Set<string | null>>();
  // Visits a late event ended leave the kept lists; their replacements come with the events.
  for (const v of outcome.removedVisits ?? []) {
    const p = ps.profiles.get(v.profileId);
    if (!p || outcome.reload.has(v.profileId) || !p.remove('$session', v.timestamp)) continue;
    let set = names.get(v.profileId);
    if (!set) names.set(v.profileId, (set = new Set()));
    set.add('$session');
  }
  for (const e of outcome.events) {
    if (outcome.reload.has(e.profileId)) continue;
    const p = ps.profiles.get(e.profileId);
    if (!p) continue;
    let set = names.get(e.profileId);
    if (!set) names.set(e.profileId, (set = new Set()));
    for (const n of addEvent(ps, p, e)) set.add(n);
  }
  for (const id of outcome.touched) {
    const p = ps.profiles.get(id);
    if (!p) continue;
    const reason: MembershipReason = merged.has(id) ? 'merge' : 'event';
    // A new profile, or one whose events were read again, is looked at by every segment (even one reading nothing, like {"all": []}).
    const all = outcome.reload.has(id) || created.has(id);
    const list = all ? ps.list : affected(ps, names.get(id) ?? [], roots.get(id) ?? ROOTS);
    const from = out.length;
    evaluate(ps, p, list, now, reason, out);
    // Derived events kept for other segments, or a profile seen whole: every instant is looked at again.
    if (cascade(ps, p, out, from, reason) || all) schedule(ps, p, now);
    else scheduleSome(ps, p, now, list);
  }
}

/**
 * Re-evaluates segments `ids` and the ones referencing them, for the given profiles (default:
 * all). For all profiles, each segment's members are decided in bulk over the project's
 * columns first (bulk-eval.ts; `how`), then applied profile by profile as before: the same
 * changes in the same order (a profile's cascade touches only its own events, read after).
 */
export function reevaluate(ps: ProjectState, ids: readonly string[], now: number, reason: MembershipReason, profileIds: readonly number[] | undefined, created: ReadonlySet<number>, how: Evaluation = 'bulk'): Pending[] {
  // The changed segments and every segment referencing one of them, directly or not.
  const targets = new Set(ids);
  for (const id of targets) for (const s of ps.referrers.get(id) ?? []) targets.add(s.row.id);
  // In list order (referenced segments first).
  const list = [...targets].flatMap((id) => ps.segments.get(id) ?? []).sort((a, b) => a.idx - b.idx);
  const out: Pending[] = [];
  const pos = !profileIds && how === 'bulk' ? positionsOf(ps) : null;
  // Each changed segment's members at `now`, by its position in ps.list.
  const bits: Bitset[] = [];
  if (pos) for (const s of list) bits[s.idx] = segmentBits(ps, pos, s, now);
  let i = -1;
  const decided = (s: SegmentState) => hasBit(bits[s.idx]!, i);
  // One view per profile as the loop reaches it, in the positions' order when decided in bulk.
  const profiles = pos ? (function* () { for (let k = 0; k < pos.slots.length; k++) yield pos.state(k); })() : profileIds ? profileIds.map((id) => ps.profiles.get(id)).filter((p) => p !== undefined) : ps.profiles.values();
  for (const p of profiles) {
    i++;
    const from = out.length;
    const whole = created.has(p.id);
    evaluate(ps, p, whole ? ps.list : list, now, reason, out, pos && !whole ? decided : undefined);
    // A derived event kept for other segments, or a profile seen whole: every instant is looked at again.
    if (cascade(ps, p, out, from, reason) || whole) schedule(ps, p, now);
    else scheduleSome(ps, p, now, list);
  }
  return out;
}

/**
 * Builds a project's state (`ps`, new and empty) from data in memory (segments, profiles,
 * events), with membership as of `now` (LiveEngine.hydrate).
 */
export function hydrateProject(ps: ProjectState, segments: readonly SegmentRow[], people: Iterable<{ profile: EngineProfile; events: readonly EventRecord[] }>, now: number): void {
  setSegments(ps, segments, new Map());
  for (const { profile, events } of people) {
    const p = addProfile(ps, profile);
    for (const e of events) addEvent(ps, p, e);
  }
  // Each profile's events were added one after another: runs grew in place; packed tight now.
  ps.cols.pack();
  // The changes are not wanted (nothing is written): each profile's are dropped before the next's,
  // or at 10M profiles they held more heap than the engine's whole state.
  const out: Pending[] = [];
  for (const p of ps.profiles.values()) {
    evaluate(ps, p, ps.list, now, 'definition', out);
    out.length = 0;
    schedule(ps, p, now);
  }
}

/** New segment rows in memory, the events to backfill from given (LiveEngine.redefineInMemory): the changes decided. */
export function redefine(ps: ProjectState, rows: readonly SegmentRow[], ids: readonly string[], now: number, events: Iterable<EngineEvent>, how: Evaluation = 'bulk'): Pending[] {
  const before = ps.tracked;
  setSegments(ps, rows, new Map());
  const stale = staleNames(ps, before);
  // The stale lists loaded whole (as per event, with `addEvent`, before bulk loading: the baseline).
  if (stale.length && how === 'bulk') loadEvents(ps, stale, events);
  else if (stale.length) {
    for (const n of stale) ps.lists.drop(n);
    for (const e of events) {
      const p = ps.profiles.get(e.profileId);
      if (p) addEvent(ps, p, e, stale);
    }
  }
  return reevaluate(ps, ids, now, 'definition', undefined, new Set(), how);
}
