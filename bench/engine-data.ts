/** The data the engine benchmarks load: generated users as engine records and events, and the 200 bench segments as rows. */
import type { EventRecord } from '@strata/core';
import { parseCondition } from '@strata/core';
import { generateUsers } from '@strata/datagen';
import { recordOf } from './lib.ts';
import type { EngineProfile, SegmentRow } from '@strata/store';
import { benchSegments200 } from './segments.ts';

/** The 200 bench segments as stored rows of `project`, each checked valid. */
export function benchRows(project: string, at: number): SegmentRow[] {
  const rows: SegmentRow[] = benchSegments200().map((s) => ({
    id: s.id, projectId: project, name: s.name, description: '', condition: s.condition as SegmentRow['condition'], template: null, params: null, createdAt: at, updatedAt: at,
  }));
  for (const r of rows) {
    const p = parseCondition(r.condition, { segmentCondition: (id) => rows.find((x) => x.id === id)?.condition });
    if (!p.ok) throw new Error(`${r.name}: ${JSON.stringify(p.issues)}`);
  }
  return rows;
}

/** Generated users (seed 1, 90 days, 10 events each on average) as engine records (ids 1..n) with their events; `seen` sees every event. */
export function* benchPeople(users: number, end: number, seen: (e: EventRecord, profileId: number) => void = () => undefined): Generator<{ profile: EngineProfile; events: EventRecord[] }> {
  let id = 0;
  for (const u of generateUsers(BENCH_DATA(users, end))) {
    const { profile, events } = recordOf(u, String(++id));
    for (const e of events) seen(e, id);
    yield { profile: { ...profile, id }, events };
  }
}

/** The generator options of benchPeople (user i is profile i + 1). */
export const BENCH_DATA = (users: number, end: number) => ({ seed: 1, users, end, days: 90, eventsPerUser: 10 });
