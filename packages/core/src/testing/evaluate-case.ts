import type { EventRecord, Json, ProfileRecord, SegmentDefinition } from '../data.ts';
import { isDerivedEvent } from '../data.ts';
import { compileView, compileViewSegment, type ProfileView, type ViewCondition, type ViewResolver } from '../view.ts';
import { EventLists } from '../event-lists.ts';
import type { Condition } from '../ast.ts';
import { compileCondition, compileSegment, type Evaluator } from '../evaluate.ts';
import { parseCondition } from '../parse.ts';

/** Parses a condition with the segments of a case as its context; throws on invalid input. */
export function parseWithSegments(condition: Json, segments: Readonly<Record<string, SegmentDefinition>>): Condition {
  const r = parseCondition(condition, { segmentCondition: (id) => (id in segments ? segments[id]!.condition : undefined) });
  if (!r.ok) throw new Error(`invalid condition ${JSON.stringify(condition)}: ${JSON.stringify(r.issues)}`);
  return r.value;
}

/** Keys of the profiles the compiled in-memory evaluator puts in the condition, sorted. */
export function evaluatorMembers(
  condition: Json,
  profiles: readonly { readonly profile: ProfileRecord; readonly events: readonly EventRecord[] }[],
  segments: Readonly<Record<string, SegmentDefinition>>,
  now: number,
): string[] {
  const compiled = new Map<string, Evaluator>();
  const resolve = (id: string): Evaluator | undefined => {
    const def = segments[id];
    if (!def) return undefined;
    let f = compiled.get(id);
    if (!f) {
      const cond = def.condition === null ? null : parseWithSegments(def.condition, segments);
      f = compileSegment(cond, new Set(def.include), new Set(def.exclude), resolve);
      compiled.set(id, f);
    }
    return f;
  };
  const f = compileCondition(parseWithSegments(condition, segments), resolve);
  return profiles.filter(({ profile, events }) => f(profile, events, now)).map(({ profile }) => profile.key).sort();
}

/** A profile view (view.ts) over a profile's events: lists by name in columns (every key kept), sorted by time. */
export function viewOf(profile: ProfileRecord, events: readonly EventRecord[]): ProfileView {
  const lists = new EventLists();
  const slot = lists.newSlot();
  for (const e of events) {
    lists.add(slot, e.name, e, null, null);
    if (!isDerivedEvent(e.name)) lists.add(slot, null, e, null, null);
  }
  return { profile, events: (name) => lists.list(slot, name) };
}

/** Compiles the segments of a case over views (manual lists applied). */
export function viewResolver(segments: Readonly<Record<string, SegmentDefinition>>): ViewResolver {
  const compiled = new Map<string, ViewCondition>();
  const resolve = (id: string): ViewCondition | undefined => {
    const def = segments[id];
    if (!def) return undefined;
    let f = compiled.get(id);
    if (!f) {
      f = compileViewSegment(def.condition === null ? null : parseWithSegments(def.condition, segments), new Set(def.include), new Set(def.exclude), resolve);
      compiled.set(id, f);
    }
    return f;
  };
  return resolve;
}

/** Keys of the profiles the view evaluator puts in the condition, sorted. */
export function viewMembers(
  condition: Json,
  profiles: readonly { readonly profile: ProfileRecord; readonly events: readonly EventRecord[] }[],
  segments: Readonly<Record<string, SegmentDefinition>>,
  now: number,
): string[] {
  const f = compileView(parseWithSegments(condition, segments), viewResolver(segments));
  return profiles.filter(({ profile, events }) => f.test(viewOf(profile, events), now)).map(({ profile }) => profile.key).sort();
}
