import { allPartitions, isWriteConflict, lastSegmentChange, segmentChangesApplied, segmentChangesToApply, setSegmentChangesApplied, storeUnavailableReason, trimSegmentChanges, type SegmentChange, type SqlStore } from '@strata/store';
import { changeLabels } from './labels.ts';
import type { LiveEngine } from './live-engine.ts';

/**
 * How an engine that applies the event log hears of definitions changed by processes of the api
 * role (docs/scale-out.md § Admin changes), which hold no engine:
 *
 * - **Segments.** A change to a segment is a row of `segment_changes`, written in the transaction
 *   that changed it. First in each transaction of the engine, the rows after the last one its
 *   partitions record are applied to the profiles it holds (the engine re-evaluates them as the
 *   `all` process does when it makes the change itself), and the last one is recorded for those
 *   partitions in the same transaction. So each change reaches every profile once, whichever
 *   worker holds its partition when it does, and a worker that stops before its transaction
 *   commits leaves it to the next. An engine with nothing else to do looks for new rows every
 *   `pollMs` (and, given `trimFor`, the log's partition count — on the `all` process, or the
 *   worker holding partition 0 — deletes the rows every partition has applied). A change that fails to apply with a fault of Strata's is
 *   logged and passed over, so that one bad change cannot stop every write.
 * - **Missions, rewards and experiences.** Their changes move the project's definitions counter
 *   (`definition_versions`); first in each transaction the counters are read, and the services'
 *   copies of a project whose counter moved are forgotten (`forgetters`), to be read again.
 */
export interface DefinitionFollower {
  stop(): Promise<void>;
}

/** How often an engine with nothing else to do looks for segment changes (ms). */
const POLL_MS = 100;

export function followDefinitions(
  engine: LiveEngine, store: SqlStore, partitions: readonly number[], forgetters: readonly ((projectId: string) => void)[],
  opts: { readonly pollMs?: number; readonly trimFor?: number } = {},
): DefinitionFollower {
  const owned = [...new Set(partitions)];
  const counters = new Map<string, number>();
  /**
   * Changes that failed to apply with a fault of Strata's (not the store's): passed over from then
   * on, so that one cannot stop every write (the transaction it failed in is tried again without it,
   * its records applied, not set aside).
   */
  const failed = new Set<number>();
  engine.beforeEachWrite(async (tx) => {
    for (const [projectId, version] of await tx.definitionVersions()) {
      if (counters.get(projectId) === version) continue;
      for (const forget of forgetters) forget(projectId);
      counters.set(projectId, version);
    }
    const changes = await segmentChangesToApply(tx, owned);
    for (const c of changes) {
      if (failed.has(c.seq)) continue;
      try {
        await applySegmentChange(engine, tx, c);
      } catch (err) {
        if (storeUnavailableReason(err) === null && !isWriteConflict(err)) {
          failed.add(c.seq);
          console.error(`strata: segment change ${c.seq} (segments ${c.segmentIds.join(', ')} of project ${c.projectId}) could not be applied and is passed over: ${(err as Error)?.stack ?? String(err)}`);
        }
        throw err;
      }
    }
    if (changes.length) await setSegmentChangesApplied(tx, owned, changes[changes.length - 1]!.seq);
  });
  let running: Promise<void> = Promise.resolve();
  // What the store records, not what a transaction of this engine did (it may have rolled back).
  const look = async () => {
    const top = await lastSegmentChange(store);
    if (top > (await segmentChangesApplied(store, owned))) await engine.write(async () => undefined, { deferSync: true });
    else if (opts.trimFor !== undefined && top > 0) await trimSegmentChanges(store, await segmentChangesApplied(store, allPartitions(opts.trimFor)));
  };
  const timer = setInterval(() => {
    running = running.then(look).catch(() => undefined);
  }, opts.pollMs ?? POLL_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * Segment changes applied to profiles just taken over from another partition's worker
 * (`profileIds`), which that worker had not applied yet and this engine had — before the profiles
 * were its own, so passing them over: the labels and manual lists that name them, then every
 * segment evaluated for them again (a definition changed meanwhile included).
 */
export async function applySegmentChangesTo(engine: LiveEngine, tx: SqlStore, projectId: string, changes: readonly SegmentChange[], profileIds: readonly number[]): Promise<void> {
  if (profileIds.length === 0 || !changes.some((c) => c.projectId === projectId)) return;
  const ids = new Set(profileIds);
  const at = await engine.applyInstant(tx, projectId, 0);
  for (const c of changes) {
    if (c.projectId !== projectId) continue;
    if (c.reason === 'labels') {
      // Resolved as the change names the user; the record taking the profile over has not moved its keys yet.
      const profile = c.labels ? await tx.findProfile(projectId, c.labels.userId) : null;
      if (profile && ids.has(profile.id)) await tx.updateLabels(projectId, profile.id, c.labels!.add, c.labels!.remove, at);
      continue;
    }
    const named = (c.profileIds ?? []).filter((id) => ids.has(id));
    if (c.reason === 'unlist') for (const id of named) await engine.unlist(tx, projectId, c.segmentIds[0]!, id, at, true);
    else if (c.reason === 'manual' && named.length) await engine.segmentsChanged(tx, projectId, c.segmentIds, at, 'manual', named);
  }
  await engine.profilesChanged(tx, projectId, profileIds, at, 'definition');
}

/** One segment change, applied to the profiles the engine holds. */
async function applySegmentChange(engine: LiveEngine, tx: SqlStore, c: SegmentChange): Promise<void> {
  // A project deleted since: nothing of it is left to change.
  if (!(await tx.getProject(c.projectId))) return;
  // At the engine's own instant for the project: another host's clock (the api process's) never moves the engine's on.
  const at = await engine.applyInstant(tx, c.projectId, 0);
  if (c.reason === 'labels') {
    if (c.labels) await changeLabels(engine, tx, c.projectId, c.labels.userId, c.labels.add, c.labels.remove, at);
    return;
  }
  if (c.reason === 'unlist') {
    for (const id of c.profileIds ?? []) await engine.unlist(tx, c.projectId, c.segmentIds[0]!, id, at, true);
    return;
  }
  await engine.segmentsChanged(tx, c.projectId, c.segmentIds, at, c.reason, c.profileIds ?? undefined);
}

/**
 * Waits until every one of a log's `partitions` has applied the segment changes recorded so far,
 * up to `timeoutMs`; past it, goes on, saying so in the log (the change is saved, and is applied
 * once a worker holds each partition).
 */
export async function waitForSegmentChanges(store: SqlStore, partitions: number, timeoutMs: number): Promise<void> {
  const all = allPartitions(partitions);
  const target = await lastSegmentChange(store);
  for (const deadline = Date.now() + timeoutMs; (await segmentChangesApplied(store, all)) < target;) {
    if (Date.now() > deadline) {
      console.error(`strata: segment change ${target} is saved but not yet applied to every partition after ${timeoutMs} ms (is a worker holding each partition?); its members are counted as applied so far`);
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
