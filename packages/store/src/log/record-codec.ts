import type { IngestItem, Rejection } from '../types.ts';
import type { LogRecord } from './event-log.ts';

/**
 * A log record's body as text — its items and rejections, and the fields a record has only
 * sometimes (`more` and `request` of a request split by partition; `awaits` and `links` of a
 * marker) — written and read the same way by every log: the embedded logs store it as it is, and
 * a JetStream message is the same object with the record's project, partition and receipt time
 * first (jetstream-record.ts).
 */
export type RecordBody = Pick<LogRecord, 'items' | 'rejections' | 'more' | 'request' | 'awaits' | 'links'>;

/**
 * An item's JSON. Its properties and context are usually serialised already (by ingest's size
 * check): those strings are spliced in as they are rather than serialised a second time, and the
 * copies are not stored.
 */
function itemJson(item: IngestItem): string {
  const { propertiesJson, contextJson, properties, context, ...rest } = item;
  const head = JSON.stringify(rest);
  return `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"properties":${propertiesJson ?? JSON.stringify(properties)},"context":${contextJson ?? JSON.stringify(context)}}`;
}

/** The body as one JSON object; `head` (JSON members, each followed by a comma) goes first in it. */
export function encodeRecordBody({ items, rejections, more, request, awaits, links }: RecordBody, head = ''): string {
  return `{${head}"items":[${items.map(itemJson).join(',')}],"rejections":${JSON.stringify(rejections)}${more ? `,"more":${more}` : ''}`
    + `${request !== undefined ? `,"request":${JSON.stringify(request)}` : ''}${awaits?.length ? `,"awaits":${JSON.stringify(awaits)},"links":${JSON.stringify(links ?? [])}` : ''}}`;
}

/**
 * The body of a parsed record (`encodeRecordBody`), with only the optional fields it has; null
 * when a field is missing or of the wrong type (written by something other than Strata).
 */
export function readRecordBody(parsed: unknown): RecordBody | null {
  const b = parsed as Partial<Record<keyof RecordBody, unknown>> | null;
  if (b === null || typeof b !== 'object' || !Array.isArray(b.items) || !Array.isArray(b.rejections)) return null;
  if (b.more !== undefined && !(Number.isSafeInteger(b.more) && (b.more as number) >= 0)) return null;
  if (b.request !== undefined && typeof b.request !== 'string') return null;
  if (b.awaits !== undefined && !(Array.isArray(b.awaits) && b.awaits.every((p) => Number.isSafeInteger(p) && p >= 0))) return null;
  if (b.links !== undefined && !(Array.isArray(b.links) && b.links.every((id) => typeof id === 'string'))) return null;
  const awaits = b.awaits as number[] | undefined;
  return {
    items: b.items as IngestItem[], rejections: b.rejections as Rejection[],
    ...(b.more ? { more: b.more as number } : {}), ...(b.request !== undefined ? { request: b.request as string } : {}),
    ...(awaits?.length ? { awaits, links: (b.links as string[] | undefined) ?? [] } : {}),
  };
}

/** A stored record body back (`encodeRecordBody`); one that is not a record body is an error. */
export function decodeRecordBody(text: string): RecordBody {
  const body = readRecordBody(JSON.parse(text));
  if (body === null) throw new Error('a stored log record body has fields missing or of the wrong type');
  return body;
}
