import type { ApiView } from './api-view.ts';
import type { EventRecord, Issue, Json, JsonObject } from '@strata/core';
import { AppError, DAY_MS, parseDuration, parseIsoTime, validationError, isoTime as iso } from '@strata/core';
import { MissionStore, type IngestItem, type IngestOutcome, type MissionRow, type ProgressRow, type SqlStore } from '@strata/store';
import type { Clock } from './clock.ts';
import type { LiveEngine, MembershipChange } from './live-engine.ts';
import { engineMemberships, segmentIdsOf, type MembershipReader } from './membership-reader.ts';
import { daysIn, durationText, goalFilter, parseGoal, walkGoal, type MissionGoal, type WalkResult } from './mission-goal.ts';
import type { PointsService } from './points-service.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { newId } from './ids.ts';

export interface Mission extends ApiView<MissionRow, 'startsAt' | 'endsAt' | 'createdAt' | 'updatedAt', 'cooldownMs' | 'segmentIds'> {
  readonly segmentIds: string[];
  /** The Duration after each completion ("1d"); null when there is none. */
  readonly cooldown: string | null;
}

export interface MissionInput {
  readonly name: string;
  readonly description?: string;
  readonly segmentIds?: readonly string[];
  readonly active?: boolean;
  readonly startsAt?: string | null;
  readonly endsAt?: string | null;
  readonly goal: Json;
  readonly points: number;
  readonly repeatable?: boolean;
  readonly cooldown?: string | null;
}

export type MissionPatch = Partial<MissionInput>;

/** A user's standing on a mission. */
export interface MissionProgress {
  /** Value of the current attempt: events counted, distinct days, current streak, or sum. */
  readonly current: number;
  readonly target: number;
  readonly completions: number;
  /** Completed at least once. */
  readonly completed: boolean;
  /** The user's start (their first counted event); null before they take part. */
  readonly startedAt: string | null;
  readonly lastCompletedAt: string | null;
  /** With `within`: when the current attempt's window closes. */
  readonly expiresAt: string | null;
  /** Once-only with `within`: the window closed before the goal was met (no more progress). */
  readonly expired: boolean;
  /** Repeatable, in its cooldown: when events count again. */
  readonly availableAt: string | null;
}

export interface MissionForUser {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly points: number;
  readonly goal: Json;
  readonly repeatable: boolean;
  readonly progress: MissionProgress;
}

/** The admin's view of a user's missions: also those they took part in but no longer qualify for. */
export interface UserMission extends MissionForUser {
  readonly active: boolean;
  /** Active, in its dates, and the user is in a target segment, has an attempt under way, or is in a visit that began in a target segment: they can progress and complete. */
  readonly eligible: boolean;
}

export interface ProgressEntry {
  readonly userId: string | null;
  readonly anonymousId: string | null;
  readonly current: number;
  readonly target: number;
  readonly completions: number;
  readonly completed: boolean;
  readonly startedAt: string;
  readonly lastCompletedAt: string | null;
  readonly updatedAt: string;
}

interface Compiled {
  readonly row: MissionRow;
  readonly goal: MissionGoal;
  readonly matches: (e: EventRecord, now: number) => boolean;
}

const COMPLETED = '$mission_completed';
/** Completions one user can make in one batch of one request (a guard, far above any real pace). */
const MAX_COMPLETIONS_PER_BATCH = 1000;

/** Events before the mission existed never count: from its start, or its creation if later. */
const countFrom = (m: MissionRow) => Math.max(m.startsAt ?? m.createdAt, m.createdAt);
const inDates = (m: MissionRow, now: number) => (m.startsAt === null || now >= m.startsAt) && (m.endsAt === null || now < m.endsAt);
const qualifies = (m: MissionRow, segments: ReadonlySet<string>) => m.segmentIds.length === 0 || m.segmentIds.some((s) => segments.has(s));
const key = (missionId: string, profileId: number) => `${missionId}\u0000${profileId}`;
/** A once-only mission the user has completed: nothing more counts. */
const finished = (m: MissionRow, row: ProgressRow | undefined) => row !== undefined && !m.repeatable && row.completions > 0;
/** The user has an attempt under way (docs/missions.md, "Who may take part"): they keep the mission until it ends or they complete it. */
const engaged = (m: MissionRow, row: ProgressRow | undefined) => row !== undefined && row.attemptAt !== null && !finished(m, row);
const SESSION = '$session';

/**
 * Missions (quests): definitions (/api/missions), and each user's progress, computed live from
 * their events inside the ingest transaction (`onIngested`). A completion is recorded in the
 * completion log under the ref `mission:<id>:<profile>:<n>`, pays its points under the same ref
 * and emits `$mission_completed` — all in the transaction that stored the completing event, so
 * a retry, a duplicate message or a restart can neither lose nor repeat it (docs/missions.md).
 */
export class MissionService {
  /** Parsed missions per project; reloaded after any change to them. */
  private readonly cache = new Map<string, Compiled[]>();
  private generation = 0;

  constructor(
    private readonly store: SqlStore,
    private readonly engine: LiveEngine,
    private readonly points: PointsService,
    private readonly clock: Clock,
    /** The gap after which a user's next event opens a new visit (the store derives `$session` with the same). */
    private readonly sessionTimeoutMs = 30 * 60_000,
    memberships?: MembershipReader,
  ) {
    this.memberships = memberships ?? engineMemberships(engine, store);
  }

  /** Where eligibility learns a user's segments and last visit (the engine, or the store on a process of the api role). */
  private readonly memberships: MembershipReader;

  // ------------------------------------------------------------ definitions

  private view(m: MissionRow): Mission {
    return {
      id: m.id, name: m.name, description: m.description, segmentIds: [...m.segmentIds], active: m.active, startsAt: iso(m.startsAt), endsAt: iso(m.endsAt),
      goal: m.goal, points: m.points, repeatable: m.repeatable, cooldown: durationText(m.cooldownMs), createdAt: iso(m.createdAt)!, updatedAt: iso(m.updatedAt)!,
    };
  }

  /** Forgets the project's missions (a change, or one made by another process). */
  forget(projectId: string): void {
    this.generation++;
    this.cache.delete(projectId);
  }

  private async compiled(store: SqlStore, projectId: string): Promise<Compiled[]> {
    const have = this.cache.get(projectId);
    if (have) return have;
    const gen = this.generation;
    const out: Compiled[] = [];
    for (const row of await new MissionStore(store).list(projectId)) {
      const g = parseGoal(row.goal);
      // Stored goals were validated when saved; one that no longer parses is skipped, never fatal to ingest.
      if (g.ok) out.push({ row, goal: g.value, matches: goalFilter(g.value) });
    }
    if (gen === this.generation) this.cache.set(projectId, out);
    return out;
  }

  /** Every fault of a mission as it would be saved, with JSON paths of the request body. */
  private async validate(tx: SqlStore, projectId: string, m: Omit<MissionRow, 'goal' | 'startsAt' | 'endsAt' | 'cooldownMs'>, raw: { startsAt: string | null; endsAt: string | null; goal: Json; cooldown: string | null; segmentIds?: readonly string[] | undefined }, creating: boolean): Promise<{ startsAt: number | null; endsAt: number | null; cooldownMs: number }> {
    const issues: Issue[] = [];
    const time = (k: 'startsAt' | 'endsAt') => {
      const v = raw[k];
      if (v === null) return null;
      const t = parseIsoTime(v);
      if (Number.isNaN(t)) { issues.push({ path: `/${k}`, message: 'expected an ISO date-time such as "2024-06-01T00:00:00Z"' }); return null; }
      return t;
    };
    const startsAt = time('startsAt'), endsAt = time('endsAt');
    if (startsAt !== null && endsAt !== null && endsAt <= startsAt) issues.push({ path: '/endsAt', message: 'must be after startsAt: the mission would never run' });
    else if (creating && endsAt !== null && endsAt <= this.clock.now()) issues.push({ path: '/endsAt', message: 'is in the past: the mission could never be completed' });

    // Checked when given: a target segment deleted since must not block other changes (it qualifies nobody).
    if (raw.segmentIds) {
      const known = new Set((await tx.listSegments(projectId)).map((s) => s.id));
      raw.segmentIds.forEach((id, i) => { if (!known.has(id)) issues.push({ path: `/segmentIds/${i}`, message: `unknown segment id "${id}"` }); });
    }

    const g = parseGoal(raw.goal);
    if (!g.ok) for (const i of g.issues) issues.push({ path: i.path === '/' ? '/goal' : `/goal${i.path}`, message: i.message });
    else if (endsAt !== null && (g.value.kind === 'streak' || g.value.kind === 'distinctDays')) {
      const from = Math.max(startsAt ?? m.createdAt, m.createdAt);
      const days = endsAt > from ? daysIn(endsAt - from) : 0;
      if (g.value.target > days) {
        issues.push({ path: g.value.kind === 'streak' ? '/goal/days' : '/goal/target', message: `the mission counts events for ${days} day${days === 1 ? '' : 's'} (until endsAt): ${g.value.target} ${g.value.kind === 'streak' ? 'consecutive' : 'distinct'} days cannot fit` });
      }
    }

    let cooldownMs = 0;
    if (raw.cooldown !== null) {
      const ms = parseDuration(raw.cooldown);
      if (ms === null) issues.push({ path: '/cooldown', message: `expected a duration such as "1d" (a whole number 1-999999 and a unit m, h, d or w), got ${JSON.stringify(raw.cooldown)}` });
      else if (!m.repeatable) issues.push({ path: '/cooldown', message: 'a cooldown is the wait between completions of a repeatable mission; this one can be completed once ("repeatable": false)' });
      else cooldownMs = ms;
    }
    if (issues.length) throw validationError(`the mission is not valid: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues);
    return { startsAt, endsAt, cooldownMs };
  }

  async create(projectId: string, input: MissionInput): Promise<Mission> {
    return this.engine.write(async (tx) => {
      const now = this.clock.now();
      const base = {
        projectId, id: newId('msn'), name: input.name, description: input.description ?? '', segmentIds: [...new Set(input.segmentIds ?? [])],
        active: input.active ?? true, points: input.points, repeatable: input.repeatable ?? false, createdAt: now, updatedAt: now,
      };
      const t = await this.validate(tx, projectId, base, { startsAt: input.startsAt ?? null, endsAt: input.endsAt ?? null, goal: input.goal, cooldown: input.cooldown ?? null, segmentIds: input.segmentIds ?? [] }, true);
      const row: MissionRow = { ...base, ...t, goal: input.goal };
      this.forget(projectId);
      await new MissionStore(tx).insert(row);
      await tx.bumpDefinitions(projectId);
      return this.view(row);
    }).finally(() => this.forget(projectId));
  }

  async update(projectId: string, id: string, patch: MissionPatch): Promise<Mission> {
    return this.engine.write(async (tx) => {
      const row = await this.require(tx, projectId, id);
      const has = <K extends keyof MissionPatch>(k: K) => patch[k] !== undefined;
      const base = {
        projectId, id, name: patch.name ?? row.name, description: patch.description ?? row.description,
        segmentIds: has('segmentIds') ? [...new Set(patch.segmentIds!)] : [...row.segmentIds], active: patch.active ?? row.active,
        points: patch.points ?? row.points, repeatable: patch.repeatable ?? row.repeatable, createdAt: row.createdAt,
        updatedAt: Math.max(this.clock.now(), row.updatedAt + 1),
      };
      const t = await this.validate(tx, projectId, base, {
        startsAt: 'startsAt' in patch ? patch.startsAt ?? null : iso(row.startsAt),
        endsAt: 'endsAt' in patch ? patch.endsAt ?? null : iso(row.endsAt),
        goal: patch.goal !== undefined ? patch.goal : row.goal,
        // A once-only mission has no cooldown: switching to it drops the old one unless a new one is given.
        cooldown: 'cooldown' in patch ? patch.cooldown ?? null : base.repeatable ? durationText(row.cooldownMs) : null,
        segmentIds: patch.segmentIds,
      }, false);
      const next: MissionRow = { ...base, ...t, goal: patch.goal !== undefined ? patch.goal : row.goal };
      this.forget(projectId);
      await new MissionStore(tx).update(next);
      await tx.bumpDefinitions(projectId);
      return this.view(next);
    }).finally(() => this.forget(projectId));
  }

  async delete(projectId: string, id: string): Promise<void> {
    await this.engine.write(async (tx) => {
      await this.require(tx, projectId, id);
      this.forget(projectId);
      await new MissionStore(tx).delete(projectId, id);
      await tx.bumpDefinitions(projectId);
    }).finally(() => this.forget(projectId));
  }

  async get(projectId: string, id: string): Promise<Mission> {
    return this.view(await this.require(this.store, projectId, id));
  }

  async list(projectId: string): Promise<Mission[]> {
    return (await new MissionStore(this.store).list(projectId)).map((m) => this.view(m));
  }

  private async require(store: SqlStore, projectId: string, id: string): Promise<MissionRow> {
    const row = await new MissionStore(store).get(projectId, id);
    if (!row) throw new AppError({ code: 'NOT_FOUND', message: `no mission with id "${id}"` });
    return row;
  }

  // ------------------------------------------------------------ live progress

  /**
   * The items of a request that must be applied alone (`IngestService.applyAlone`): those that
   * may count for a mission targeted at segments, so that the membership just before and just
   * after each of them is known (docs/missions.md, "Who may take part"). Null when no such
   * mission runs: the request is applied whole.
   */
  async isolation(tx: SqlStore, projectId: string, now: number): Promise<((item: IngestItem) => boolean) | null> {
    const targeted = (await this.compiled(tx, projectId)).filter((m) => m.row.active && inDates(m.row, now) && m.row.segmentIds.length > 0);
    if (targeted.length === 0) return null;
    // "*" and "$session" goals can be advanced by any event a client sends (a visit is derived from one).
    if (targeted.some((m) => m.goal.event === null || m.goal.event === SESSION)) return () => true;
    const names = new Set(targeted.map((m) => m.goal.event!));
    return (item) => names.has(item.name);
  }

  /** The segments among `segmentIds` the user was in when the visit holding `at` began (by the membership history; none without a visit). */
  private async segmentsAtVisitStart(store: SqlStore, projectId: string, profileId: number, segmentIds: readonly string[], at: number): Promise<ReadonlySet<string>> {
    const ms = new MissionStore(store);
    const start = await ms.visitStart(projectId, profileId, at);
    return start === null ? new Set() : ms.segmentsBefore(projectId, profileId, segmentIds, start);
  }

  /**
   * The ingest listener: in the transaction of a stored step (a request, or one event of it:
   * `isolation`), brings the progress of the users it touched up to date on the missions their
   * new events count for, and records, pays and announces each completion. Progress is
   * recomputed from the user's stored events since their attempt's start, so events arriving
   * out of order count where they belong.
   */
  async onIngested(tx: SqlStore, projectId: string, outcome: IngestOutcome, now: number, changes: readonly MembershipChange[] = []): Promise<void> {
    if (outcome.events.length === 0 && outcome.merges.length === 0) return;
    const missions = (await this.compiled(tx, projectId)).filter((m) => m.row.active && inDates(m.row, now));
    if (missions.length === 0) return;

    const byProfile = new Map<number, EventRecord[]>();
    for (const e of outcome.events) {
      let list = byProfile.get(e.profileId);
      if (!list) byProfile.set(e.profileId, (list = []));
      list.push(e);
    }
    // Membership before the step: where the step changed one, its first change says what it was.
    const before = new Map<number, Map<string, boolean>>();
    for (const c of changes) {
      let mine = before.get(c.profileId);
      if (!mine) before.set(c.profileId, (mine = new Map()));
      if (!mine.has(c.segmentId)) mine.set(c.segmentId, c.kind === 'exited');
    }
    // Profiles whose stored events changed beyond the batch (a merge, visits derived again) are recomputed whole.
    const whole = new Set<number>([...outcome.reload, ...outcome.merges.map(([, into]) => into), ...(outcome.removedVisits ?? []).map((v) => v.profileId)]);
    const pairs: { m: Compiled; profileId: number; fresh: EventRecord[]; inTarget: boolean }[] = [];
    for (const profileId of new Set([...byProfile.keys(), ...whole])) {
      const after = new Set(this.engine.segmentsOf(projectId, profileId));
      const was = before.get(profileId);
      const wasIn = (s: string) => was?.get(s) ?? after.has(s);
      const events = byProfile.get(profileId) ?? [];
      for (const m of missions) {
        const fresh = events.filter((e) => m.matches(e, now));
        if (fresh.length === 0 && !whole.has(profileId)) continue;
        // In a target segment just before the step or just after it (the step that brings the user in counts).
        const inTarget = qualifies(m.row, after) || m.row.segmentIds.some(wasIn);
        pairs.push({ m, profileId, fresh, inTarget });
      }
    }
    if (pairs.length === 0) return;

    const store = new MissionStore(tx);
    const rows = new Map((await store.progressOf(projectId, [...new Set(pairs.map((p) => p.m.row.id))], [...new Set(pairs.map((p) => p.profileId))]))
      .map((r) => [key(r.missionId, r.profileId), r]));
    const work: { m: Compiled; profileId: number; row: ProgressRow | undefined; startedAt: number; attemptAt: number; inTarget: boolean }[] = [];
    for (const { m, profileId, fresh, inTarget } of pairs) {
      const row = rows.get(key(m.row.id, profileId));
      if (finished(m.row, row)) continue;
      // An attempt under way is the user's whatever their segments; a new one needs them in a target segment.
      let attemptAt = engaged(m.row, row) ? row!.attemptAt! : undefined;
      let qualified = inTarget;
      if (attemptAt === undefined) {
        // It starts with the earliest of the step's events that the mission's dates and cooldown admit ...
        const last = row?.lastCompletedAt ?? null;
        const lo = Math.max(countFrom(m.row), last === null ? -Infinity : last + m.row.cooldownMs), hi = m.row.endsAt ?? Infinity;
        const admitted = fresh.filter((e) => e.timestamp >= lo && e.timestamp < hi && (last === null || e.timestamp > last)).sort((a, b) => a.timestamp - b.timestamp);
        // ... made in a target segment, or in a visit that began in one (the comeback visit's first event ends a churn before the login).
        for (const e of admitted) {
          qualified ||= qualifies(m.row, await this.segmentsAtVisitStart(tx, projectId, profileId, m.row.segmentIds, e.timestamp));
          if (qualified) { attemptAt = e.timestamp; break; }
        }
        if (attemptAt === undefined) continue;
      }
      work.push({ m, profileId, row, startedAt: row?.startedAt ?? attemptAt, attemptAt, inTarget: qualified });
    }
    if (work.length === 0) return;

    const names = new Set<string>();
    const from = new Map<number, number>();
    let nonDerived = false, context = false;
    for (const { m, profileId, row, attemptAt } of work) {
      const f = row?.lastCompletedAt != null ? Math.max(attemptAt, row.lastCompletedAt) : attemptAt;
      from.set(profileId, Math.min(from.get(profileId) ?? Infinity, f));
      if (m.goal.event === null) nonDerived = true;
      else names.add(m.goal.event);
      context ||= m.goal.readsContext;
    }
    const events = await store.events(projectId, from, { names: [...names], nonDerived, context });

    const saved: ProgressRow[] = [];
    const derived: { profileId: number; name: string; properties: JsonObject; timestamp: number }[] = [];
    for (const { m, profileId, row, startedAt, attemptAt, inTarget } of work) {
      const state = { startedAt: attemptAt, completions: row?.completions ?? 0, lastCompletedAt: row?.lastCompletedAt ?? null };
      const mine = events.get(profileId) ?? [];
      const counts = (e: EventRecord) => m.matches(e, now);
      // Out of the target segments, the user finishes the attempt under way but starts no other.
      const r = walkGoal(m.goal, counts, mine, state,
        { repeatable: m.row.repeatable, cooldownMs: m.row.cooldownMs, endsAt: m.row.endsAt, maxCompletions: inTarget ? MAX_COMPLETIONS_PER_BATCH : 1 });
      let completions = state.completions, lastCompletedAt = state.lastCompletedAt;
      for (const at of r.completedAt) {
        const n = completions + 1;
        const ref = `mission:${m.row.id}:${profileId}:${n}`;
        completions = n;
        lastCompletedAt = at;
        // The log's unique ref makes the completion, its points and its event happen once.
        if (!(await store.recordCompletion(projectId, { ref, missionId: m.row.id, profileId, n, at, points: m.row.points }))) continue;
        if (m.row.points > 0) await this.points.change(tx, projectId, profileId, { kind: 'earn', amount: m.row.points, reason: `mission "${m.row.name}" completed`, ref });
        derived.push({ profileId, name: COMPLETED, properties: { missionId: m.row.id, missionName: m.row.name, points: m.row.points, completion: n }, timestamp: at });
      }
      let next: number | null = attemptAt, progress = r.progress;
      if (m.row.repeatable && lastCompletedAt !== state.lastCompletedAt) {
        // After a completion the next attempt is under way only if it began in this step, with the user in a target segment.
        const done = lastCompletedAt!;
        const open = inTarget ? mine.find((e) => e.timestamp > done && e.timestamp >= done + m.row.cooldownMs && (m.row.endsAt === null || e.timestamp < m.row.endsAt) && counts(e)) : undefined;
        next = open?.timestamp ?? null;
        if (next === null) progress = 0;
      }
      if (row && r.completedAt.length === 0 && row.progress === progress && row.attemptAt === next) continue;
      saved.push({ projectId, missionId: m.row.id, profileId, startedAt, progress, completions, lastCompletedAt, updatedAt: now, attemptAt: next });
    }
    await store.saveProgress(saved);
    // Stored and applied like any event: segments on "$mission_completed" follow in this transaction.
    await this.engine.applyDerived(tx, projectId, derived, now);
  }

  // ------------------------------------------------------------ reading progress

  /** Progress as of `now`: goals that depend on time (a streak, a window) are recomputed from the events. */
  private async progressAt(store: SqlStore, projectId: string, m: Compiled, row: ProgressRow | undefined, now: number): Promise<MissionProgress> {
    const target = m.goal.target;
    const none: MissionProgress = { current: 0, target, completions: 0, completed: false, startedAt: null, lastCompletedAt: null, expiresAt: null, expired: false, availableAt: null };
    if (!row) return none;
    const common = { target, completions: row.completions, completed: row.completions > 0, startedAt: iso(row.startedAt), lastCompletedAt: iso(row.lastCompletedAt) };
    if (!m.row.repeatable && row.completions > 0) return { ...common, current: row.progress, expiresAt: null, expired: false, availableAt: null };
    const availableAt = m.row.repeatable && row.lastCompletedAt !== null && row.lastCompletedAt + m.row.cooldownMs > now ? iso(row.lastCompletedAt + m.row.cooldownMs) : null;
    // Between attempts of a repeatable mission: nothing counts until the user starts the next one.
    if (row.attemptAt === null) return { ...common, current: 0, expiresAt: null, expired: false, availableAt };
    if (m.goal.kind !== 'streak' && m.goal.withinMs === null) return { ...common, current: row.progress, expiresAt: null, expired: false, availableAt };

    const from = row.lastCompletedAt !== null ? Math.max(row.attemptAt, row.lastCompletedAt) : row.attemptAt;
    const events = (await new MissionStore(store).events(projectId, new Map([[row.profileId, from]]), { names: m.goal.event === null ? [] : [m.goal.event], nonDerived: m.goal.event === null, context: m.goal.readsContext })).get(row.profileId) ?? [];
    const r: WalkResult = walkGoal(m.goal, (e) => m.matches(e, now), events.filter((e) => e.timestamp <= now), { ...row, startedAt: row.attemptAt },
      { repeatable: m.row.repeatable, cooldownMs: m.row.cooldownMs, endsAt: m.row.endsAt, maxCompletions: 0 });
    let current = r.progress, expiresAt: number | null = null, expired = false;
    const w = m.goal.withinMs;
    if (w !== null) {
      if (!m.row.repeatable) {
        expiresAt = r.base + w;
        expired = now >= expiresAt;
      } else {
        // Windows roll on: the one holding `now` is the current attempt (empty if no event fell in it yet).
        const start = now < r.base ? r.base : r.base + Math.floor((now - r.base) / w) * w;
        if (start !== r.attemptStart) current = 0;
        expiresAt = start + w;
      }
    }
    // A streak is broken once a whole UTC day has passed without a counted event.
    if (m.goal.kind === 'streak' && !expired && (r.lastEventAt === null || Math.floor(r.lastEventAt / DAY_MS) < Math.floor(now / DAY_MS) - 1)) current = 0;
    return { ...common, current, expiresAt: iso(expiresAt), expired, availableAt };
  }

  private forUserView(m: Compiled, progress: MissionProgress): MissionForUser {
    return { id: m.row.id, name: m.row.name, description: m.row.description, points: m.row.points, goal: m.row.goal, repeatable: m.row.repeatable, progress };
  }

  /**
   * The running missions the user can progress and complete now: those of a target segment they
   * are in, those with an attempt under way, and those of a target segment they were in when
   * their current visit began (their next event, within the session timeout, belongs to it).
   */
  private async eligible(store: SqlStore, projectId: string, profileId: number, running: readonly Compiled[], rows: ReadonlyMap<string, ProgressRow>, now: number, known?: ReadonlySet<string>): Promise<Set<Compiled>> {
    const segments = await segmentIdsOf(this.memberships, projectId, profileId, known);
    const out = new Set(running.filter((m) => qualifies(m.row, segments) || engaged(m.row, rows.get(m.row.id))));
    const rest = running.filter((m) => !out.has(m) && !finished(m.row, rows.get(m.row.id)));
    if (rest.length === 0) return out;
    const lastSeen = await this.memberships.lastSeen(projectId, profileId);
    if (lastSeen === null || now - lastSeen >= this.sessionTimeoutMs) return out;
    const atStart = await this.segmentsAtVisitStart(store, projectId, profileId, rest.flatMap((m) => m.row.segmentIds), now);
    for (const m of rest) if (qualifies(m.row, atStart)) out.add(m);
    return out;
  }

  /**
   * The missions a user can take part in now — active, in their dates, and targeted at a segment
   * they are in (or at everyone), or started and not finished — with their progress (the
   * targeting API). A profile id no profile has gets the missions for everyone, with no progress.
   * `segments`: the user's segments when the caller has read them already.
   */
  async forUser(tx: SqlStore, projectId: string, profileId: number, now: number, segments?: ReadonlySet<string>): Promise<MissionForUser[]> {
    const running = (await this.compiled(tx, projectId)).filter((m) => m.row.active && inDates(m.row, now));
    if (running.length === 0) return [];
    const rows = new Map(profileId >= 0 ? (await new MissionStore(tx).progressOfProfile(projectId, profileId)).map((r) => [r.missionId, r]) : []);
    const eligible = await this.eligible(tx, projectId, profileId, running, rows, now, segments);
    const out: MissionForUser[] = [];
    for (const m of running) if (eligible.has(m)) out.push(this.forUserView(m, await this.progressAt(tx, projectId, m, rows.get(m.row.id), now)));
    return out;
  }

  /** A user's missions for the admin: those they may take part in now, and any they have progress on. */
  async userMissions(projectId: string, userId: string): Promise<UserMission[]> {
    const profile = await this.store.findProfile(projectId, userId);
    if (!profile) throw new AppError({ code: 'NOT_FOUND', message: `no user with userId or anonymousId "${userId}"` });
    const now = this.clock.now();
    const rows = new Map((await new MissionStore(this.store).progressOfProfile(projectId, profile.id)).map((r) => [r.missionId, r]));
    const missions = await this.compiled(this.store, projectId);
    const open = await this.eligible(this.store, projectId, profile.id, missions.filter((m) => m.row.active && inDates(m.row, now)), rows, now);
    const out: UserMission[] = [];
    for (const m of missions) {
      const row = rows.get(m.row.id);
      const eligible = open.has(m);
      if (!eligible && !row) continue;
      out.push({ ...this.forUserView(m, await this.progressAt(this.store, projectId, m, row, now)), active: m.row.active, eligible });
    }
    return out;
  }

  /** Each user's progress on a mission, in a stable order, by cursor (values as of their last counted event). */
  async progress(projectId: string, missionId: string, limit: number, cursor: string | null): Promise<{ progress: ProgressEntry[]; nextCursor: string | null }> {
    const row = await this.require(this.store, projectId, missionId);
    const g = parseGoal(row.goal);
    const target = g.ok ? g.value.target : 0;
    const rows = await new MissionStore(this.store).listProgress(projectId, missionId, limit + 1, decodeCursor(cursor));
    const page = rows.slice(0, limit);
    return {
      progress: page.map((r) => ({
        userId: r.userId, anonymousId: r.anonymousId, current: r.progress, target, completions: r.completions, completed: r.completions > 0,
        startedAt: iso(r.startedAt)!, lastCompletedAt: iso(r.lastCompletedAt), updatedAt: iso(r.updatedAt)!,
      })),
      nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]!.profileId) : null,
    };
  }

  // ------------------------------------------------------------ completion by a back end

  /**
   * A trusted back end says the user met the mission's goal (POST /api/users/:id/missions/:missionId/complete,
   * an admin token or a server key: docs/missions.md). The completion is recorded, paid and
   * announced exactly as one reached by events, in one transaction. With `ref`, a second call
   * with the same ref changes nothing (`duplicate: true`). Refused with 409 when the mission is
   * switched off or outside its dates, the user may not take part (NOT_IN_SEGMENT), a once-only
   * mission is completed already, or a repeatable one is in its cooldown.
   */
  async complete(projectId: string, userId: string, missionId: string, opts: { ref?: string }): Promise<{ missionId: string; completion: number; points: number; at: string; duplicate: boolean }> {
    return this.engine.write(async (tx) => {
      const m = (await this.compiled(tx, projectId)).find((c) => c.row.id === missionId);
      if (!m) throw new AppError({ code: 'NOT_FOUND', message: `no mission with id "${missionId}"` });
      const profile = await tx.findProfile(projectId, userId);
      if (!profile) throw new AppError({ code: 'NOT_FOUND', message: `no user with userId or anonymousId "${userId}"` });
      const store = new MissionStore(tx);
      const ref = opts.ref === undefined ? null : `mission:${m.row.id}:${profile.id}:server:${opts.ref}`;
      const earlier = ref === null ? undefined : (await store.completionsOf(projectId, m.row.id, profile.id)).find((c) => c.ref === ref);
      if (earlier) return { missionId: m.row.id, completion: earlier.n, points: earlier.points, at: iso(earlier.at)!, duplicate: true };

      const now = this.clock.now();
      if (!m.row.active) throw new AppError({ code: 'CONFLICT', message: `mission "${m.row.name}" is switched off` });
      if (!inDates(m.row, now)) throw new AppError({ code: 'OUTSIDE_DATES', message: `mission "${m.row.name}" is not running now (outside its startsAt / endsAt)` });
      const row = (await store.progressOf(projectId, [m.row.id], [profile.id]))[0];
      if (finished(m.row, row)) throw new AppError({ code: 'CONFLICT', message: `the user has completed mission "${m.row.name}" already, and it can be completed once` });
      if (row?.lastCompletedAt != null && now < row.lastCompletedAt + m.row.cooldownMs) {
        throw new AppError({ code: 'CONFLICT', message: `mission "${m.row.name}" is in its cooldown for this user until ${iso(row.lastCompletedAt + m.row.cooldownMs)}` });
      }
      const rows = new Map(row ? [[m.row.id, row] as const] : []);
      if (!(await this.eligible(tx, projectId, profile.id, [m], rows, now)).has(m)) {
        throw new AppError({ code: 'NOT_IN_SEGMENT', message: `the user is in none of the segments mission "${m.row.name}" is targeted at` });
      }
      const n = (row?.completions ?? 0) + 1;
      const logRef = ref ?? `mission:${m.row.id}:${profile.id}:${n}`;
      if (!(await store.recordCompletion(projectId, { ref: logRef, missionId: m.row.id, profileId: profile.id, n, at: now, points: m.row.points }))) {
        throw new AppError({ code: 'CONFLICT', message: `completion ${n} of mission "${m.row.name}" is recorded already; try again` });
      }
      if (m.row.points > 0) await this.points.change(tx, projectId, profile.id, { kind: 'earn', amount: m.row.points, reason: `mission "${m.row.name}" completed`, ref: logRef });
      await store.saveProgress([{
        projectId, missionId: m.row.id, profileId: profile.id, startedAt: row?.startedAt ?? now, progress: m.row.repeatable ? 0 : m.goal.target, completions: n, lastCompletedAt: now, updatedAt: now, attemptAt: null,
      }]);
      await this.engine.applyDerived(tx, projectId, [{ profileId: profile.id, name: COMPLETED, properties: { missionId: m.row.id, missionName: m.row.name, points: m.row.points, completion: n }, timestamp: now }], now);
      return { missionId: m.row.id, completion: n, points: m.row.points, at: iso(now)!, duplicate: false };
    });
  }

}
