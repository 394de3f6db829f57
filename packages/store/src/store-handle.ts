import type { Kysely } from 'kysely';
import type { StoreDialect } from './migrations.ts';
import type { Database } from './schema.ts';

/**
 * What a feature's store needs of the store (or of its transaction): the Kysely handle and
 * the dialect. `SqlStore` is one; the feature stores take this rather than `SqlStore`, whose
 * merge calls their merge functions, so neither side imports the other.
 */
export interface StoreHandle {
  readonly db: Kysely<Database>;
  readonly dialect: StoreDialect;
  /**
   * Which rows of the per-day membership counts (`segment_daily`) this process adds to: 0, but a
   * distinct number on each process of the worker role, so that workers applying at once never
   * wait on one another's counters (reads sum over them). Absent: 0.
   */
  readonly dailyShard?: number;
}
