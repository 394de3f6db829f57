/** What an import does, or would do (the `changes` of an import job, GET /api/imports/:id). */
export interface ImportChangeCounts {
  readonly create: number;
  readonly update: number;
  readonly skip: number;
}

/**
 * The one wording of an import's changes, shared by `strata import` and the admin UI's Import
 * page: "would create 3, update 1, skip 2" for a dry run, "created 3, updated 1, skipped 2" after a real one.
 */
export function describeChanges(c: ImportChangeCounts, dryRun: boolean): string {
  return dryRun ? `would create ${c.create}, update ${c.update}, skip ${c.skip}` : `created ${c.create}, updated ${c.update}, skipped ${c.skip}`;
}
