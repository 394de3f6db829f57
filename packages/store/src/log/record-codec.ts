import type { IngestItem, Rejection } from '../types.ts';
import type { LogRecord } from './event-log.ts';

/** What of a record its stored body holds (the rest is in columns of its own). */
export type RecordBody = Pick<LogRecord, 'items' | 'rejections' | 'more' | 'request' | 'awaits' | 'links'>;

/**
 * A log record's items and rejections (and, for a request split by partition, `more` and `request`: how many records of it follow, and its id; for a marker, the partitions it `awaits`) as the text the log stores. An item's properties and
 * context are usually serialised already (by ingest's size check): those strings are spliced in
 * as they are rather than serialised a second time, and the copies are not stored.
 */
export function encodeRecordBody({ items, rejections, more, request, awaits, links }: RecordBody): string {
  const parts: string[] = [];
  for (const item of items) {
    const { propertiesJson, contextJson, properties, context, ...rest } = item;
    const head = JSON.stringify(rest);
    parts.push(`${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"properties":${propertiesJson ?? JSON.stringify(properties)},"context":${contextJson ?? JSON.stringify(context)}}`);
  }
  return `{"items":[${parts.join(',')}],"rejections":${JSON.stringify(rejections)}${more ? `,"more":${more}` : ''}${request !== undefined ? `,"request":${JSON.stringify(request)}` : ''}${awaits?.length ? `,"awaits":${JSON.stringify(awaits)},"links":${JSON.stringify(links ?? [])}` : ''}}`;
}

/** The items and rejections of a stored record body (`encodeRecordBody`), and its request's `more` and id (when it was split). */
export function decodeRecordBody(text: string): { items: IngestItem[]; rejections: Rejection[]; more?: number; request?: string; awaits?: number[]; links?: string[] } {
  const body = JSON.parse(text) as { items: IngestItem[]; rejections: Rejection[]; more?: number; request?: string; awaits?: number[]; links?: string[] };
  return {
    items: body.items, rejections: body.rejections, ...(body.more ? { more: body.more } : {}), ...(typeof body.request === 'string' ? { request: body.request } : {}),
    ...(Array.isArray(body.awaits) && body.awaits.length ? { awaits: body.awaits, links: body.links ?? [] } : {}),
  };
}
