/**
 * Form state ↔ request bodies for the create/edit forms of missions, rewards, experiences,
 * experiments and webhooks. Pure functions (no React, no DOM): each `…Body` builds the exact JSON
 * the admin API accepts (packages/server/src/routes/*.ts) and the faults it can see in the browser,
 * at the JSON paths the server would report them (so one display serves both); each `…Form`
 * reads a saved object (Edit) or a typed JSON body (the "Edit as JSON" view) back into form state.
 *
 * Bodies are the same for create (`POST`) and edit (`PATCH`): every field is sent, so an edit
 * replaces the whole object; a blank optional field is sent as `null` (no start, no end, no
 * cooldown, no limit), which clears it on an edit. Experiments and webhooks are only created
 * here: "everyone" / "every segment" are sent by leaving the field out.
 */
import { isObj } from './condition.ts';
import type { Json } from './types.ts';

export interface Issue {
  path: string;
  message: string;
}
export type Body = { [k: string]: Json };
/** What a form would send, and what is wrong with it (nothing is sent while `issues` is not empty). */
export interface Built {
  body: Body;
  issues: Issue[];
}

const DAY_MS = 86_400_000;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS } as const;
const DURATION = /^([1-9][0-9]{0,5})([mhdw])$/;

/** Milliseconds of a Duration such as "7d" (the API's format), or null. */
export function durationMs(s: string): number | null {
  const m = DURATION.exec(s);
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : null;
}

/** A `datetime-local` value (the browser's local time) as an ISO instant; null when blank or not a date. */
export function localToIso(local: string): string | null {
  if (!local.trim()) return null;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/**
 * An ISO instant as a `datetime-local` value in the browser's local time ('' for null), to the
 * second when it has seconds (the inputs take seconds: step 1), so that an unchanged Edit sends
 * the saved instant back (milliseconds aside).
 */
export function isoToLocal(iso: Json | undefined): string {
  if (typeof iso !== 'string' || !iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  const minutes = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  return d.getSeconds() === 0 && d.getMilliseconds() === 0 ? minutes : `${minutes}:${p(d.getSeconds())}`;
}

/** Reads a number field: undefined (and an issue) when it is not one within bounds. */
function num(text: string, path: string, issues: Issue[], o: { min: number; max: number; whole?: boolean; above?: boolean }): number | undefined {
  const t = text.trim();
  if (t === '') { issues.push({ path, message: 'is required' }); return undefined; }
  const n = Number(t);
  if (!Number.isFinite(n)) { issues.push({ path, message: 'must be a number' }); return undefined; }
  if (o.whole && !Number.isInteger(n)) { issues.push({ path, message: 'must be a whole number' }); return undefined; }
  if (o.above ? n <= o.min : n < o.min) { issues.push({ path, message: o.above ? `must be greater than ${o.min}` : `must be at least ${o.min}` }); return undefined; }
  if (n > o.max) { issues.push({ path, message: `must be at most ${o.max}` }); return undefined; }
  return n;
}

/** A blank field is `null` (unlimited, no limit); otherwise a number as `num` reads it. */
const optionalNum = (text: string, path: string, issues: Issue[], o: Parameters<typeof num>[3]): number | null | undefined =>
  text.trim() === '' ? null : num(text, path, issues, o);

function text(v: string, path: string, issues: Issue[], max: number, required = true): string {
  const t = v.trim();
  if (required && t === '') issues.push({ path, message: 'is required' });
  else if (t.length > max) issues.push({ path, message: `must be at most ${max} characters` });
  return t;
}

/** startsAt/endsAt from two datetime-local fields: null when blank, and end after start. */
function dates(startsAt: string, endsAt: string, issues: Issue[]): { startsAt: string | null; endsAt: string | null } {
  const from = localToIso(startsAt), to = localToIso(endsAt);
  if (startsAt.trim() && from === null) issues.push({ path: '/startsAt', message: 'is not a date' });
  if (endsAt.trim() && to === null) issues.push({ path: '/endsAt', message: 'is not a date' });
  if (from !== null && to !== null && to <= from) issues.push({ path: '/endsAt', message: 'must be after the start' });
  return { startsAt: from, endsAt: to };
}

// Lenient readers for saved objects and typed JSON.
const str = (v: Json | undefined, d = ''): string => (typeof v === 'string' ? v : d);
const numText = (v: Json | undefined, d = ''): string => (typeof v === 'number' ? String(v) : typeof v === 'string' ? v : d);
const strings = (v: Json | undefined): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const obj = (v: Json | undefined): { [k: string]: Json } => (isObj(v) ? v : {});
/** A payload as the small JSON textarea shows it ('' for absent). */
const jsonText = (v: Json | undefined): string => (v === undefined ? '' : JSON.stringify(v, null, 2));

// ---------------------------------------------------------------- missions

export type GoalKind = 'count' | 'distinctDays' | 'streak' | 'sum';
export const GOAL_KINDS: { kind: GoalKind; label: string; target: string }[] = [
  { kind: 'count', label: 'Do the event N times', target: 'Times' },
  { kind: 'distinctDays', label: 'On N different days', target: 'Different days' },
  { kind: 'streak', label: 'N days in a row', target: 'Days in a row' },
  { kind: 'sum', label: 'Sum of a property reaches N', target: 'Sum to reach' },
];

export interface MissionForm {
  name: string;
  description: string;
  kind: GoalKind;
  event: string;
  /** `where` clauses of the condition language, `{attr, op, value}` (edited by the builder's rows). */
  where: Json[];
  /** count, distinctDays and sum: `target`; streak: `days`. */
  target: string;
  /** sum: the summed property. */
  prop: string;
  within: string;
  points: string;
  repeatable: boolean;
  cooldown: string;
  startsAt: string;
  endsAt: string;
  segmentIds: string[];
  active: boolean;
}

export const emptyMission = (): MissionForm => ({
  name: '', description: '', kind: 'count', event: '', where: [], target: '1', prop: 'properties.', within: '', points: '10',
  repeatable: false, cooldown: '', startsAt: '', endsAt: '', segmentIds: [], active: true,
});

const GOAL_MAX: Record<GoalKind, number> = { count: 1_000_000, distinctDays: 3660, streak: 3660, sum: 1e15 };

/** The body of POST /api/missions (and PATCH /api/missions/:id). */
export function missionBody(f: MissionForm): Built {
  const issues: Issue[] = [];
  const name = text(f.name, '/name', issues, 200);
  const description = text(f.description, '/description', issues, 2000, false);

  const goal: Body = { kind: f.kind };
  const event = f.event.trim();
  if (!event) issues.push({ path: '/goal/event', message: 'is required (an event name, or * for any event)' });
  goal.event = event;
  if (f.where.length) {
    f.where.forEach((w, i) => { if (!isObj(w) || typeof w.attr !== 'string' || !w.attr.trim()) issues.push({ path: `/goal/where/${i}/attr`, message: 'is required' }); });
    goal.where = f.where;
  }
  if (f.kind === 'sum') {
    const prop = f.prop.trim();
    if (!prop || prop.endsWith('.')) issues.push({ path: '/goal/prop', message: 'is required: the summed property, e.g. properties.revenue' });
    goal.prop = prop;
  }
  const targetKey = f.kind === 'streak' ? 'days' : 'target';
  const target = f.kind === 'sum'
    ? num(f.target, '/goal/target', issues, { min: 0, above: true, max: GOAL_MAX.sum })
    : num(f.target, `/goal/${targetKey}`, issues, { min: 1, max: GOAL_MAX[f.kind], whole: true });
  if (target !== undefined) goal[targetKey] = target;
  const within = f.within.trim();
  if (within) {
    const ms = durationMs(within);
    if (ms === null) issues.push({ path: '/goal/within', message: 'must be a duration such as 7d, 12h, 2w or 30m' });
    else if (target !== undefined && (f.kind === 'streak' || f.kind === 'distinctDays') && target > Math.ceil(ms / DAY_MS)) {
      issues.push({ path: `/goal/${targetKey}`, message: `${target} days cannot fit within ${within}` });
    }
    goal.within = within;
  }

  const points = num(f.points, '/points', issues, { min: 0, max: 1_000_000_000, whole: true });
  let cooldown: string | null = null;
  if (f.repeatable && f.cooldown.trim()) {
    cooldown = f.cooldown.trim();
    if (durationMs(cooldown) === null) issues.push({ path: '/cooldown', message: 'must be a duration such as 1d, 12h or 1w' });
  }
  const when = dates(f.startsAt, f.endsAt, issues);
  const body: Body = { name, description, segmentIds: [...f.segmentIds], active: f.active, goal, points: points ?? 0, repeatable: f.repeatable, ...when, cooldown };
  return { body, issues };
}

/** Form state from a saved mission, or from a typed body. */
export function missionForm(v: Json): MissionForm {
  const m = obj(v), g = obj(m.goal), e = emptyMission();
  const kind = GOAL_KINDS.some((k) => k.kind === g.kind) ? (g.kind as GoalKind) : e.kind;
  return {
    name: str(m.name), description: str(m.description), kind, event: str(g.event), where: Array.isArray(g.where) ? g.where : [],
    target: numText(kind === 'streak' ? g.days : g.target, e.target), prop: str(g.prop, e.prop), within: str(g.within),
    points: numText(m.points, e.points), repeatable: m.repeatable === true, cooldown: str(m.cooldown),
    startsAt: isoToLocal(m.startsAt), endsAt: isoToLocal(m.endsAt), segmentIds: strings(m.segmentIds), active: m.active !== false,
  };
}

// ---------------------------------------------------------------- rewards

export const REWARD_TYPES = ['coupon', 'voucher', 'digital', 'physical'] as const;
export type RewardType = (typeof REWARD_TYPES)[number];

export interface RewardForm {
  name: string;
  description: string;
  type: RewardType;
  cost: string;
  /** Blank: unlimited. */
  stock: string;
  /** Blank: no limit. */
  perUserLimit: string;
  startsAt: string;
  endsAt: string;
  segmentIds: string[];
  active: boolean;
}

export const emptyReward = (): RewardForm => ({ name: '', description: '', type: 'coupon', cost: '100', stock: '', perUserLimit: '1', startsAt: '', endsAt: '', segmentIds: [], active: true });

/** The body of POST /api/rewards (and PATCH /api/rewards/:id). */
export function rewardBody(f: RewardForm): Built {
  const issues: Issue[] = [];
  const name = text(f.name, '/name', issues, 200);
  const description = text(f.description, '/description', issues, 2000, false);
  if (!(REWARD_TYPES as readonly string[]).includes(f.type)) issues.push({ path: '/type', message: `must be one of ${REWARD_TYPES.join(', ')}` });
  const cost = num(f.cost, '/cost', issues, { min: 0, max: 1_000_000_000, whole: true });
  const stock = optionalNum(f.stock, '/stock', issues, { min: 0, max: 1_000_000_000, whole: true });
  const perUserLimit = optionalNum(f.perUserLimit, '/perUserLimit', issues, { min: 1, max: 1_000_000, whole: true });
  const body: Body = {
    name, description, type: f.type, cost: cost ?? 0, stock: stock ?? null, perUserLimit: perUserLimit ?? null,
    segmentIds: [...f.segmentIds], active: f.active, ...dates(f.startsAt, f.endsAt, issues),
  };
  return { body, issues };
}

export function rewardForm(v: Json): RewardForm {
  const r = obj(v), e = emptyReward();
  return {
    name: str(r.name), description: str(r.description), type: (REWARD_TYPES as readonly string[]).includes(str(r.type)) ? (r.type as RewardType) : e.type,
    cost: numText(r.cost, e.cost), stock: numText(r.stock), perUserLimit: numText(r.perUserLimit),
    startsAt: isoToLocal(r.startsAt), endsAt: isoToLocal(r.endsAt), segmentIds: strings(r.segmentIds), active: r.active !== false,
  };
}

// ---------------------------------------------------------------- experiences

export interface VariantForm {
  key: string;
  name: string;
  /** Blank: the position in the list. */
  priority: string;
  segmentIds: string[];
  /** JSON text. */
  payload: string;
}
export interface ExperienceForm {
  key: string;
  name: string;
  description: string;
  variants: VariantForm[];
  /** JSON text; blank: null (users who match no variant get nothing). */
  defaultPayload: string;
  active: boolean;
}

const EXPERIENCE_KEY = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;
export const emptyVariant = (): VariantForm => ({ key: '', name: '', priority: '', segmentIds: [], payload: '{}' });
export const emptyExperience = (): ExperienceForm => ({ key: '', name: '', description: '', variants: [emptyVariant()], defaultPayload: '', active: true });

/** Parses a payload textarea: the value, or an issue at `path`. */
export function parsePayload(t: string, path: string, issues: Issue[], blank: Json | undefined): Json | undefined {
  if (!t.trim()) {
    if (blank === undefined) issues.push({ path, message: 'is required: any JSON, e.g. {"text": "Hello"} (null for nothing)' });
    return blank;
  }
  try {
    return JSON.parse(t) as Json;
  } catch (e) {
    issues.push({ path, message: `is not valid JSON: ${(e as Error).message}` });
    return undefined;
  }
}

/** The body of POST /api/experiences (and PATCH /api/experiences/:id). */
export function experienceBody(f: ExperienceForm): Built {
  const issues: Issue[] = [];
  const key = text(f.key, '/key', issues, 100);
  if (key && !EXPERIENCE_KEY.test(key)) issues.push({ path: '/key', message: 'must be letters, digits, _ . : - (starting with a letter or digit)' });
  const name = text(f.name, '/name', issues, 200);
  const description = text(f.description, '/description', issues, 2000, false);
  if (f.variants.length === 0) issues.push({ path: '/variants', message: 'add at least one variant' });
  const seen = new Map<string, number>();
  const variants = f.variants.map((v, i): Body => {
    const p = `/variants/${i}`;
    const vk = text(v.key, `${p}/key`, issues, 100);
    if (vk && (!EXPERIENCE_KEY.test(vk) || vk === 'default')) issues.push({ path: `${p}/key`, message: 'must be letters, digits, _ . : - and not "default"' });
    else if (vk && seen.has(vk)) issues.push({ path: `${p}/key`, message: `is the key of variant ${seen.get(vk)! + 1} too` });
    if (vk) seen.set(vk, seen.get(vk) ?? i);
    const out: Body = { key: vk, name: text(v.name, `${p}/name`, issues, 200, false), payload: parsePayload(v.payload, `${p}/payload`, issues, undefined) ?? null, segmentIds: [...v.segmentIds] };
    if (v.priority.trim()) {
      const pr = num(v.priority, `${p}/priority`, issues, { min: -1_000_000, max: 1_000_000, whole: true });
      if (pr !== undefined) out.priority = pr;
    }
    return out;
  });
  const defaultPayload = parsePayload(f.defaultPayload, '/defaultPayload', issues, null) ?? null;
  return { body: { key, name, description, variants, defaultPayload, active: f.active }, issues };
}

export function experienceForm(v: Json): ExperienceForm {
  const x = obj(v);
  const variants = Array.isArray(x.variants) ? x.variants.map((vv) => {
    const o = obj(vv);
    return { key: str(o.key), name: str(o.name), priority: numText(o.priority), segmentIds: strings(o.segmentIds), payload: jsonText(o.payload) };
  }) : [emptyVariant()];
  return { key: str(x.key), name: str(x.name), description: str(x.description), variants, defaultPayload: x.defaultPayload === null ? '' : jsonText(x.defaultPayload), active: x.active !== false };
}

/**
 * Variant priorities as the list shows them: a saved experience has one for every variant
 * (the position by default), so Edit leaves the field blank where it is just the position.
 */
export function experienceEditForm(v: Json): ExperienceForm {
  const f = experienceForm(v);
  return { ...f, variants: f.variants.map((x, i) => (x.priority === String(i) ? { ...x, priority: '' } : x)) };
}

// ---------------------------------------------------------------- experiments

export interface ArmForm {
  key: string;
  name: string;
  weight: string;
}
export interface ExperimentForm {
  name: string;
  description: string;
  /** '' : everyone. */
  audienceSegmentId: string;
  arms: ArmForm[];
  control: string;
  /** Blank: the experiment's id. */
  salt: string;
  status: 'draft' | 'running';
}

const ARM_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const emptyExperiment = (): ExperimentForm => ({
  name: '', description: '', audienceSegmentId: '', arms: [{ key: 'control', name: 'Control', weight: '50' }, { key: 'treatment', name: 'Treatment', weight: '50' }],
  control: 'control', salt: '', status: 'draft',
});

/** The body of POST /api/experiments. */
export function experimentBody(f: ExperimentForm): Built {
  const issues: Issue[] = [];
  const body: Body = { name: text(f.name, '/name', issues, 150) };
  const description = text(f.description, '/description', issues, 2000, false);
  if (description) body.description = description;
  // Absent: everyone (a null is refused, see the top of this file).
  if (f.audienceSegmentId) body.audienceSegmentId = f.audienceSegmentId;
  if (f.arms.length < 2) issues.push({ path: '/arms', message: 'an experiment needs two or more arms' });
  if (f.arms.length > 20) issues.push({ path: '/arms', message: 'at most 20 arms' });
  const seen = new Map<string, number>();
  body.arms = f.arms.map((a, i): Body => {
    const p = `/arms/${i}`;
    const key = text(a.key, `${p}/key`, issues, 64);
    if (key && !ARM_KEY.test(key)) issues.push({ path: `${p}/key`, message: 'must be letters, digits, "_", "-" or ".", starting with a letter or digit' });
    else if (key && seen.has(key)) issues.push({ path: `${p}/key`, message: `is the key of arm ${seen.get(key)! + 1} too` });
    if (key && !seen.has(key)) seen.set(key, i);
    const out: Body = { key };
    const name = text(a.name, `${p}/name`, issues, 100, false);
    if (name) out.name = name;
    out.weight = num(a.weight, `${p}/weight`, issues, { min: 0, above: true, max: 1_000_000 }) ?? 0;
    return out;
  });
  if (!f.control) issues.push({ path: '/control', message: 'pick the control arm' });
  else if (!f.arms.some((a) => a.key.trim() === f.control)) issues.push({ path: '/control', message: `is not the key of an arm (${f.arms.map((a) => a.key.trim()).join(', ')})` });
  body.control = f.control;
  const salt = text(f.salt, '/salt', issues, 200, false);
  if (salt) body.salt = salt;
  body.status = f.status;
  return { body, issues };
}

export function experimentForm(v: Json): ExperimentForm {
  const x = obj(v), e = emptyExperiment();
  const arms = Array.isArray(x.arms) ? x.arms.map((a) => { const o = obj(a); return { key: str(o.key), name: str(o.name), weight: numText(o.weight) }; }) : e.arms;
  return {
    name: str(x.name), description: str(x.description), audienceSegmentId: str(x.audienceSegmentId), arms,
    control: str(x.control, arms[0]?.key ?? ''), salt: str(x.salt), status: x.status === 'running' ? 'running' : 'draft',
  };
}

// ---------------------------------------------------------------- webhooks

export const WEBHOOK_KINDS = [
  { kind: 'segment.entered', label: 'A user enters a segment' },
  { kind: 'segment.exited', label: 'A user leaves a segment' },
] as const;

export interface WebhookForm {
  url: string;
  kinds: string[];
  /** None: every segment. */
  segmentIds: string[];
}

export const emptyWebhook = (): WebhookForm => ({ url: '', kinds: WEBHOOK_KINDS.map((k) => k.kind), segmentIds: [] });

/** The body of POST /api/webhooks. */
export function webhookBody(f: WebhookForm): Built {
  const issues: Issue[] = [];
  const url = httpUrl(f.url, issues);
  // In the API's order, whatever order they were ticked in.
  const kinds = WEBHOOK_KINDS.map((k) => k.kind as string).filter((k) => f.kinds.includes(k));
  if (kinds.length === 0) issues.push({ path: '/kinds', message: 'tick at least one' });
  // Absent: every segment (a null is refused, see the top of this file).
  return { body: { url, kinds, ...(f.segmentIds.length ? { segmentIds: [...f.segmentIds] } : {}) }, issues };
}

export function webhookForm(v: Json): WebhookForm {
  const w = obj(v);
  return { url: str(w.url), kinds: Array.isArray(w.kinds) ? strings(w.kinds) : emptyWebhook().kinds, segmentIds: strings(w.segmentIds) };
}

/** An absolute http(s) URL (the `/url` of webhooks and destinations). */
function httpUrl(text: string, issues: Issue[]): string {
  const url = text.trim();
  let ok = false;
  try { ok = url.length <= 2048 && ['http:', 'https:'].includes(new URL(url).protocol); } catch { ok = false; }
  if (!url) issues.push({ path: '/url', message: 'is required' });
  else if (!ok) issues.push({ path: '/url', message: 'must be an absolute http:// or https:// URL' });
  return url;
}

export const DESTINATION_KINDS = [
  { kind: 'http', label: 'HTTP (batches of changes, signed)' },
  { kind: 'segment', label: 'Segment-compatible (identify + Segment Entered/Exited)' },
] as const;

export interface DestinationForm {
  name: string;
  kind: string;
  url: string;
  /** The segment kind's source write key. */
  writeKey: string;
  /** None: every segment. */
  segmentIds: string[];
  batchSize: string;
  /** Edit of a saved one: the list does not show its write key, so a blank one is left as it is. */
  saved?: boolean;
}

export const emptyDestination = (): DestinationForm => ({ name: '', kind: 'http', url: '', writeKey: '', segmentIds: [], batchSize: '100' });

/**
 * The body of POST /api/destinations, and of PATCH (the same; the kind cannot change):
 * `segmentIds` null for every segment, `writeKey` only for the segment kind (null for http;
 * left out on an edit that leaves it blank).
 */
export function destinationBody(f: DestinationForm): Built {
  const issues: Issue[] = [];
  const name = text(f.name, '/name', issues, 200);
  const url = httpUrl(f.url, issues);
  const writeKey = f.writeKey.trim();
  const keep = f.saved === true && f.kind === 'segment' && !writeKey;
  if (f.kind === 'segment' && !writeKey && !keep) issues.push({ path: '/writeKey', message: 'is required: the source write key of the receiving workspace' });
  if (writeKey.length > 512) issues.push({ path: '/writeKey', message: 'must be at most 512 characters' });
  const batchSize = num(f.batchSize, '/batchSize', issues, { min: 1, max: 1000, whole: true });
  const body: Body = { name, kind: f.kind, url, segmentIds: f.segmentIds.length ? [...f.segmentIds] : null, batchSize: batchSize ?? 100 };
  if (!keep) body.writeKey = f.kind === 'segment' ? writeKey : null;
  return { body, issues };
}

export function destinationForm(v: Json): DestinationForm {
  const d = obj(v);
  return { name: str(d.name), kind: str(d.kind, 'http'), url: str(d.url), writeKey: str(d.writeKey), segmentIds: strings(d.segmentIds), batchSize: numText(d.batchSize, '100') };
}

/** The issues at a path, or under it when `deep` (a row's fields, a goal's parts). */
export function issuesAt(issues: readonly Issue[], path: string, deep = false): Issue[] {
  return issues.filter((i) => i.path === path || (deep && i.path.startsWith(`${path}/`)));
}
