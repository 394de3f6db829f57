import { AppError, type Json } from '@strata/core';
import { ExportStore, type SqlStore } from '@strata/store';

/** Members read per query by an export: memory stays flat whatever the segment's size. */
export const EXPORT_PAGE = 5000;
/** Column names an export writes itself: a trait may not take one. */
export const EXPORT_FIXED_COLUMNS = ['userId', 'anonymousId', 'since', 'labels'] as const;

export interface ExportOptions {
  /** Top-level trait keys to add, in this order. */
  readonly traits?: readonly string[];
  readonly labels?: boolean;
  readonly pageSize?: number;
}

/** One exported member: ids, membership start, the chosen traits (missing ones null) and, when asked, labels. */
export interface ExportRecord {
  readonly userId: string | null;
  readonly anonymousId: string | null;
  readonly since: string;
  readonly traits?: Record<string, Json | null>;
  readonly labels?: string[];
}

/** Segment export (docs/export.md): members stream out page by page, by profile id. */
export class ExportService {
  constructor(private readonly store: SqlStore) {}

  /** Pages of members (`pageSize` each, the last shorter). Checks the segment and options before a byte is written (errors after that cannot become a 4xx). */
  async prepare(projectId: string, segmentId: string, opts: ExportOptions): Promise<AsyncIterable<ExportRecord[]>> {
    if (!(await this.store.getSegment(projectId, segmentId))) throw new AppError({ code: 'NOT_FOUND', message: `no segment with id "${segmentId}"` });
    const traits = [...new Set(opts.traits ?? [])];
    const issues = traits.flatMap((t, i) => {
      if (t === '' || t.length > 200) return [{ path: `/querystring/traits/${i}`, message: 'must be a trait name of 1 to 200 characters' }];
      if ((EXPORT_FIXED_COLUMNS as readonly string[]).includes(t)) return [{ path: `/querystring/traits/${i}`, message: `"${t}" is a column of its own` }];
      return [];
    });
    if (issues.length) throw new AppError({ code: 'VALIDATION_FAILED', message: `the export is not valid: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues });
    return this.records(projectId, segmentId, traits, opts.labels ?? false, opts.pageSize ?? EXPORT_PAGE);
  }

  private async *records(projectId: string, segmentId: string, traits: readonly string[], labels: boolean, pageSize: number): AsyncGenerator<ExportRecord[]> {
    const es = new ExportStore(this.store);
    let after = 0;
    for (;;) {
      const page = await es.page(projectId, segmentId, after, pageSize, { traits: traits.length > 0, labels });
      const out: ExportRecord[] = [];
      for (const m of page) {
        const rec: { -readonly [K in keyof ExportRecord]: ExportRecord[K] } = { userId: m.userId, anonymousId: m.anonymousId, since: new Date(m.since).toISOString() };
        if (traits.length) rec.traits = Object.fromEntries(traits.map((t) => [t, m.traits && Object.hasOwn(m.traits, t) ? (m.traits as Record<string, Json>)[t] ?? null : null]));
        if (labels) rec.labels = m.labels ?? [];
        out.push(rec);
      }
      if (out.length) yield out;
      if (page.length < pageSize) return;
      after = page[page.length - 1]!.profileId;
    }
  }
}
