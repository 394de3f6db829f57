/**
 * Which driver errors mean "the store cannot serve now" (as opposed to a fault of the request
 * or of Strata): the one list, for SQLite, PostgreSQL and the event log on NATS JetStream. The
 * HTTP layer answers these with 503 STORE_UNAVAILABLE (and Retry-After); ingest gives up on the
 * whole group at once instead of trying each request alone. docs/reliability.md lists the cases and what clients see.
 */

/** SQLite result codes (primary, or the prefix of an extended one) that the file or its lock caused. */
const SQLITE = /^SQLITE_(BUSY|LOCKED|READONLY|IOERR|FULL|CANTOPEN|PROTOCOL|NOLFS)(_|$)/;

/**
 * PostgreSQL SQLSTATEs: class 08 (connection exception), 53 (insufficient resources: disk full,
 * out of memory, too many connections), 57P01–57P05 (the server shut down, crashed, is starting,
 * or dropped an idle session), 25006 (a read-only server: a standby after a failover).
 */
const POSTGRES = /^(08...|53...|57P0[1-5]|25006)$/;

/** Socket errors of a connection to the server (Node's `code`). */
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN']);

/** node-postgres' own errors for a connection that died or never came, which carry no code. */
const PG_MESSAGES = /^(Connection terminated|Client has encountered a connection error and is not queryable|timeout exceeded when trying to connect|Client was closed and is not queryable)/;

/**
 * The NATS client's errors (by class name, as the client names them) for a server that is not
 * there or not answering: the connection refused, lost, closed or draining, a request unanswered
 * in time, nobody serving the JetStream API (JetStream off or restarting).
 */
const NATS: Readonly<Record<string, string>> = {
  ConnectionError: 'NATS_CONNECTION',
  ClosedConnectionError: 'NATS_CONNECTION_CLOSED',
  DrainingConnectionError: 'NATS_CONNECTION_DRAINING',
  NoResponders: 'NATS_NO_RESPONDERS',
  JetStreamNotEnabled: 'NATS_JETSTREAM_DISABLED',
};

/**
 * A NATS error's reason: its class's, a NATS request timeout (whose message is exactly
 * "timeout", unlike other TimeoutErrors), or a JetStream API error with status 503 (JetStream
 * temporarily unavailable, out of storage or memory resources).
 */
function natsReason(e: { name?: unknown; message?: unknown; status?: unknown }): string | null {
  if (typeof e.name !== 'string') return null;
  if (Object.hasOwn(NATS, e.name)) return NATS[e.name];
  if (e.name === 'TimeoutError' && e.message === 'timeout') return 'NATS_TIMEOUT';
  if (e.name === 'JetStreamApiError' && e.status === 503) return 'NATS_JETSTREAM_UNAVAILABLE';
  return null;
}

/**
 * The reason a store error makes the store unavailable (its driver code, node-postgres'
 * message, or a NATS_… name of our own), or null when it is some other error. Follows `cause`
 * and an AggregateError's `errors` (a connection tried on several addresses).
 */
export function storeUnavailableReason(err: unknown, depth = 0): string | null {
  if (depth > 4 || typeof err !== 'object' || err === null) return null;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  const code = typeof e.code === 'string' ? e.code : null;
  if (code !== null && (SQLITE.test(code) || POSTGRES.test(code) || NETWORK.has(code))) return code;
  if (typeof e.message === 'string' && PG_MESSAGES.test(e.message)) return e.message;
  const nats = natsReason(e as { name?: unknown; message?: unknown; status?: unknown });
  if (nats !== null) return nats;
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const r = storeUnavailableReason(inner, depth + 1);
      if (r !== null) return r;
    }
  }
  return e.cause === undefined ? null : storeUnavailableReason(e.cause, depth + 1);
}

/** Whether an error means the store cannot serve now (storeUnavailableReason). */
export function isStoreUnavailable(err: unknown): boolean {
  return storeUnavailableReason(err) !== null;
}

/**
 * Whether an error is PostgreSQL ending a transaction that ran into another one — a deadlock
 * (40P01) or a serialization failure (40001) — so that the same transaction, run again, can
 * succeed: partition workers writing one database at once meet these on rows they share (the
 * contexts table, the engine clock). Follows `cause`.
 */
export function isWriteConflict(err: unknown, depth = 0): boolean {
  if (depth > 4 || typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; cause?: unknown };
  if (e.code === '40P01' || e.code === '40001') return true;
  return e.cause !== undefined && isWriteConflict(e.cause, depth + 1);
}

/**
 * Runs `fn` again (up to 3 more times, after a short random pause) while it fails with a write
 * conflict (a deadlock, a serialization failure): for a transaction that keeps nothing in memory,
 * so that running it again from the start is all there is to do.
 */
export async function retryWriteConflicts<T>(fn: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await fn();
    } catch (e) {
      if (tries > 3 || !isWriteConflict(e)) throw e;
      await new Promise((r) => setTimeout(r, Math.random() * 50 * tries));
    }
  }
}
