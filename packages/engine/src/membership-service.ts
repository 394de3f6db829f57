import type { RawBuilder, SqlBool } from 'kysely';
import type { Condition } from '@strata/core';
import { compileConditionSql, parseCondition } from '@strata/core';
import type { SegmentRow, SqlStore } from '@strata/store';

export interface ParsedSegment {
  readonly row: SegmentRow;
  readonly condition: Condition | null;
}

/**
 * The SQL side of membership: stored segments parsed (cached), and conditions compiled to
 * the store's SQL — for previews the engine's state cannot answer, and as the independent
 * full recomputation the engine is checked against.
 */
export class MembershipService {
  private readonly parsed = new Map<string, { updatedAt: number; value: ParsedSegment }>();

  /** Parses a project's stored segments (cached by id and updatedAt). */
  parseSegments(projectId: string, rows: readonly SegmentRow[]): Map<string, ParsedSegment> {
    const byId = new Map(rows.map((r) => [r.id, r]));
    const out = new Map<string, ParsedSegment>();
    for (const row of rows) out.set(row.id, this.parseOne(projectId, row, (id) => (byId.has(id) ? byId.get(id)!.condition : null)));
    return out;
  }

  /** Parses one stored segment (cached by id and updatedAt); `conditionOf` gives the other segments' stored conditions (null: none). */
  parseOne(projectId: string, row: SegmentRow, conditionOf: (id: string) => unknown): ParsedSegment {
    const key = `${projectId}\u0000${row.id}`;
    const hit = this.parsed.get(key);
    if (hit && hit.updatedAt === row.updatedAt) return hit.value;
    let condition: Condition | null = null;
    if (row.condition !== null) {
      // Stored conditions were validated on write; references to deleted segments evaluate as false.
      const r = parseCondition(row.condition, { segmentCondition: conditionOf });
      condition = r.ok ? r.value : null;
    }
    const value = { row, condition };
    this.parsed.set(key, { updatedAt: row.updatedAt, value });
    return value;
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
}
