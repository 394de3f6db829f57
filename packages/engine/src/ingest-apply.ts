import { AppError } from '@strata/core';
import { setAppliedPosition, setAppliedPositions, type IngestItem, type IngestOutcome, type LogRecord, type LoggedRecord, type Rejection, type SqlStore } from '@strata/store';
import { requestSteps } from './ingest-records.ts';
import { ingestSteps } from './ingest-steps.ts';
import type { LiveEngine, MembershipChange } from './live-engine.ts';
import { suppressedWarning, type SuppressionList } from './user-data-service.ts';

/**
 * Sees each stored step's outcome inside its transaction, after the membership it caused
 * (`changes`: the step's entries and exits, from which membership before the step follows).
 */
export type IngestListener = (tx: SqlStore, projectId: string, outcome: IngestOutcome, now: number, changes: readonly MembershipChange[]) => Promise<void>;

/** Picks the items of a request that must be applied alone (null: none need it). */
export type IngestIsolation = (tx: SqlStore, projectId: string, now: number) => Promise<((item: IngestItem) => boolean) | null>;

/** What applying one record did with its items. */
export interface IngestResult {
  readonly stored: number;
  readonly duplicates: number;
}

/** What the membership worker needs to apply records: the engine (its writer) and the hooks missions add. */
export interface ApplyDeps {
  readonly engine: LiveEngine;
  readonly sessionTimeoutMs: number;
  readonly suppressions?: SuppressionList;
  readonly listeners: readonly IngestListener[];
  readonly isolation: IngestIsolation | null;
  /**
   * A partition worker's routing (partition-worker.ts): the record's items (those not suppressed) to
   * apply here, once it has forwarded the others to their profiles' partitions and taken over the
   * profiles it must.
   */
  readonly route?: (tx: SqlStore, record: LogRecord, position: number) => Promise<readonly IngestItem[]>;
  /** A partition worker's readable positions for the positions it records (log/positions.ts `readableEverywhere`). */
  readonly readable?: (positions: ReadonlyMap<number, number>) => ReadonlyMap<number, number>;
}

/**
 * Applies log records in position order, in one transaction of the engine's writer, and records
 * for each partition present the position of its last record (or `through`, when further), in the same transaction: either
 * all of it commits, with the positions, or none of it does and the records are applied again.
 * The records of one request split by partition are applied together (`requestSteps`). Per record, what the ingest transaction always did:
 * messages naming an erased id dropped, the items stored (duplicates of a stored messageId
 * dropped, identity resolved, visits derived) step by step (`ingestSteps`), membership brought up
 * to date after each step, then the listeners (missions), then the record's refused items written
 * as ingestion warnings.
 */
export async function applyRecords(deps: ApplyDeps, records: readonly LoggedRecord[], through?: ReadonlyMap<number, number>): Promise<IngestResult[]> {
  if (records.length === 0) return [];
  // Each partition's last record in the batch: records come in position order, so the last seen is the greatest.
  const lastOf = new Map<number, number>();
  for (const r of records) lastOf.set(r.partition, r.position);
  // A partition worker also records how far its partitions are read with nothing left before (`through`).
  for (const [p, at] of through ?? []) lastOf.set(p, Math.max(lastOf.get(p) ?? 0, at));
  return deps.engine.write(async (tx) => {
    // Each project's clock is written once, after the last record, however many records moved it.
    const results = await deps.engine.clockWrittenOnce(tx, async () => {
      const out: IngestResult[] = records.map(() => ({ stored: 0, duplicates: 0 }));
      // Projects found in this transaction: a deletion is a write of its own, so none goes away within it.
      const live = new Set<string>();
      // The messageIds of every record, read once per project rather than once per record.
      if (records.length > 1) {
        const ids = new Map<string, string[]>();
        for (const r of records) {
          let of = ids.get(r.projectId);
          if (!of) ids.set(r.projectId, (of = []));
          for (const i of r.items) of.push(i.messageId);
        }
        for (const [projectId, of] of ids) if (of.length) await tx.expectMessageIds(projectId, of);
      }
      // A request split by partition is one step, as on one partition; its result is its first record's (the others' are empty).
      for (const step of requestSteps(records)) out[step.of[0]!] = await applyRecord(deps, tx, step.record, live, records[step.of[0]!]!.position);
      return out;
    });
    await setAppliedPositions(tx, lastOf, deps.readable?.(lastOf));
    return results;
  }, { deferSync: true }); // not fsynced at commit: the records stay in the log until syncCommitted has run (IngestService.trim)
}

async function applyRecord(deps: ApplyDeps, tx: SqlStore, r: LogRecord, live: Set<string>, position: number): Promise<IngestResult> {
  const { engine } = deps;
  // A project deleted after this record was acknowledged (before a restart, too): nothing of it may come back.
  if (!live.has(r.projectId)) {
    if (!(await tx.getProject(r.projectId))) throw new AppError({ code: 'NOT_FOUND', message: `project "${r.projectId}" was deleted` });
    live.add(r.projectId);
  }
  // The project's state is loaded (if it is not yet) before the record's events are written: loaded after, it would read them from the store and then apply them again.
  const at = await engine.applyInstant(tx, r.projectId, r.receivedAt);
  const alone = deps.isolation ? await deps.isolation(tx, r.projectId, at) : null;
  const { kept: unrouted, dropped } = deps.suppressions ? await deps.suppressions.filter(tx, r.projectId, r.items) : { kept: r.items, dropped: 0 };
  // Routed once the suppressed items are dropped: an item never stored takes no profile over.
  const kept = deps.route ? await deps.route(tx, { ...r, items: unrouted }, position) : unrouted;
  let stored = 0, duplicates = 0;
  for (const items of ingestSteps(kept, alone)) {
    const out = await tx.ingest(r.projectId, items, deps.sessionTimeoutMs);
    stored += out.stored;
    duplicates += out.duplicates;
    // Membership follows each step's events in the same transaction, in arrival order, at the
    // instant the record was received (applyInstant), not the moment the worker got to it.
    const now = await engine.applyInstant(tx, r.projectId, r.receivedAt);
    const changes = await engine.applyIngest(tx, r.projectId, out, now);
    for (const l of deps.listeners) await l(tx, r.projectId, out, now, changes);
  }
  const rejections = dropped ? [...r.rejections, suppressedWarning(dropped)] : r.rejections;
  if (rejections.length) await tx.recordRejections(r.projectId, r.receivedAt, rejections);
  return { stored, duplicates };
}

/** A project deleted after its record was acknowledged: the record has nowhere to go. */
export function projectGone(err: unknown): boolean {
  return err instanceof AppError && err.code === 'NOT_FOUND' && /^project "/.test(err.message);
}

/**
 * Sets aside a record that cannot be applied (applying it alone failed with a fault of Strata's,
 * not the store's): its items become ingestion warnings of their project, where a user sees them
 * with their payloads, and the position moves past it, so one bad record never stops the others.
 */
export async function setAside(deps: ApplyDeps, r: LoggedRecord, err: unknown): Promise<void> {
  const reason = err instanceof Error ? err.message : String(err);
  await deps.engine.write(async (tx) => {
    if (!projectGone(err)) {
      const warnings: Rejection[] = r.items.map((item, index) => ({
        index, message: `acknowledged but could not be applied: ${reason.slice(0, 300)}`, payload: JSON.stringify(item),
      }));
      await tx.recordRejections(r.projectId, r.receivedAt, [...warnings, ...r.rejections]);
    }
    await setAppliedPosition(tx, r.partition, r.position);
  }, { deferSync: true });
}
