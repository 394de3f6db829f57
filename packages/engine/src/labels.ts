import { recordSegmentChange, type SqlStore } from '@strata/store';
import type { LiveEngine } from './live-engine.ts';

/**
 * A user's labels changed by hand (`POST /api/users/:id/labels`), and the user re-evaluated: in
 * the caller's transaction, by the engine that holds the user's profile. Where no engine holds
 * profiles (a process of the api role) the change is recorded instead (`segment_changes`, reason
 * `labels`) and made by whichever engine applying the log holds the profile when it applies it
 * (definition-follower.ts): the labels are written there, never beside a worker that keeps the
 * profile's record in memory and writes it back. Returns the labels after the change; null when
 * it was recorded, or when this engine does not hold the profile (a worker of other partitions),
 * or there is no such user.
 */
export async function changeLabels(engine: LiveEngine, tx: SqlStore, projectId: string, userId: string, add: readonly string[], remove: readonly string[], now: number): Promise<string[] | null> {
  if (engine.holdsNoState) {
    await recordSegmentChange(tx, { projectId, segmentIds: [], reason: 'labels', profileIds: null, labels: { userId, add, remove } });
    return null;
  }
  // Resolved here and now: the user may have been merged into a profile of another partition since the change was made.
  const profile = await tx.findProfile(projectId, userId);
  if (!profile || (engine.owns !== null && !engine.owns(profile))) return null;
  const labels = await tx.updateLabels(projectId, profile.id, add, remove, now);
  await engine.profilesChanged(tx, projectId, [profile.id], now, 'manual');
  return labels;
}
