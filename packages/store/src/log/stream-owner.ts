import type { StoreHandle } from '../store-handle.ts';
import { appliedPositions } from './positions.ts';

/**
 * Which database a NATS event log stream belongs to. Two deployments on different databases
 * that share a NATS server and a prefix would otherwise each apply the other's records and trim
 * them: the stream's description names the database it was made for (its `store_identity`), and
 * a database refuses a stream that names another. docs/operations.md § The event log.
 */

/** The database a log is opened for: its identity, and whether it has applied records from an event log yet. */
export interface StreamOwner {
  readonly id: string;
  readonly applied: boolean;
}

/** The owner of a store's log: its identity (made by migration 0022) and whether any partition has an applied position. */
export async function streamOwnerOf(h: StoreHandle): Promise<StreamOwner> {
  const row = await h.db.selectFrom('store_identity').select('id').where('singleton', '=', 1).executeTakeFirst();
  if (!row) throw new Error('the database has no store identity (migration 0022_store_identity did not run)');
  return { id: row.id, applied: [...(await appliedPositions(h)).values()].some((p) => p > 0) };
}

/** A stream's description: what it is and, when known, the database it belongs to. */
export function streamDescription(partitions: number, owner: string | null): string {
  return `Strata event log: ${partitions} partitions${owner === null ? '' : `; store ${owner}`}`;
}

/** The database a stream's description names, or null (made by an earlier version of Strata, or without an owner). */
export function ownerInDescription(description: string | undefined): string | null {
  return /; store ([A-Za-z0-9_-]+)$/.exec(description ?? '')?.[1] ?? null;
}

/**
 * Whether the stream may be this database's log: refused when it names another database; when
 * it names none (made by an earlier version), adopted ('adopt': the caller writes the id in)
 * only while this database has applied nothing, since records it has applied may have come
 * from another stream of that name.
 */
export function checkStreamOwner(stream: string, prefix: string, found: string | null, owner: StreamOwner): 'ok' | 'adopt' {
  if (found === owner.id) return 'ok';
  if (found !== null) {
    throw new Error(`the NATS stream ${stream} (STRATA_NATS_PREFIX "${prefix}") holds the event log of another database (store ${found}; this one is ${owner.id}): `
      + 'two deployments on one NATS server need prefixes of their own; choose another STRATA_NATS_PREFIX for this one');
  }
  if (!owner.applied) return 'adopt';
  throw new Error(`the NATS stream ${stream} (STRATA_NATS_PREFIX "${prefix}") was made by an earlier version of Strata and names no database, and this database has already applied records from an event log: `
    + 'it cannot tell whether they came from this stream. Choose another STRATA_NATS_PREFIX (a new stream, made for this database) once every record the old stream holds is applied');
}
