import type { IngestItem } from '@strata/store';

/**
 * A request's items as the steps they are applied in: as one step, unless some must be applied
 * alone. Then each person's items go in time order (ties in the order sent), each of those
 * picked a step of its own and the items between them together, so that membership just before
 * and just after each picked item is what it would be had the person sent their events one
 * request at a time. Different people's items share steps (the k-th step of each person is
 * one step): one person's events never change another's membership. A person is the items
 * linked by a shared userId, anonymousId or previousId within the request.
 */
export function ingestSteps(items: readonly IngestItem[], alone: ((item: IngestItem) => boolean) | null): (readonly IngestItem[])[] {
  if (!alone || items.length < 2 || !items.some(alone)) return [items];
  const ordered = items.map((item, i) => ({ item, i })).sort((a, b) => a.item.timestamp - b.item.timestamp || a.i - b.i);
  const person = people(items);
  const steps: IngestItem[][] = [];
  // Per person: the step their next item may join (`open`: a group of unpicked items), or start.
  const at = new Map<number, { step: number; open: boolean }>();
  for (const { item, i } of ordered) {
    const p = person[i]!;
    const mine = at.get(p) ?? { step: -1, open: false };
    const picked = alone(item);
    if (picked || !mine.open) mine.step++;
    mine.open = !picked;
    at.set(p, mine);
    (steps[mine.step] ??= []).push(item);
  }
  return steps;
}

/** Each item's person: the items whose ids (userId, anonymousId, previousId) are linked, as one number. */
export function people(items: readonly IngestItem[]): number[] {
  const parent: number[] = [];
  const idOf = new Map<string, number>();
  const find = (x: number): number => { while (parent[x] !== x) x = parent[x] = parent[parent[x]!]!; return x; };
  const node = (key: string) => { let n = idOf.get(key); if (n === undefined) { n = parent.length; parent.push(n); idOf.set(key, n); } return n; };
  const roots = items.map((item, i) => {
    const ids = [item.userId, item.anonymousId, item.previousId].filter((v): v is string => v !== null && v !== '');
    // An item without ids is a person of its own.
    const own = node(`\u0000item${i}`);
    for (const id of ids) parent[find(node(`\u0001${id}`))] = find(own);
    return own;
  });
  return roots.map(find);
}
