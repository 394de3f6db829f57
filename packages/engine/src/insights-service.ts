import { AppError } from '@strata/core';
import { InsightsStore, type SegmentActivity, type SqlStore } from '@strata/store';
import type { Clock } from './clock.ts';

const DAY_MS = 86_400_000;
const day = (ms: number) => Math.floor(ms / DAY_MS);
const date = (d: number) => new Date(d * DAY_MS).toISOString().slice(0, 10);
const rate = (n: number, of: number) => (of === 0 ? 0 : Math.round((n / of) * 10000) / 10000);

export interface SegmentInsights {
  readonly segmentId: string;
  readonly name: string;
  readonly days: number;
  readonly from: string;
  readonly to: string;
  readonly size: number;
  /** Per UTC day, oldest first: members at the end of the day, entries and exits during it. */
  readonly series: { date: string; size: number; entered: number; exited: number }[];
  readonly missions: { participants: number; participationRate: number; completers: number; completionRate: number; completions: number };
  readonly rewards: { redemptions: number; redeemers: number };
  readonly points: { earned: number; spent: number };
  readonly topEvents: SegmentActivity['topEvents'];
}

/**
 * Per-segment performance (GET /api/segments/:id/insights, /api/insights/compare). Sizes per
 * day are derived from the membership history — every entry and exit is recorded with its
 * true time — counting back from the current size, so they are exact for every past day
 * since the segment existed and need no daily job. Activity figures are about the current
 * members over the period.
 */
export class InsightsService {
  constructor(
    private readonly store: SqlStore,
    private readonly clock: Clock,
  ) {}

  async segment(projectId: string, segmentId: string, days: number): Promise<SegmentInsights> {
    const row = await this.store.getSegment(projectId, segmentId);
    if (!row) throw new AppError({ code: 'NOT_FOUND', message: `no segment with id "${segmentId}"` });
    const now = this.clock.now();
    const today = day(now);
    const first = today - days + 1;
    const from = first * DAY_MS;
    const insights = new InsightsStore(this.store);
    const size = await this.store.segmentSize(projectId, segmentId);
    const changes = new Map((await insights.changesPerDay(projectId, segmentId, from)).map((c) => [c.day, c]));
    const series: SegmentInsights['series'] = [];
    let end = size;
    for (let d = today; d >= first; d--) {
      const c = changes.get(d) ?? { entered: 0, exited: 0 };
      series.push({ date: date(d), size: end, entered: c.entered, exited: c.exited });
      end -= c.entered - c.exited;
    }
    series.reverse();
    const a = await insights.activity(projectId, segmentId, from, now + 1);
    return {
      segmentId, name: row.name, days, from: new Date(from).toISOString(), to: new Date(now).toISOString(), size, series,
      missions: { participants: a.missionParticipants, participationRate: rate(a.missionParticipants, size), completers: a.missionCompleters, completionRate: rate(a.missionCompleters, size), completions: a.missionCompletions },
      rewards: { redemptions: a.redemptions, redeemers: a.redeemers },
      points: { earned: a.pointsEarned, spent: a.pointsSpent },
      topEvents: a.topEvents,
    };
  }

  /** Several segments side by side (the same period). */
  async compare(projectId: string, ids: readonly string[], days: number): Promise<SegmentInsights[]> {
    const out: SegmentInsights[] = [];
    for (const id of ids) out.push(await this.segment(projectId, id, days));
    return out;
  }
}
