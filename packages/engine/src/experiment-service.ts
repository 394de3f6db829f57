import type { ApiView } from './api-view.ts';
import { isoTime as iso } from '@strata/core';
import type { Json, JsonObject } from '@strata/core';
import {
  AppError, BUCKETS, DAY_MS, bucketRanges, compareProportions, isDerivedEvent, parseCondition, sampleRatioMismatch, SRM_P_THRESHOLD, validationError,
  type Issue, type ProportionComparison,
} from '@strata/core';
import { ExperimentStore, type ConversionSource, type ExperimentArmRow, type ExperimentRow, type ExperimentStatus, type SqlStore } from '@strata/store';
import type { Clock } from './clock.ts';
import type { LiveEngine } from './live-engine.ts';
import { newId } from './ids.ts';
import type { SegmentService, SegmentSetItem } from './segment-service.ts';

export interface ExperimentArmInput {
  readonly key: string;
  readonly name?: string;
  readonly weight: number;
}

export interface ExperimentInput {
  readonly name: string;
  readonly description?: string;
  /** Who takes part; null or absent: every profile. */
  readonly audienceSegmentId?: string | null;
  /** The hashing seed; the experiment's id when absent (GrowthBook uses the experiment key). */
  readonly salt?: string;
  readonly arms: readonly ExperimentArmInput[];
  /** The control arm's key; the first arm when absent. */
  readonly control?: string;
  readonly status?: 'draft' | 'running';
}

export interface ExperimentPatch {
  readonly name?: string;
  readonly description?: string;
  readonly status?: ExperimentStatus;
  readonly control?: string;
  /** Arms by key: names may change at any time; weights only while the experiment is a draft. */
  readonly arms?: readonly { readonly key: string; readonly name?: string; readonly weight?: number }[];
  /** Draft only. */
  readonly audienceSegmentId?: string | null;
  /** Draft only. */
  readonly salt?: string;
}

/** An arm: its row (buckets [from, to) of 0..10000) with its share and size. */
export interface ExperimentArmView extends ExperimentArmRow {
  /** (to − from) / 10000: the share of the audience the arm gets. */
  readonly share: number;
  /** Current members of the arm segment. */
  readonly size: number;
}

export interface ExperimentView extends ApiView<ExperimentRow, 'startedAt' | 'stoppedAt' | 'createdAt' | 'updatedAt', 'arms'> {
  readonly arms: ExperimentArmView[];
}

export type MetricInput =
  | { readonly metric: 'event'; readonly event: string; readonly days?: number }
  | { readonly metric: 'mission_participation'; readonly missionId: string; readonly days?: number }
  | { readonly metric: 'mission_completion'; readonly missionId: string; readonly days?: number }
  | { readonly metric: 'reward_redemption'; readonly rewardId: string; readonly days?: number };

export type MetricKind = MetricInput['metric'];
export const METRIC_KINDS: readonly MetricKind[] = ['event', 'mission_participation', 'mission_completion', 'reward_redemption'];

export interface ArmResult {
  readonly key: string;
  readonly name: string;
  readonly segmentId: string;
  readonly control: boolean;
  /** The arm's share of buckets: what SRM expects. */
  readonly expectedShare: number;
  /** Profiles exposed to this arm (and to no other arm). */
  readonly users: number;
  readonly conversions: number;
  /** conversions / users; null without users. */
  readonly rate: number | null;
  /** Against the control arm; null for the control itself and when either has no users. */
  readonly vsControl: ProportionComparison | null;
}

export interface ResultWarning {
  readonly code: 'SAMPLE_RATIO_MISMATCH' | 'MULTIPLE_EXPOSURES' | 'ARM_SEGMENT_CHANGED' | 'ARM_SEGMENT_MISSING';
  readonly message: string;
}

export interface ExperimentResults {
  readonly experimentId: string;
  readonly status: ExperimentStatus;
  readonly metric: { readonly kind: MetricKind; readonly event?: string; readonly missionId?: string; readonly rewardId?: string; readonly days: number | null };
  readonly computedAt: string;
  readonly control: string;
  readonly arms: ArmResult[];
  /** Profiles exposed to more than one arm (an id that changed arms, e.g. anonymous → known): left out of every arm. */
  readonly excludedUsers: number;
  readonly srm: {
    readonly chiSquare: number;
    readonly df: number;
    readonly pValue: number | null;
    readonly threshold: number;
    readonly expected: number[];
    readonly mismatch: boolean;
  };
  readonly warnings: ResultWarning[];
}

const KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** The condition of an arm: the audience (when there is one) and the arm's buckets under the salt. */
export function armCondition(audienceSegmentId: string | null, salt: string, range: { from: number; to: number }): JsonObject {
  const bucket = { bucket: { salt, from: range.from, to: range.to } };
  return audienceSegmentId === null ? bucket : { all: [{ segment: audienceSegmentId }, bucket] };
}

export const armSegmentName = (experimentName: string, armName: string) => `Experiment ${experimentName}: ${armName}`;
export const EXPERIMENT_TEMPLATE_PREFIX = 'experiment/';

const conflict = (message: string) => new AppError({ code: 'CONFLICT', message });
const invalid = (issues: Issue[]) => validationError(`the experiment is not valid: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues);

/**
 * A/B experiments (docs/experiments.md). Each arm is an ordinary segment — the audience and a
 * range of GrowthBook v2 buckets — so assignment is deterministic and sticky, and missions,
 * rewards and experiences target an arm by its segment id. Results read first exposures from
 * the arm segments' membership history and compare each arm with the control.
 */
export class ExperimentService {
  constructor(
    private readonly store: SqlStore,
    private readonly segments: SegmentService,
    private readonly engine: LiveEngine,
    private readonly clock: Clock,
  ) {}

  private async view(store: SqlStore, e: ExperimentRow, sizes?: Map<string, number>): Promise<ExperimentView> {
    const have = sizes ?? (await store.segmentSizes(e.projectId));
    return {
      id: e.id, name: e.name, description: e.description, audienceSegmentId: e.audienceSegmentId, salt: e.salt, control: e.control, status: e.status,
      arms: e.arms.map((a) => ({ key: a.key, name: a.name, weight: a.weight, segmentId: a.segmentId, from: a.from, to: a.to, share: (a.to - a.from) / BUCKETS, size: have.get(a.segmentId) ?? 0 })),
      startedAt: iso(e.startedAt), stoppedAt: iso(e.stoppedAt), createdAt: iso(e.createdAt)!, updatedAt: iso(e.updatedAt)!,
    };
  }

  private async require(store: SqlStore, projectId: string, id: string): Promise<ExperimentRow> {
    const e = await new ExperimentStore(store).get(projectId, id);
    if (!e) throw new AppError({ code: 'NOT_FOUND', message: `no experiment with id "${id}"` });
    return e;
  }

  /** Faults of a salt as a condition would see them (NUL, unpaired surrogates). */
  private saltIssues(salt: string): Issue[] {
    if (salt.length === 0 || salt.length > 200) return [{ path: '/salt', message: 'must be 1 to 200 characters' }];
    const r = parseCondition({ bucket: { salt, from: 0, to: BUCKETS } });
    return r.ok ? [] : [{ path: '/salt', message: r.issues[0]!.message }];
  }

  private async audienceIssues(store: SqlStore, projectId: string, audienceSegmentId: string | null): Promise<Issue[]> {
    if (audienceSegmentId === null) return [];
    return (await store.getSegment(projectId, audienceSegmentId)) ? [] : [{ path: '/audienceSegmentId', message: `no segment with id "${audienceSegmentId}"` }];
  }

  async create(projectId: string, input: ExperimentInput): Promise<ExperimentView> {
    const id = newId('exp');
    const salt = input.salt ?? id;
    const issues: Issue[] = [];
    if (input.arms.length < 2) issues.push({ path: '/arms', message: 'an experiment needs two or more arms' });
    const seen = new Map<string, number>();
    input.arms.forEach((a, i) => {
      if (!KEY.test(a.key)) issues.push({ path: `/arms/${i}/key`, message: 'must be 1 to 64 letters, digits, "_", "-" or ".", starting with a letter or digit' });
      else if (seen.has(a.key)) issues.push({ path: `/arms/${i}/key`, message: `duplicates the key of arm ${seen.get(a.key)}` });
      else seen.set(a.key, i);
    });
    const ranges = bucketRanges(input.arms.map((a) => a.weight));
    if (!ranges.ok) issues.push(...ranges.issues.filter((x) => x.path !== '/').map((x) => ({ path: `/arms${x.path}`, message: x.message })));
    const control = input.control ?? input.arms[0]?.key;
    if (input.control !== undefined && !input.arms.some((a) => a.key === input.control)) issues.push({ path: '/control', message: `is not the key of an arm (${input.arms.map((a) => a.key).join(', ')})` });
    issues.push(...this.saltIssues(salt));
    const audience = input.audienceSegmentId ?? null;
    issues.push(...(await this.audienceIssues(this.store, projectId, audience)));
    if (issues.length || !ranges.ok || control === undefined) throw invalid(issues);

    const arms: ExperimentArmRow[] = input.arms.map((a, i) => ({ key: a.key, name: a.name ?? a.key, weight: a.weight, segmentId: newId('seg'), ...ranges.value[i]! }));
    const audienceName = audience === null ? null : (await this.store.getSegment(projectId, audience))?.name ?? audience;
    const items: SegmentSetItem[] = arms.map((a) => ({
      id: a.segmentId, name: armSegmentName(input.name, a.name), description: armDescription(input.name, a, audienceName, salt === id ? null : salt),
      condition: armCondition(audience, salt, a), template: EXPERIMENT_TEMPLATE_PREFIX + id, params: { experimentId: id, arm: a.key },
    }));
    const now = this.clock.now();
    const row: ExperimentRow = {
      id, projectId, name: input.name, description: input.description ?? '', audienceSegmentId: audience, salt, arms, control,
      status: input.status ?? 'draft', startedAt: input.status === 'running' ? now : null, stoppedAt: null, createdAt: now, updatedAt: now,
    };
    const created = await this.segments.createSet(projectId, items, async (tx) => {
      const store = new ExperimentStore(tx);
      const clash = await store.byName(projectId, input.name);
      if (clash) throw conflict(`an experiment named "${input.name}" already exists (${clash.id})`);
      await store.insert(row);
    });
    return this.view(this.store, row, new Map(created.map((s) => [s.id, s.size])));
  }

  async get(projectId: string, id: string): Promise<ExperimentView> {
    return this.view(this.store, await this.require(this.store, projectId, id));
  }

  async list(projectId: string): Promise<ExperimentView[]> {
    const rows = await new ExperimentStore(this.store).list(projectId);
    const sizes = await this.store.segmentSizes(projectId);
    return Promise.all(rows.map((r) => this.view(this.store, r, sizes)));
  }

  /**
   * Changes an experiment. Weights, audience and salt re-bucket users, so they change only while
   * it is a draft (409 afterwards); names, description, control and status change at any time.
   * Status moves draft → running → stopped → running (resumed); never back to draft.
   */
  async update(projectId: string, id: string, patch: ExperimentPatch): Promise<ExperimentView> {
    const out = await this.engine.write(async (tx) => {
      const e = await this.require(tx, projectId, id);
      const store = new ExperimentStore(tx);
      const issues: Issue[] = [];
      const arms: { -readonly [K in keyof ExperimentArmRow]: ExperimentArmRow[K] }[] = e.arms.map((a) => ({ ...a }));
      const seen = new Set<string>();
      (patch.arms ?? []).forEach((p, i) => {
        const arm = arms.find((a) => a.key === p.key);
        if (!arm) issues.push({ path: `/arms/${i}/key`, message: `is not the key of an arm (${e.arms.map((a) => a.key).join(', ')}); arms cannot be added or removed — create a new experiment` });
        else if (seen.has(p.key)) issues.push({ path: `/arms/${i}/key`, message: 'names the same arm twice' });
        else {
          seen.add(p.key);
          if (p.name !== undefined) arm.name = p.name;
          if (p.weight !== undefined) arm.weight = p.weight;
        }
      });
      const rebucket = arms.some((a, i) => a.weight !== e.arms[i]!.weight)
        || (patch.audienceSegmentId !== undefined && patch.audienceSegmentId !== e.audienceSegmentId)
        || (patch.salt !== undefined && patch.salt !== e.salt);
      if (patch.control !== undefined && !arms.some((a) => a.key === patch.control)) issues.push({ path: '/control', message: `is not the key of an arm (${arms.map((a) => a.key).join(', ')})` });
      const salt = patch.salt ?? e.salt;
      const audience = patch.audienceSegmentId !== undefined ? patch.audienceSegmentId : e.audienceSegmentId;
      if (patch.salt !== undefined) issues.push(...this.saltIssues(salt));
      if (patch.audienceSegmentId !== undefined) issues.push(...(await this.audienceIssues(tx, projectId, audience)));
      const ranges = bucketRanges(arms.map((a) => a.weight));
      if (!ranges.ok) issues.push(...ranges.issues.map((x) => ({ path: `/arms${x.path === '/' ? '' : x.path}`, message: x.message })));
      if (issues.length || !ranges.ok) throw invalid(issues);
      if (rebucket && e.status !== 'draft') {
        throw conflict(`experiment ${id} is ${e.status}: changing weights, audience or salt would move users between arms; only a draft can be re-bucketed (create a new experiment instead)`);
      }
      ranges.value.forEach((r, i) => Object.assign(arms[i]!, r));

      const now = Math.max(this.clock.now(), e.updatedAt + 1);
      let status = e.status, startedAt = e.startedAt, stoppedAt = e.stoppedAt;
      if (patch.status !== undefined && patch.status !== e.status) {
        if (patch.status === 'draft') throw conflict(`experiment ${id} is ${e.status}: it cannot go back to draft`);
        if (patch.status === 'stopped' && e.status === 'draft') throw conflict(`experiment ${id} has not started: start it (status "running") before stopping it`);
        status = patch.status;
        if (status === 'running') { startedAt ??= now; stoppedAt = null; } else stoppedAt = now;
      }
      const name = patch.name ?? e.name;
      if (name !== e.name) {
        const clash = await store.byName(projectId, name);
        if (clash) throw conflict(`an experiment named "${name}" already exists (${clash.id})`);
      }

      // The arm segments follow: names always, conditions when re-bucketed.
      const segmentRows = await tx.listSegments(projectId);
      const changed: string[] = [];
      for (const arm of arms) {
        const seg = segmentRows.find((s) => s.id === arm.segmentId);
        if (!seg) {
          if (rebucket || arm.name !== e.arms.find((a) => a.key === arm.key)!.name || name !== e.name) throw conflict(`the segment of arm "${arm.key}" (${arm.segmentId}) was deleted; create a new experiment`);
          continue;
        }
        const segName = armSegmentName(name, arm.name);
        const clash = segmentRows.find((s) => s.name === segName && s.id !== seg.id);
        if (clash) throw conflict(`a segment named "${segName}" already exists (${clash.id})`);
        const condition = rebucket ? armCondition(audience, salt, arm) : seg.condition;
        if (rebucket) {
          const byId = new Map(segmentRows.map((s) => [s.id, s.id === seg.id ? condition : s.condition]));
          const parsed = parseCondition(condition, { segmentCondition: (sid) => byId.get(sid), selfId: seg.id });
          if (!parsed.ok) throw validationError('the arm\'s condition would not be valid', parsed.issues.map((x) => ({ path: '/audienceSegmentId', message: x.message })));
        }
        if (segName === seg.name && !rebucket) continue;
        const audienceName = audience === null ? null : segmentRows.find((r) => r.id === audience)?.name ?? audience;
        await tx.updateSegment({ ...seg, name: segName, condition: condition as Json | null, description: armDescription(name, arm, audienceName, salt === id ? null : salt), updatedAt: Math.max(now, seg.updatedAt + 1) });
        changed.push(seg.id);
      }
      if (changed.length) await this.engine.segmentsChanged(tx, projectId, changed, this.clock.now());

      const next: ExperimentRow = {
        ...e, name, description: patch.description ?? e.description, audienceSegmentId: audience, salt, arms,
        control: patch.control ?? e.control, status, startedAt, stoppedAt, updatedAt: now,
      };
      await store.update(next);
      return { next, changed: changed.length > 0, view: await this.view(tx, next) };
    });
    // Where no engine runs (the api role), the arms' sizes once the processes that apply the log have re-bucketed them.
    if (!out.changed || !this.engine.holdsNoState) return out.view;
    await this.engine.changesApplied();
    return this.view(this.store, out.next);
  }

  /**
   * Deletes the experiment's definition. A running experiment must be stopped first (409). Its
   * arm segments stay: missions, rewards or experiences may target them, and their history is
   * the record of who saw what; delete them with DELETE /api/segments/:id when no longer needed.
   */
  async delete(projectId: string, id: string): Promise<void> {
    await this.engine.write(async (tx) => {
      const e = await this.require(tx, projectId, id);
      if (e.status === 'running') throw conflict(`experiment ${id} is running: stop it first (PATCH {"status": "stopped"})`);
      await new ExperimentStore(tx).delete(projectId, id);
    });
  }

  /** Validates a metric and says what counts as a conversion. */
  private async conversionSource(projectId: string, m: MetricInput): Promise<ConversionSource> {
    switch (m.metric) {
      case 'event':
        if (m.event !== '*' && isDerivedEvent(m.event) && m.event !== '$mission_completed') {
          throw validationError('the metric is not valid', [{ path: '/querystring/event', message: `"${m.event}" is derived by Strata; use a tracked event, "*", "$mission_completed" or "$experience_viewed"` }]);
        }
        return { kind: 'event', name: m.event === '*' ? null : m.event };
      case 'mission_participation':
      case 'mission_completion':
        if (!(await this.exists('missions', projectId, m.missionId))) throw new AppError({ code: 'NOT_FOUND', message: `no mission with id "${m.missionId}"` });
        return { kind: m.metric, missionId: m.missionId };
      case 'reward_redemption':
        if (!(await this.exists('rewards', projectId, m.rewardId))) throw new AppError({ code: 'NOT_FOUND', message: `no reward with id "${m.rewardId}"` });
        return { kind: 'reward_redemption', rewardId: m.rewardId };
    }
  }

  private async exists(table: 'missions' | 'rewards', projectId: string, id: string): Promise<boolean> {
    return new ExperimentStore(this.store).exists(table, projectId, id);
  }

  /**
   * Per arm: users (profiles ever exposed to it, and to no other arm), conversions of the metric
   * after first exposure (within `days` when given), the rate, and against the control the
   * absolute and relative lift, its 95% interval and the two-sided p-value of the
   * two-proportion z-test; and the sample ratio mismatch check (docs/experiments.md).
   */
  async results(projectId: string, id: string, metric: MetricInput): Promise<ExperimentResults> {
    const e = await this.require(this.store, projectId, id);
    const source = await this.conversionSource(projectId, metric);
    const days = metric.days ?? null;
    const store = new ExperimentStore(this.store);
    const segIds = e.arms.map((a) => a.segmentId);
    const exposures = await store.exposures(projectId, segIds);
    const converted = await store.conversions(projectId, segIds, source, days === null ? null : days * DAY_MS);

    const armsOf = new Map<number, Set<string>>();
    for (const x of exposures) {
      let s = armsOf.get(x.profileId);
      if (!s) armsOf.set(x.profileId, (s = new Set()));
      s.add(x.segmentId);
    }
    const single = (profileId: number) => armsOf.get(profileId)!.size === 1;
    const users = new Map<string, number>(segIds.map((s) => [s, 0]));
    const conversions = new Map<string, number>(segIds.map((s) => [s, 0]));
    for (const x of exposures) if (single(x.profileId)) users.set(x.segmentId, users.get(x.segmentId)! + 1);
    for (const x of converted) if (single(x.profileId)) conversions.set(x.segmentId, conversions.get(x.segmentId)! + 1);
    const excludedUsers = [...armsOf.values()].filter((s) => s.size > 1).length;

    const control = e.arms.find((a) => a.key === e.control)!;
    const counts = (a: ExperimentArmRow) => ({ users: users.get(a.segmentId)!, conversions: conversions.get(a.segmentId)! });
    const arms: ArmResult[] = e.arms.map((a) => {
      const c = counts(a);
      return {
        key: a.key, name: a.name, segmentId: a.segmentId, control: a.key === e.control, expectedShare: (a.to - a.from) / BUCKETS,
        users: c.users, conversions: c.conversions, rate: c.users === 0 ? null : c.conversions / c.users,
        vsControl: a.key === e.control ? null : compareProportions(counts(control), c),
      };
    });
    // Expected shares are the arms' bucket shares: exactly the probability of assignment.
    const srm = sampleRatioMismatch(arms.map((a) => a.users), e.arms.map((a) => a.to - a.from));

    const warnings: ResultWarning[] = [];
    if (srm.mismatch) {
      warnings.push({ code: 'SAMPLE_RATIO_MISMATCH', message: `users per arm (${arms.map((a) => `${a.key} ${a.users}`).join(', ')}) are not in the ratio of the weights (chi-square ${srm.chiSquare.toFixed(2)}, p = ${srm.pValue!.toPrecision(3)} < ${SRM_P_THRESHOLD}): the assignment or the exposure data is biased; do not trust these results until the cause is found` });
    }
    if (excludedUsers > 0) {
      warnings.push({ code: 'MULTIPLE_EXPOSURES', message: `${excludedUsers} user(s) were exposed to more than one arm (their id changed, e.g. anonymous → known) and are left out of every arm` });
    }
    const segments = new Map((await this.store.listSegments(projectId)).map((s) => [s.id, s]));
    for (const a of e.arms) {
      const seg = segments.get(a.segmentId);
      if (!seg) warnings.push({ code: 'ARM_SEGMENT_MISSING', message: `the segment of arm "${a.key}" (${a.segmentId}) was deleted: no new users are assigned to it` });
      else if (canonical(seg.condition) !== canonical(armCondition(e.audienceSegmentId, e.salt, a))) {
        warnings.push({ code: 'ARM_SEGMENT_CHANGED', message: `the condition of arm "${a.key}"'s segment (${a.segmentId}) was changed by hand: assignment no longer follows the experiment's buckets` });
      }
    }
    const { metric: kind, days: _d, ...params } = metric;
    return {
      experimentId: e.id, status: e.status, metric: { kind, ...params, days }, computedAt: iso(this.clock.now())!, control: e.control,
      arms, excludedUsers, srm: { ...srm, threshold: SRM_P_THRESHOLD }, warnings,
    };
  }
}

/**
 * An arm segment's description, in names (the admin UI shows it as written): the experiment, the
 * buckets, the audience segment, and the salt only when it is not the experiment's own id.
 */
function armDescription(name: string, arm: { key: string; from: number; to: number }, audienceName: string | null, customSalt: string | null): string {
  const salt = customSalt === null ? '' : ` of salt "${customSalt}"`;
  return `Arm "${arm.key}" of experiment "${name}": buckets ${arm.from}–${arm.to - 1}${salt}${audienceName !== null ? ` within segment "${audienceName}"` : ''}. Managed by the experiment: changing this segment by hand changes who is in the arm.`;
}

/** JSON with object keys sorted: PostgreSQL's jsonb does not keep the order they were written in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}
