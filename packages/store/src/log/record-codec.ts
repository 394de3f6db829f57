import type { IngestItem, Rejection } from '../types.ts';

/**
 * A log record's items and rejections (and `more`: how many records of its request follow it) as the text the log stores. An item's properties and
 * context are usually serialised already (by ingest's size check): those strings are spliced in
 * as they are rather than serialised a second time, and the copies are not stored.
 */
export function encodeRecordBody(items: readonly IngestItem[], rejections: readonly Rejection[], more?: number): string {
  const parts: string[] = [];
  for (const item of items) {
    const { propertiesJson, contextJson, properties, context, ...rest } = item;
    const head = JSON.stringify(rest);
    parts.push(`${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"properties":${propertiesJson ?? JSON.stringify(properties)},"context":${contextJson ?? JSON.stringify(context)}}`);
  }
  return `{"items":[${parts.join(',')}],"rejections":${JSON.stringify(rejections)}${more ? `,"more":${more}` : ''}}`;
}

/** The items and rejections of a stored record body (`encodeRecordBody`), and how many records of its request follow it (when any do). */
export function decodeRecordBody(text: string): { items: IngestItem[]; rejections: Rejection[]; more?: number } {
  const body = JSON.parse(text) as { items: IngestItem[]; rejections: Rejection[]; more?: number };
  return { items: body.items, rejections: body.rejections, ...(body.more ? { more: body.more } : {}) };
}
