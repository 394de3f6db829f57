import type { EventRecord, Json, ProfileRecord, SegmentDefinition } from '../data.ts';
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
