/**
 * Loads `packages/core/fixtures/cases.json`, the data-only statement of the condition
 * semantics, into the records the oracle, the evaluator and the SQL compilers take.
 *
 * The file is written for people (ids, ISO times, defaults left out); this module fills the
 * defaults in one place so that every implementation under test sees the same data.
 */
import {
  isDerivedEvent,
  type EventRecord,
  type Json,
  type JsonObject,
  type ProfileRecord,
  type SegmentDefinition,
} from '../data.ts';
import { parseIsoTime } from './oracle.ts';

/** One valid-condition case, ready to evaluate. */
export interface FixtureCase {
  readonly name: string;
  /** Epoch milliseconds. */
  readonly now: number;
  readonly condition: Json;
  /** Segments the condition may reference; include/exclude hold profile keys (= fixture ids). */
  readonly segments: Record<string, SegmentDefinition>;
  readonly profiles: { readonly profile: ProfileRecord; readonly events: EventRecord[] }[];
  /** Keys of the profiles expected to match, sorted. */
  readonly expected: string[];
}

export interface FixtureSet {
  readonly cases: FixtureCase[];
  /** The `invalid` entries of the file, as they are. */
  readonly invalid: Json[];
}

/** Reads and converts the fixture file (a JSON module import, so no I/O API is needed). */
export async function loadFixtureCases(): Promise<FixtureSet> {
  const module = await import('../../fixtures/cases.json', { with: { type: 'json' } });
  return convertFixtures(module.default as unknown as Json);
}

/** Converts the parsed fixture file; throws on a malformed entry so a typo fails loudly. */
export function convertFixtures(raw: Json): FixtureSet {
  const file = asObject(raw, 'fixture file');
  const cases = asArray(file.cases ?? [], 'cases').map((c, i) => convertCase(c, `cases[${i}]`));
  const invalid = file.invalid === undefined ? [] : asArray(file.invalid, 'invalid');
  return { cases, invalid };
}

function convertCase(raw: Json, where: string): FixtureCase {
  const c = asObject(raw, where);
  const name = typeof c.name === 'string' ? c.name : where;
  const at = `${where} (${name})`;
  return {
    name,
    now: toTime(c.now, `${at}.now`),
    condition: c.condition,
    segments: convertSegments(c.segments, `${at}.segments`),
    profiles: asArray(c.profiles ?? [], `${at}.profiles`).map((p, i) =>
      convertProfile(p, `${at}.profiles[${i}]`),
    ),
    expected: asArray(c.expected, `${at}.expected`)
      .map((id) => asString(id, `${at}.expected`))
      .sort(),
  };
}

function convertSegments(raw: Json | undefined, where: string): Record<string, SegmentDefinition> {
  const out: Record<string, SegmentDefinition> = {};
  if (raw === undefined || raw === null) return out;
  // Accept both `{"s1": {...}}` and `[{"id": "s1", ...}]`.
  const entries: [string, Json][] = Array.isArray(raw)
    ? raw.map((s, i) => [asString(asObject(s, `${where}[${i}]`).id, `${where}[${i}].id`), s])
    : Object.entries(raw as JsonObject);
  for (const [id, s] of entries) {
    const seg = asObject(s, `${where}.${id}`);
    out[id] = {
      condition: seg.condition === undefined ? null : seg.condition,
      include: asArray(seg.include ?? [], `${where}.${id}.include`).map((k) => asString(k, where)),
      exclude: asArray(seg.exclude ?? [], `${where}.${id}.exclude`).map((k) => asString(k, where)),
    };
  }
  return out;
}

function convertProfile(
  raw: Json,
  where: string,
): { profile: ProfileRecord; events: EventRecord[] } {
  const p = asObject(raw, where);
  const id = asString(p.id, `${where}.id`);
  const events = asArray(p.events ?? [], `${where}.events`).map((e, i) =>
    convertEvent(e, `${where}.events[${i}]`),
  );
  const activity = events.filter((e) => !isDerivedEvent(e.name)).map((e) => e.timestamp);
  const firstSeen =
    p.firstSeen === undefined
      ? activity.length === 0
        ? null
        : Math.min(...activity)
      : p.firstSeen === null
        ? null
        : toTime(p.firstSeen, `${where}.firstSeen`);
  const lastSeen =
    p.lastSeen === undefined
      ? activity.length === 0
        ? null
        : Math.max(...activity)
      : p.lastSeen === null
        ? null
        : toTime(p.lastSeen, `${where}.lastSeen`);
  const profile: ProfileRecord = {
    key: id,
    userId: p.userId === undefined ? id : p.userId === null ? null : asString(p.userId, where),
    anonymousId:
      p.anonymousId === undefined || p.anonymousId === null
        ? null
        : asString(p.anonymousId, `${where}.anonymousId`),
    traits: p.traits === undefined || p.traits === null ? {} : asObject(p.traits, `${where}.traits`),
    context:
      p.context === undefined || p.context === null ? {} : asObject(p.context, `${where}.context`),
    labels: asArray(p.labels ?? [], `${where}.labels`).map((l) => asString(l, `${where}.labels`)),
    firstSeen,
    lastSeen,
  };
  return { profile, events };
}

function convertEvent(raw: Json, where: string): EventRecord {
  const e = asObject(raw, where);
  return {
    name: asString(e.event, `${where}.event`),
    timestamp: toTime(e.timestamp, `${where}.timestamp`),
    properties:
      e.properties === undefined || e.properties === null
        ? {}
        : asObject(e.properties, `${where}.properties`),
    context:
      e.context === undefined || e.context === null ? {} : asObject(e.context, `${where}.context`),
  };
}

function toTime(v: Json | undefined, where: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const t = parseIsoTime(v);
    if (t !== undefined) return t;
  }
  throw new Error(`fixtures: ${where} is not a time: ${JSON.stringify(v)}`);
}

function asObject(v: Json | undefined, where: string): JsonObject {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v;
  throw new Error(`fixtures: ${where} is not an object`);
}

function asArray(v: Json | undefined, where: string): Json[] {
  if (Array.isArray(v)) return v;
  throw new Error(`fixtures: ${where} is not an array`);
}

function asString(v: Json | undefined, where: string): string {
  if (typeof v === 'string') return v;
  throw new Error(`fixtures: ${where} is not a string: ${JSON.stringify(v)}`);
}
