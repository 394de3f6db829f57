import { partitionOf, type IngestItem, type ProfileRef } from '@strata/store';

/**
 * Where a partition worker applies each item of a record (docs/scale-out.md § Merges across
 * partitions), decided from the profiles the items' ids name before the record is applied. It
 * follows identity resolution step by step (IngestStore.resolve: which profile an item ends in,
 * which it merges or gives a userId), so that it knows, before anything is written:
 *
 * - which items end in a profile whose home partition another worker owns: they are forwarded to
 *   that partition, in order, and applied there;
 * - which profiles of other workers' partitions the record's items merge into, or give a userId
 *   to, a profile homed here: this worker takes them over (`adopt`);
 * - which other partitions the record writes in (`claims`): those of the profiles taken over and
 *   of ids that get their first key here. The worker waits until each of them is applied up to the
 *   record, so that what was acknowledged before it there is in the profiles it takes, and holds
 *   their locks while it writes.
 */

/** A profile's home partition: that of its userId, else its anonymousId (the id ingest routes its events by). */
export function homePartition(profile: { readonly userId: string | null; readonly anonymousId: string | null }, partitions: number): number {
  return partitionOf(profile.userId || profile.anonymousId || '', partitions);
}

export interface RecordRoute {
  /** The items applied here, in the order sent. */
  readonly own: IngestItem[];
  /** Items forwarded, by the home partition of the profile they end in, each list in the order sent. */
  readonly forward: Map<number, IngestItem[]>;
  /** Profiles homed in other workers' partitions that this record takes over (merged into, or given a userId by, a profile homed here). */
  readonly adopt: ProfileRef[];
  /** Partitions of other workers the record writes in: its adopted profiles' homes, and those of ids given their first key here. */
  readonly claims: Set<number>;
}

/** The ids whose keys a route needs: userIds and anonymousIds of the items (previousIds in both). */
export function idsOf(items: readonly IngestItem[]): { users: Set<string>; anons: Set<string> } {
  const users = new Set<string>(), anons = new Set<string>();
  for (const i of items) {
    if (i.userId !== null) users.add(i.userId);
    if (i.anonymousId !== null) anons.add(i.anonymousId);
    if (i.previousId !== null) { users.add(i.previousId); anons.add(i.previousId); }
  }
  return { users, anons };
}

/**
 * The profile each key names (`u:<userId>`, `a:<anonymousId>`), as stored, then as the items
 * routed so far change it (a profile made, merged away or given an id): a batch of records is
 * routed in order with one of these.
 */
export class RouteKeys {
  /** A profile merged away or given a new id, and what stands for it since. */
  private readonly moved = new Map<ProfileRef, ProfileRef>();

  constructor(private readonly keys: Map<string, ProfileRef>) {}

  get(key: string): ProfileRef | undefined {
    const p = this.keys.get(key);
    return p === undefined ? undefined : this.current(p);
  }

  /** What stands for `p` now (itself, unless merged away or given a new id since). */
  current(p: ProfileRef): ProfileRef {
    while (this.moved.has(p)) p = this.moved.get(p)!;
    return p;
  }

  set(key: string, p: ProfileRef): void {
    this.keys.set(key, p);
  }

  /** Every key that named `from` names `to` from now on. */
  replace(from: ProfileRef, to: ProfileRef): void {
    if (from !== to) this.moved.set(from, to);
  }

  /** A copy to try a routing on; `absorb` keeps what it did. */
  fork(): RouteKeys {
    const copy = new RouteKeys(new Map(this.keys));
    for (const [k, v] of this.moved) copy.moved.set(k, v);
    return copy;
  }

  absorb(other: RouteKeys): void {
    this.keys.clear();
    for (const [k, v] of other.keys) this.keys.set(k, v);
    for (const [k, v] of other.moved) this.moved.set(k, v);
  }
}

/**
 * Routes a record's items, updating `keys` with what they do. Each item is followed through
 * identity resolution in order; then each goes where the profile it ends in stands once the whole
 * record is applied (a visitor's anonymous events sent with the identify that gives their profile
 * a userId go with the identify). `owns` says whether this worker owns a partition.
 */
export function routeItems(items: readonly IngestItem[], keys: RouteKeys, owns: (partition: number) => boolean, partitions: number): RecordRoute {
  // Items forwarded are not applied here, so what they would do to the keys is not either: the
  // routing is tried again without them until no other item ends elsewhere.
  const away = new Map<number, number>();
  for (;;) {
    const trial = keys.fork();
    const steps = follow(items, away, trial, owns, partitions);
    let more = false;
    steps.forEach((st, i) => {
      if (st === null) return;
      const end = st.final === undefined ? undefined : trial.current(st.final);
      if (end !== undefined && !owns(homePartition(end, partitions))) { away.set(i, homePartition(end, partitions)); more = true; }
    });
    if (more) continue;
    keys.absorb(trial);
    const route: RecordRoute = { own: [], forward: new Map(), adopt: [], claims: new Set() };
    items.forEach((item, i) => {
      const to = away.get(i);
      if (to !== undefined) {
        // It ends in a profile another worker holds: applied there, after what it was sent after here.
        let list = route.forward.get(to);
        if (!list) route.forward.set(to, (list = []));
        list.push(item);
        return;
      }
      const st = steps[i]!;
      route.own.push(item);
      for (const p of st.adopt) route.adopt.push(p);
      for (const c of st.claims) route.claims.add(c);
    });
    return route;
  }
}

/** Follows identity resolution through the items not in `away`, updating `keys`: each item's final profile, the profiles it takes over and the partitions it writes in (null for an item away). */
function follow(items: readonly IngestItem[], away: ReadonlyMap<number, number>, keys: RouteKeys, owns: (partition: number) => boolean, partitions: number): ({ final: ProfileRef | undefined; adopt: ProfileRef[]; claims: Set<number> } | null)[] {
  const home = (p: ProfileRef) => homePartition(p, partitions);
  const foreign = (p: ProfileRef) => !owns(home(p));
  let made = 0;
  const fresh = (userId: string | null, anonymousId: string | null): ProfileRef => ({ id: -++made, userId, anonymousId });
  const steps: ({ final: ProfileRef | undefined; adopt: ProfileRef[]; claims: Set<number> } | null)[] = [];
  for (const [i, item] of items.entries()) {
    if (away.has(i)) { steps.push(null); continue; }
    const adopt: ProfileRef[] = [];
    const claims = new Set<number>();
    // A key an id gets for the first time: in another worker's partition, that partition is written in.
    const set = (key: string, p: ProfileRef) => {
      keys.set(key, p);
      const at = partitionOf(key.slice(2), partitions);
      if (!owns(at)) claims.add(at);
    };
    // A profile merged away or given a userId: taken over when another worker holds it.
    const takes = (from: ProfileRef, to: ProfileRef) => {
      if (from.id > 0 && foreign(from)) { adopt.push(from); claims.add(home(from)); }
      keys.replace(from, to);
    };
    const u = item.userId, a = item.anonymousId;
    let final: ProfileRef | undefined;
    if (item.type === 'alias' && item.previousId !== null && u !== null) {
      const pv = item.previousId;
      const source = keys.get(`u:${pv}`) ?? keys.get(`a:${pv}`);
      const target = keys.get(`u:${u}`);
      if (source === undefined) {
        final = target ?? fresh(u, null);
        if (target === undefined) set(`u:${u}`, final);
        set(`a:${pv}`, final);
      } else if (target === undefined) {
        final = { ...source, userId: u };
        takes(source, final);
        set(`u:${u}`, final);
      } else {
        final = target;
        if (target !== source) takes(source, target);
      }
    } else {
      const pu = u === null ? undefined : keys.get(`u:${u}`);
      const pa = a === null ? undefined : keys.get(`a:${a}`);
      if (u !== null) {
        if (pu === undefined) {
          if (pa !== undefined && pa.userId === null) {
            final = { ...pa, userId: u };
            takes(pa, final);
            set(`u:${u}`, final);
          } else {
            final = fresh(u, pa === undefined ? a : null);
            set(`u:${u}`, final);
            if (a !== null && pa === undefined) set(`a:${a}`, final);
          }
        } else {
          final = pu;
          if (a !== null && pa === undefined) {
            if (pu.anonymousId === null) { final = { ...pu, anonymousId: a }; keys.replace(pu, final); }
            set(`a:${a}`, final);
          } else if (pa !== undefined && pa !== pu && pa.userId === null) {
            takes(pa, pu);
          }
        }
      } else if (pa !== undefined) {
        final = pa;
      } else if (a !== null) {
        final = fresh(null, a);
        set(`a:${a}`, final);
      }
    }
    steps.push({ final, adopt, claims });
  }
  return steps;
}
