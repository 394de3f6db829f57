import type { EventRecord, ProfileRecord, SegmentDefinition, Json } from '@strata/core';
import { compileConditionSql, parseCondition } from '@strata/core';
import type { SqlStore } from '../sql-store.ts';

export interface CaseData {
  readonly now: number;
  readonly condition: Json;
  readonly segments: Readonly<Record<string, SegmentDefinition>>;
  readonly profiles: readonly { readonly profile: ProfileRecord; readonly events: readonly EventRecord[] }[];
}

let seq = 0;

/**
 * Loads one case's profiles, events and referenced segments into a new project of the
 * store, runs the condition as compiled SQL, and returns the matching profile keys, sorted.
 */
export async function sqlMembers(store: SqlStore, c: CaseData): Promise<string[]> {
  const projectId = `case${++seq}_${process.pid}`;
  const keyOf = new Map<number, string>();
  const idOf = new Map<string, number>();
  for (const { profile, events } of c.profiles) {
    const id = await store.insertProfile(projectId, profile, events, c.now);
    keyOf.set(id, profile.key);
    idOf.set(profile.key, id);
  }
  const parsedSegments = new Map<string, ReturnType<typeof parseCondition>>();
  const rawOf = (id: string) => (id in c.segments ? c.segments[id]!.condition : undefined);
  for (const [id, def] of Object.entries(c.segments)) {
    parsedSegments.set(id, def.condition === null ? { ok: true, value: null as never } : parseCondition(def.condition, { segmentCondition: rawOf }));
    await store.insertSegment({ id, projectId, name: id, description: '', condition: def.condition, template: null, params: null, createdAt: c.now, updatedAt: c.now });
    const include = def.include.map((k) => idOf.get(k)).filter((x): x is number => x !== undefined);
    if (include.length) await store.include(projectId, id, include);
    for (const k of def.exclude) {
      const pid = idOf.get(k);
      if (pid !== undefined) await store.removeManual(projectId, id, pid, true);
    }
  }
  const parsed = parseCondition(c.condition, { segmentCondition: rawOf });
  if (!parsed.ok) throw new Error(`invalid condition: ${JSON.stringify(parsed.issues)}`);
  const where = compileConditionSql(parsed.value, {
    dialect: store.sqlDialect,
    projectId,
    now: c.now,
    resolveSegment: (id) => {
      const s = parsedSegments.get(id);
      if (!s) return undefined;
      if (!s.ok) throw new Error(`invalid segment ${id}: ${JSON.stringify(s.issues)}`);
      return { condition: s.value };
    },
  });
  const ids = await store.matchingIds(projectId, where);
  return ids.map((id) => keyOf.get(id)!).sort();
}
