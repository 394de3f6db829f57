import { connect, type NatsConnection } from '@nats-io/transport-node';

/**
 * What the JetStream event log and the partition leases share: the naming of their NATS
 * resources from one prefix, and how they connect. docs/scale-out.md.
 */

/** A prefix names streams, buckets and subjects, so only characters valid in all three. */
const PREFIX = /^[A-Za-z0-9_-]{1,64}$/;

/** Whether a value can be a prefix (or worker id): the configuration checks `STRATA_NATS_PREFIX` with it. */
export function isNatsName(value: unknown): value is string {
  return typeof value === 'string' && PREFIX.test(value);
}

/** Refuses a prefix (or worker id) that would not make a valid NATS subject token and stream name. */
export function checkName(kind: string, value: unknown): string {
  if (!isNatsName(value)) {
    throw new TypeError(`${kind} must be 1-64 letters, digits, '-' or '_' (got ${JSON.stringify(value)})`);
  }
  return value;
}

/** Refuses a count that is not a whole number in range. */
export function checkInt(kind: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${kind} must be a whole number from ${min} to ${max} (got ${String(value)})`);
  }
  return value;
}

/** The stream that holds a prefix's event log. */
export function streamName(prefix: string): string {
  return `${prefix.toUpperCase()}_EVENTS`;
}

/**
 * A NATS URL, or a comma-separated list of them, as it may be printed: the password (or a lone
 * token) of each URL's user info replaced by `***`, so that start lines and errors never show it.
 */
export function redactNatsUrl(urls: string): string {
  return urls.split(',').map((u) => u.replace(/^(\s*[A-Za-z][A-Za-z0-9+.-]*:\/\/)([^@/]*)@/, (_, scheme: string, info: string) => {
    const colon = info.indexOf(':');
    return `${scheme}${colon >= 0 ? `${info.slice(0, colon)}:***` : '***'}@`;
  })).join(',');
}

/** The subject of one partition of a prefix's event log. */
export function partitionSubject(prefix: string, partition: number): string {
  return `${prefix}.events.${partition}`;
}

/** The subjects of every partition of a prefix's event log, as one filter (a reader of the whole log). */
export function allPartitionsSubject(prefix: string): string {
  return `${prefix}.events.*`;
}

/** The partition a subject of an event log names (`partitionSubject` read back). */
export function partitionOfSubject(subject: string): number {
  return Number(subject.slice(subject.lastIndexOf('.') + 1));
}

/** The KV bucket of a prefix's partition leases. */
export function leaseBucket(prefix: string): string {
  return `${prefix}_leases`;
}

/** Where lease holders say that a lease was released or a worker arrived, so others look at once. */
export function leaseChangedSubject(prefix: string): string {
  return `${prefix}.leases.changed`;
}

/**
 * Connects to NATS for a log or leases that own their connection: it gives up at once when the
 * server is not there (the caller answers "unavailable"), and once connected it reconnects for
 * ever, so an outage of NATS is a stretch of unavailable answers, not a dead process.
 */
export function connectNats(url: string, name: string): Promise<NatsConnection> {
  return connect({ servers: url, name, timeout: 5000, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
}
