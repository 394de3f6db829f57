/**
 * Names and labels the pages show instead of raw ids and API wording: an experiment's metric as a
 * query, warning badges per distinct target, template badges, series that start when their
 * segment did, and save/delete conflicts said in words. Pure functions (no React, no DOM), so
 * they are unit-tested in Node (labels.test.ts).
 */
import type { Issue } from './forms.ts';
import type { Warning } from './types.ts';

// ---------------------------------------------------------------- experiment metrics

export const METRICS = [
  { kind: 'event', label: 'Event', needs: 'event', noun: 'event' },
  { kind: 'mission_participation', label: 'Mission participation', needs: 'missionId', noun: 'mission' },
  { kind: 'mission_completion', label: 'Mission completion', needs: 'missionId', noun: 'mission' },
  { kind: 'reward_redemption', label: 'Reward redemption', needs: 'rewardId', noun: 'reward' },
] as const;
export type MetricKind = (typeof METRICS)[number]['kind'];

export interface MetricChoice {
  metric: MetricKind;
  /** The event name ('*': any), the mission id or the reward id, as the metric needs. */
  target: string;
  /** Conversions within this many days of first exposure; blank: any time after it. */
  days: string;
}

/**
 * The query of GET /api/experiments/:id/results for a choice: each metric sends its own parameter
 * and no other (the API refuses the rest), or the faults at the paths the API would use.
 */
export function metricQuery(c: MetricChoice): { params: Record<string, string>; issues: Issue[] } {
  const m = METRICS.find((x) => x.kind === c.metric)!;
  const issues: Issue[] = [];
  const params: Record<string, string> = { metric: c.metric };
  if (!c.target.trim()) issues.push({ path: `/querystring/${m.needs}`, message: `choose ${m.noun === 'event' ? 'an event' : `a ${m.noun}`}` });
  else params[m.needs] = c.target.trim();
  const days = c.days.trim();
  if (days) {
    if (!/^[0-9]+$/.test(days) || Number(days) < 1 || Number(days) > 3650) issues.push({ path: '/querystring/days', message: 'must be a whole number of days from 1 to 3650' });
    else params.days = String(Number(days));
  }
  return { params, issues };
}

// ---------------------------------------------------------------- warnings

export interface WarningBadge {
  code: Warning['code'];
  /** "SUBSET of Buyers"; the bare code when the warning names no other segment. */
  label: string;
  title: string;
  /** The segment it names (for a link), if one. */
  segmentId: string | null;
}

/**
 * One badge per distinct (code, target segment) of a segment's warnings, each naming its target:
 * two SUBSET warnings about two segments are "SUBSET of A" and "SUBSET of B", never two bare
 * "SUBSET" badges. `name` gives a segment's name (its id when unknown).
 */
export function warningBadges(warnings: readonly Warning[], name: (id: string) => string): WarningBadge[] {
  const seen = new Set<string>();
  const out: WarningBadge[] = [];
  for (const w of warnings) {
    const targets: (string | null)[] = w.segmentIds.length ? w.segmentIds : [null];
    for (const id of targets) {
      const key = `${w.code}\u0000${id ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const word = w.code === 'SUBSET' || w.code === 'DUPLICATE' ? 'of' : 'with';
      out.push({ code: w.code, label: id === null ? w.code : `${w.code} ${word} ${name(id)}`, title: w.message, segmentId: id });
    }
  }
  return out;
}

// ---------------------------------------------------------------- templates

/** Prefix of the template of an experiment arm's segment (`experiment/<experiment id>`, set by the engine). */
const EXPERIMENT_TEMPLATE = 'experiment/';

/**
 * What a segment's template badge says: the template's name for a gallery template, "experiment
 * arm <key>" (linking to the experiments) for an arm's segment — never the experiment's id.
 */
export function templateBadge(template: string | null, params: Record<string, unknown> | null, templateNames: ReadonlyMap<string, string> = new Map()): { label: string; to: string | null } | null {
  if (!template) return null;
  if (template.startsWith(EXPERIMENT_TEMPLATE)) {
    const arm = typeof params?.arm === 'string' ? params.arm : null;
    return { label: arm ? `experiment arm ${arm}` : 'experiment arm', to: '/experiments' };
  }
  return { label: templateNames.get(template) ?? template, to: null };
}

/** The experiment an arm's segment belongs to (its id), or null for any other segment. */
export function experimentOf(template: string | null): string | null {
  return template?.startsWith(EXPERIMENT_TEMPLATE) ? template.slice(EXPERIMENT_TEMPLATE.length) : null;
}

// ---------------------------------------------------------------- series

/**
 * Values per UTC day (`dates`: YYYY-MM-DD) with the days before the segment existed as null: the
 * API counts them as 0 members, which would draw every new segment as a flat line then a cliff.
 * The day it was created keeps its value (members at the end of that day).
 */
export function sinceCreated<T>(dates: readonly string[], values: readonly T[], createdAt: string | null | undefined): (T | null)[] {
  const first = createdAt ? createdAt.slice(0, 10) : '';
  return values.map((v, i) => (first && (dates[i] ?? '') < first ? null : v));
}

// ---------------------------------------------------------------- conflicts in words

/** The Name field's message for a 409 on saving a segment (a name already taken). */
export function nameConflictMessage(fromTemplate: boolean): string {
  return fromTemplate ? 'A segment from this template already exists — choose another name' : 'A segment with this name already exists — choose another name';
}

// ---------------------------------------------------------------- insights

/** The figures of a segment's insights, in the order the Insights tab and its comparison show them. */
export function insightFigures(i: { size: number; missions: { participants: number; participationRate: number; completers: number; completionRate: number; completions: number }; rewards: { redemptions: number; redeemers: number }; points: { earned: number; spent: number } }): { label: string; value: string; detail: string }[] {
  const n = (x: number) => x.toLocaleString('en-US');
  const share = (r: number) => `${(r * 100).toFixed(1)}% of members`;
  return [
    { label: 'Members now', value: n(i.size), detail: '' },
    { label: 'Mission participants', value: n(i.missions.participants), detail: share(i.missions.participationRate) },
    { label: 'Mission completers', value: n(i.missions.completers), detail: share(i.missions.completionRate) },
    { label: 'Missions completed', value: n(i.missions.completions), detail: '' },
    { label: 'Redemptions', value: n(i.rewards.redemptions), detail: `by ${n(i.rewards.redeemers)} ${i.rewards.redeemers === 1 ? 'user' : 'users'}` },
    { label: 'Points earned', value: n(i.points.earned), detail: '' },
    { label: 'Points spent', value: n(i.points.spent), detail: '' },
  ];
}
