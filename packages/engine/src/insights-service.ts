import { AppError, DAY_MS } from '@strata/core';
import { InsightsStore, type DayChanges, type SegmentActivity, type SqlStore } from '@strata/store';
import type { Clock } from './clock.ts';

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

export interface SizesOverTime {
  readonly days: number;
  readonly from: string;
  readonly to: string;
  /** The UTC days, oldest first. */
  readonly dates: string[];
  /** Per segment: its size now and at the end of each day in `dates`. */
  readonly segments: { id: string; size: number; sizes: number[] }[];
}

/** Per UTC day from `first` to `today`, oldest first: members at the end of the day, counted back from `size` now. */
function sizeSeries(size: number, changes: readonly DayChanges[], first: number, today: number): SegmentInsights['series'] {
  const byDay = new Map(changes.map((c) => [c.day, c]));
  const series: SegmentInsights['series'] = [];
  let end = size;
  for (let d = today; d >= first; d--) {
    const c = byDay.get(d) ?? { entered: 0, exited: 0 };
    series.push({ date: date(d), size: end, entered: c.entered, exited: c.exited });
    end -= c.entered - c.exited;
  }
  return series.reverse();
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
    const series = sizeSeries(size, await insights.changesPerDay(projectId, segmentId, from), first, today);
    const a = await insights.activity(projectId, segmentId, from, now + 1);
    return {
      segmentId, name: row.name, days, from: new Date(from).toISOString(), to: new Date(now).toISOString(), size, series,
      missions: { participants: a.missionParticipants, participationRate: rate(a.missionParticipants, size), completers: a.missionCompleters, completionRate: rate(a.missionCompleters, size), completions: a.missionCompletions },
      rewards: { redemptions: a.redemptions, redeemers: a.redeemers },
      points: { earned: a.pointsEarned, spent: a.pointsSpent },
      topEvents: a.topEvents,
    };
  }

  /**
   * Members at the end of each of the last `days` UTC days, of every segment, in one read of the
   * daily counts (the segment list's sparklines). `sizes`: current sizes by segment id.
   */
  async sizesOverTime(projectId: string, days: number, sizes: ReadonlyMap<string, number>): Promise<SizesOverTime> {
    const now = this.clock.now();
    const today = day(now);
    const first = today - days + 1;
    const changes = await new InsightsStore(this.store).changesPerDayAll(projectId, first * DAY_MS);
    const dates = Array.from({ length: days }, (_, i) => date(first + i));
    const segments = [...sizes].map(([id, size]) => ({ id, size, sizes: sizeSeries(size, changes.get(id) ?? [], first, today).map((p) => p.size) }));
    return { days, from: new Date(first * DAY_MS).toISOString(), to: new Date(now).toISOString(), dates, segments };
  }

  /** The project's event names, most frequent first, with counts and the last time each was seen. */
  async eventNames(projectId: string, limit: number): Promise<{ name: string; derived: boolean; count: number; lastAt: string }[]> {
    return (await new InsightsStore(this.store).eventNames(projectId, limit)).map((e) => ({ ...e, lastAt: new Date(e.lastAt).toISOString() }));
  }

  /** Several segments side by side (the same period). */
  async compare(projectId: string, ids: readonly string[], days: number): Promise<SegmentInsights[]> {
    const out: SegmentInsights[] = [];
    for (const id of ids) out.push(await this.segment(projectId, id, days));
    return out;
  }
}
