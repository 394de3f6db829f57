/** Ids typed into "Add users by id": split, checked, and the never-seen ones read from the API's 409. */
import { ApiError } from './api.ts';

/** The API's limit on a user id (userId or anonymousId). */
export const MAX_ID_LENGTH = 256;

/** The ids in the box: separated by commas or line breaks, trimmed, empty ones and repeats dropped. */
export function parseIds(text: string): string[] {
  return [...new Set(text.split(/[,\n]/).map((s) => s.trim()).filter((s) => s !== ''))];
}

/** What is wrong with the ids before anything is sent, or null. */
export function idsFault(ids: readonly string[]): string | null {
  if (ids.length === 0) return 'Type a user id.';
  const long = ids.find((id) => id.length > MAX_ID_LENGTH);
  if (long !== undefined) return `An id is at most ${MAX_ID_LENGTH} characters; "${long.slice(0, 24)}…" has ${long.length}.`;
  return null;
}

/**
 * The ids a 409 of POST /api/segments/:id/members names as never seen (its issues at
 * `/userIds/<i>` index the ids sent), or null when the error is something else.
 */
export function unseenFrom(error: unknown, sent: readonly string[]): string[] | null {
  if (!(error instanceof ApiError) || error.status !== 409) return null;
  const ids = error.issues.map((i) => /^\/userIds\/(\d+)$/.exec(i.path)).filter((m) => m !== null).map((m) => sent[Number(m![1])]).filter((x): x is string => x !== undefined);
  return ids.length ? [...new Set(ids)] : null;
}
