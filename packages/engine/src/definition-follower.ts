import { lastSegmentChange, segmentChangesApplied, segmentChangesSince, setSegmentChangesApplied, type SegmentChange, type SqlStore } from '@strata/store';
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
 *   `pollMs`.
 * - **Missions, rewards and experiences.** Their changes move the project's definitions counter
 *   (`definition_versions`); first in each transaction the counters are read, and the services'
 *   copies of a project whose counter moved are forgotten (`forgetters`), to be read again.
 */
export interface DefinitionFollower {
  stop(): Promise<void>;
}

/** How often an engine with nothing else to do looks for segment changes (ms). */
const POLL_MS = 100;

export function followDefinitions(engine: LiveEngine, store: SqlStore, partitions: readonly number[], forgetters: readonly ((projectId: string) => void)[], pollMs = POLL_MS): DefinitionFollower {
  const owned = [...new Set(partitions)];
  const counters = new Map<string, number>();
  /** The last change applied by a transaction of this engine (committed or not: the poll only needs a hint). */
  let applied = -1;
  engine.beforeEachWrite(async (tx) => {
    for (const [projectId, version] of await tx.definitionVersions()) {
      if (counters.get(projectId) === version) continue;
      for (const forget of forgetters) forget(projectId);
      counters.set(projectId, version);
    }
    const from = await segmentChangesApplied(tx, owned);
    const changes = await segmentChangesSince(tx, from);
    for (const c of changes) await applySegmentChange(engine, tx, c);
    const last = changes.length ? changes[changes.length - 1]!.seq : from;
    if (last > from) await setSegmentChangesApplied(tx, owned, last);
    applied = last;
  });
  let running: Promise<void> = Promise.resolve();
  const look = async () => {
    if ((await lastSegmentChange(store)) > applied) await engine.write(async () => undefined, { deferSync: true });
  };
  const timer = setInterval(() => {
    running = running.then(look).catch(() => undefined);
  }, pollMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/** One segment change, applied to the profiles the engine holds. */
async function applySegmentChange(engine: LiveEngine, tx: SqlStore, c: SegmentChange): Promise<void> {
  // A project deleted since: nothing of it is left to change.
  if (!(await tx.getProject(c.projectId))) return;
  if (c.reason === 'unlist') {
    for (const id of c.profileIds ?? []) await engine.unlist(tx, c.projectId, c.segmentIds[0]!, id, c.at);
    return;
  }
  await engine.segmentsChanged(tx, c.projectId, c.segmentIds, c.at, c.reason, c.profileIds ?? undefined);
}

/**
 * Waits until every one of a log's `partitions` has applied the segment changes recorded so far,
 * up to `timeoutMs`; past it, goes on, saying so in the log (the change is saved, and is applied
 * once a worker holds each partition).
 */
export async function waitForSegmentChanges(store: SqlStore, partitions: number, timeoutMs: number): Promise<void> {
  const all = Array.from({ length: partitions }, (_, p) => p);
  const target = await lastSegmentChange(store);
  for (const deadline = Date.now() + timeoutMs; (await segmentChangesApplied(store, all)) < target;) {
    if (Date.now() > deadline) {
      console.error(`strata: segment change ${target} is saved but not yet applied to every partition after ${timeoutMs} ms (is a worker holding each partition?); its members are counted as applied so far`);
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
