import type { RawBuilder, SqlBool } from 'kysely';
import type { Condition, Evaluator, SegmentResolver } from '@strata/core';
import { compileConditionSql, compileSegment, parseCondition, referencedSegments } from '@strata/core';
import type { SegmentRow, SqlStore } from '@strata/store';

export interface MembershipChange {
  readonly segmentId: string;
  readonly profileId: number;
  readonly kind: 'entered' | 'exited';
  readonly at: number;
}

export interface ParsedSegment {
  readonly row: SegmentRow;
  readonly condition: Condition | null;
}

/**
 * Keeps the materialised membership table right. This first version re-evaluates every
 * segment for the profiles a batch touched (in memory, with the compiled evaluator), and
 * recomputes a segment in full with compiled SQL when its definition changes.
 */
export class MembershipService {
  private readonly parsed = new Map<string, { updatedAt: number; value: ParsedSegment }>();

  /** Parses a project's stored segments (cached by id and updatedAt). */
  parseSegments(projectId: string, rows: readonly SegmentRow[]): Map<string, ParsedSegment> {
    const byId = new Map(rows.map((r) => [r.id, r]));
    const out = new Map<string, ParsedSegment>();
    for (const row of rows) {
      const key = `${projectId}\u0000${row.id}`;
      const hit = this.parsed.get(key);
      if (hit && hit.updatedAt === row.updatedAt) {
        out.set(row.id, hit.value);
        continue;
      }
      let condition: Condition | null = null;
      if (row.condition !== null) {
        // Stored conditions were validated on write; references to deleted segments evaluate as false.
        const r = parseCondition(row.condition, { segmentCondition: (id) => (byId.has(id) ? byId.get(id)!.condition : null) });
        condition = r.ok ? r.value : null;
      }
      const value = { row, condition };
      this.parsed.set(key, { updatedAt: row.updatedAt, value });
      out.set(row.id, value);
    }
    return out;
  }

  /** Segments that reference `ids`, directly or not, plus `ids` themselves, in dependency order. */
  dependents(segments: Map<string, ParsedSegment>, ids: readonly string[]): string[] {
    const order: string[] = [];
    const seen = new Set<string>();
    const refsOf = new Map<string, string[]>();
    for (const [id, s] of segments) refsOf.set(id, s.condition ? referencedSegments(s.condition) : []);
    const affected = new Set(ids);
    let grew = true;
    while (grew) {
      grew = false;
      for (const [id, refs] of refsOf) {
        if (!affected.has(id) && refs.some((r) => affected.has(r))) { affected.add(id); grew = true; }
      }
    }
    const visit = (id: string) => {
      if (seen.has(id) || !affected.has(id)) return;
      seen.add(id);
      for (const r of refsOf.get(id) ?? []) visit(r);
      order.push(id);
    };
    for (const id of affected) visit(id);
    return order;
  }

  /** The SQL members predicate of a segment at `now`. */
  membersSql(store: SqlStore, projectId: string, segment: ParsedSegment, segments: Map<string, ParsedSegment>, now: number): RawBuilder<SqlBool> {
    const cond = segment.condition ? this.conditionSql(store, projectId, segment.condition, segments, now) : null;
    return store.memberPredicate(projectId, segment.row.id, cond);
  }

  conditionSql(store: SqlStore, projectId: string, condition: Condition, segments: Map<string, ParsedSegment>, now: number): RawBuilder<SqlBool> {
    return compileConditionSql(condition, {
      dialect: store.sqlDialect, projectId, now,
      resolveSegment: (id) => segments.get(id),
    });
  }

  /** Recomputes the given segments (and the ones that reference them) in full. */
  async recomputeSegments(store: SqlStore, projectId: string, ids: readonly string[], now: number): Promise<MembershipChange[]> {
    const segments = this.parseSegments(projectId, await store.listSegments(projectId));
    const changes: MembershipChange[] = [];
    for (const id of this.dependents(segments, ids)) {
      const seg = segments.get(id);
      if (!seg) continue;
      const { entered, exited } = await store.recomputeSegment(projectId, id, this.membersSql(store, projectId, seg, segments, now), now);
      for (const p of entered) changes.push({ segmentId: id, profileId: p, kind: 'entered', at: now });
      for (const p of exited) changes.push({ segmentId: id, profileId: p, kind: 'exited', at: now });
    }
    return changes;
  }

  /** Membership evaluators of a project's segments, with manual lists (by profile id) applied. */
  resolverFor(segments: Map<string, ParsedSegment>, manual: Map<string, { include: Set<number>; exclude: Set<number> }>): SegmentResolver {
    const toKeys = (s: Set<number> | undefined) => new Set([...(s ?? [])].map(String));
    const evaluators = new Map<string, Evaluator>();
    const resolve = (id: string): Evaluator | undefined => {
      let f = evaluators.get(id);
      if (f) return f;
      const seg = segments.get(id);
      if (!seg) return undefined;
      const m = manual.get(id);
      f = compileSegment(seg.condition, toKeys(m?.include), toKeys(m?.exclude), resolve);
      evaluators.set(id, f);
      return f;
    };
    return resolve;
  }

  /** Re-evaluates every segment for the given profiles and writes the differences. */
  async evaluateProfiles(store: SqlStore, projectId: string, profileIds: Iterable<number>, now: number): Promise<MembershipChange[]> {
    const ids = [...new Set(profileIds)];
    if (ids.length === 0) return [];
    const rows = await store.listSegments(projectId);
    if (rows.length === 0) return [];
    const segments = this.parseSegments(projectId, rows);
    const resolve = this.resolverFor(segments, await store.manualListsFor(projectId, ids));
    const data = await store.profilesWithEvents(projectId, ids);
    const current = await store.membershipsOf(projectId, ids);
    const adds: { segmentId: string; profileId: number; since: number }[] = [];
    const removes: { segmentId: string; profileId: number }[] = [];
    const changes: MembershipChange[] = [];
    for (const { profile, events } of data) {
      const mine = current.get(profile.id);
      for (const id of segments.keys()) {
        const member = resolve(id)!(profile, events, now);
        const was = mine?.has(id) ?? false;
        if (member && !was) {
          adds.push({ segmentId: id, profileId: profile.id, since: now });
          changes.push({ segmentId: id, profileId: profile.id, kind: 'entered', at: now });
        } else if (!member && was) {
          removes.push({ segmentId: id, profileId: profile.id });
          changes.push({ segmentId: id, profileId: profile.id, kind: 'exited', at: now });
        }
      }
    }
    await store.applyMembershipChanges(projectId, adds, removes);
    return changes;
  }
}
