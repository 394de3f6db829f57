/** How the audit page words an entry: what changed between the snapshots, and where the resource lives in the UI. */

export interface AuditEntry {
  id: number;
  at: string;
  credential: string;
  action: string;
  resourceType: string;
  resourceId: string;
  before: unknown;
  after: unknown;
}

/** The resource types the API records (GET /api/audit?resourceType=…), in the filter's order. */
export const RESOURCE_TYPES = ['segment', 'segment-set', 'mission', 'reward', 'experience', 'experiment', 'webhook', 'destination', 'settings', 'user', 'points', 'import'] as const;

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The top-level fields whose value differs between before and after (none for a create or a delete: the whole thing changed). */
export function changedFields(before: unknown, after: unknown): string[] {
  const obj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!obj(before) || !obj(after)) return [];
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => !same(before[k], after[k])).sort();
}

/** One line on the change: "created", "deleted", "name, include changed", "no visible change". */
export function changeSummary(e: Pick<AuditEntry, 'action' | 'before' | 'after'>): string {
  if (e.action === 'erase') return 'user erased (only a hash of the id is kept)';
  if (e.before === null && e.after !== null) return 'created';
  if (e.before !== null && e.after === null) return 'deleted';
  const fields = changedFields(e.before, e.after);
  if (fields.length) return `${fields.join(', ')} changed`;
  return same(e.before, e.after) ? 'no visible change' : 'changed';
}

/** The admin UI page of a resource, when it has one and still can (an erased user has none). */
export function resourceLink(e: Pick<AuditEntry, 'resourceType' | 'resourceId' | 'after'>): string | null {
  const id = encodeURIComponent(e.resourceId);
  switch (e.resourceType) {
    case 'segment': return e.after === null ? null : `/segments/${id}`;
    case 'user': case 'points': return e.resourceId.startsWith('sha256:') ? null : `/users/${id}`;
    case 'mission': return '/missions';
    case 'reward': return '/rewards';
    case 'experience': return '/experiences';
    case 'experiment': return '/experiments';
    case 'webhook': return '/webhooks';
    case 'destination': return '/destinations';
    case 'settings': return '/settings';
    case 'import': return '/import';
    default: return null;
  }
}
