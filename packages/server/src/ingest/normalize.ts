import { randomUUID } from 'node:crypto';
import type { Issue, Json, JsonObject } from '@strata/core';
import { isDerivedEvent, isPlainObject, jsonDepthFault, LIMITS, limitText, longKeyPath, parseTimestamp, unstorableStrings } from '@strata/core';
import type { IngestItem } from '@strata/store';
import { geolocate, type GeoOptions } from './geo.ts';

export const { MAX_EVENT_BYTES, MAX_BATCH_BYTES, MAX_BATCH_ITEMS, MAX_KEY_LENGTH } = LIMITS;
const MAX_ID = LIMITS.MAX_ID_LENGTH;
const MAX_NAME = LIMITS.MAX_EVENT_NAME_LENGTH;

export type MessageType = IngestItem['type'];
export const MESSAGE_TYPES: readonly MessageType[] = ['identify', 'track', 'page', 'screen', 'group', 'alias'];

const NAME_BY_TYPE: Record<Exclude<MessageType, 'track'>, string> = {
  identify: '$identify', page: '$pageview', screen: '$screen', group: '$group', alias: '$alias',
};

export type Normalized = { ok: true; item: IngestItem } | { ok: false; issues: Issue[] };

function id(v: Json | undefined, path: string, issues: Issue[]): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'string' && v.length > 0 && v.length <= MAX_ID) return v;
  issues.push({ path, message: typeof v === 'string' && v.length > MAX_ID ? `is ${v.length} characters long, over the ${limitText('MAX_ID_LENGTH')}` : `must be a non-empty string of at most ${MAX_ID} characters` });
  return null;
}

function object(v: Json | undefined, path: string, issues: Issue[]): JsonObject {
  if (v === undefined || v === null) return {};
  if (isPlainObject(v)) return v;
  issues.push({ path, message: 'must be an object' });
  return {};
}

/** Times Strata accepts: years 1000 to 9999 (what JSON dates, JavaScript and BIGINT columns all hold). */
export const MIN_TIME = Date.UTC(1000, 0, 1);
export const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Epoch ms of an ISO 8601 string or an epoch-ms number; null when absent or invalid (with an issue). */
function time(v: Json | undefined, path: string, issues: Issue[]): number | null {
  if (v === undefined || v === null) return null;
  const t = typeof v === 'number' ? v : typeof v === 'string' ? parseTimestamp(v) : Number.NaN;
  if (!Number.isFinite(t) || t < MIN_TIME || t > MAX_TIME) {
    issues.push({ path, message: 'must be an ISO 8601 date-time such as "2024-06-01T12:00:00.000Z" (or epoch milliseconds) between the years 1000 and 9999' });
    return null;
  }
  return t;
}

const str = (v: Json | undefined) => (typeof v === 'string' ? v : undefined);

/**
 * Validates one Segment-spec message and turns it into an ingest item: the event name
 * conditions use, identity, and the corrected timestamp
 * (`timestamp = receivedAt − (sentAt − originalTimestamp)` when the client sent `sentAt`).
 * With `geo` (the HTTP ingest), the context is geolocated and its IP dropped or kept (see geo.ts);
 * without it the context is stored as sent.
 */
export function normalizeMessage(raw: unknown, routeType: MessageType | null, receivedAt: number, batchSentAt: Json | undefined, geo?: GeoOptions): Normalized {
  const issues: Issue[] = [];
  if (!isPlainObject(raw)) return { ok: false, issues: [{ path: '/', message: 'each message must be a JSON object' }] };
  // Before anything else walks the message: an import line is not a request body, whose depth the app checks.
  const tooDeep = jsonDepthFault(raw);
  if (tooDeep) return { ok: false, issues: [tooDeep] };
  const [unstorable] = unstorableStrings(raw, 1);
  if (unstorable !== undefined) return { ok: false, issues: [{ path: unstorable, message: 'strings may not contain NUL characters or unpaired UTF-16 surrogates' }] };
  const longKey = longKeyPath(raw);
  if (longKey !== null) return { ok: false, issues: [{ path: longKey, message: `a key has at most ${MAX_KEY_LENGTH} characters (${limitText('MAX_KEY_LENGTH')})` }] };

  let type = routeType;
  if (type === null) {
    if (typeof raw.type !== 'string' || !(MESSAGE_TYPES as readonly string[]).includes(raw.type)) {
      issues.push({ path: '/type', message: `must be one of ${MESSAGE_TYPES.join(', ')}` });
    } else {
      type = raw.type as MessageType;
    }
  }
  const userId = id(raw.userId, '/userId', issues);
  const anonymousId = id(raw.anonymousId, '/anonymousId', issues);
  const previousId = type === 'alias' ? id(raw.previousId, '/previousId', issues) : null;
  const messageId = raw.messageId === undefined || raw.messageId === null ? `strata-${randomUUID()}` : id(raw.messageId, '/messageId', issues);
  const properties = object(raw.properties, '/properties', issues);
  const sent = object(raw.context, '/context', issues);
  const traits = type === 'identify' || type === 'group' ? object(raw.traits, '/traits', issues) : null;
  const original = time(raw.originalTimestamp ?? raw.timestamp, raw.originalTimestamp !== undefined ? '/originalTimestamp' : '/timestamp', issues);
  const sentAt = time(raw.sentAt ?? batchSentAt, raw.sentAt !== undefined ? '/sentAt' : '/sentAt (batch)', issues);

  let name = '';
  if (type === 'track') {
    if (typeof raw.event !== 'string' || raw.event.length === 0 || raw.event.length > MAX_NAME) {
      issues.push({ path: '/event', message: `track needs "event", a name of 1 to ${MAX_NAME} characters (${limitText('MAX_EVENT_NAME_LENGTH')})` });
    } else if (isDerivedEvent(raw.event)) {
      issues.push({ path: '/event', message: `"${raw.event}" is derived by Strata and cannot be sent` });
    } else {
      name = raw.event;
    }
  } else if (type !== null) {
    name = NAME_BY_TYPE[type];
  }
  if (type === 'alias') {
    if (userId === null && !issues.some((i) => i.path === '/userId')) issues.push({ path: '/userId', message: 'alias needs "userId" (the new id)' });
    if (previousId === null && !issues.some((i) => i.path === '/previousId')) issues.push({ path: '/previousId', message: 'alias needs "previousId"' });
  } else if (userId === null && anonymousId === null && !issues.some((i) => i.path === '/userId' || i.path === '/anonymousId')) {
    issues.push({ path: '/userId', message: 'every message needs "userId" or "anonymousId"' });
  }
  if (type === 'group' && id(raw.groupId, '/groupId', issues) === null && !issues.some((i) => i.path === '/groupId')) {
    issues.push({ path: '/groupId', message: 'group needs "groupId"' });
  }
  if (issues.length || type === null || messageId === null) return { ok: false, issues };

  const context = geo ? geolocate(sent, geo) : sent;
  let props: JsonObject = properties;
  if (type === 'page' || type === 'screen') {
    const page = isPlainObject(context.page) ? context.page : {};
    props = { ...properties };
    if (type === 'page') {
      for (const k of ['path', 'url', 'title', 'referrer', 'search'] as const) {
        if (props[k] === undefined && page[k] !== undefined) props[k] = page[k]!;
      }
    }
    const n = str(raw.name) ?? str(properties.name);
    if (n !== undefined) props.name = n;
  } else if (type === 'identify') {
    props = { ...traits };
  } else if (type === 'group') {
    props = { groupId: String(raw.groupId), traits: traits ?? {} };
  } else if (type === 'alias') {
    props = { previousId };
  }

  // The size of a message is that of what Strata stores of it: properties, context, traits and ids.
  const propertiesJson = JSON.stringify(props);
  const contextJson = JSON.stringify(context);
  const bytes = Buffer.byteLength(propertiesJson) + Buffer.byteLength(contextJson) + (traits ? Buffer.byteLength(JSON.stringify(traits)) : 0)
    + Buffer.byteLength(`${messageId}${userId ?? ''}${anonymousId ?? ''}${previousId ?? ''}${name}`);
  if (bytes > MAX_EVENT_BYTES) return { ok: false, issues: [{ path: '/', message: `the message is ${bytes} bytes, over the ${limitText('MAX_EVENT_BYTES')} (32 KB)` }] };
  const timestamp = original !== null && sentAt !== null ? receivedAt - (sentAt - original) : original ?? receivedAt;
  if (timestamp < MIN_TIME || timestamp > MAX_TIME) {
    return { ok: false, issues: [{ path: '/sentAt', message: 'timestamp corrected by sentAt falls outside the years 1000 to 9999' }] };
  }
  return {
    ok: true,
    item: {
      messageId, type, name, userId, anonymousId, previousId, properties: props, context,
      traits: type === 'identify' ? traits : null, timestamp: Math.round(timestamp), receivedAt, propertiesJson, contextJson,
    },
  };
}
