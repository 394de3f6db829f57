import type { FastifyInstance } from 'fastify';
import sjson from 'secure-json-parse';
import { AppError, isPlainObject, type Issue, type Json } from '@strata/core';
import type { Rejection } from '@strata/store';
import { requireWriteKey, type Credentials } from '../auth.ts';
import type { AppContext } from '../context.ts';
import { registerBodyDecoding } from '../ingest/decode-body.ts';
import { warmGeo, type GeoOptions } from '../ingest/geo.ts';
import { MAX_BATCH_BYTES, MAX_BATCH_ITEMS, MAX_EVENT_BYTES, normalizeMessage, type MessageType } from '../ingest/normalize.ts';
import { IngestAnswer } from '../schemas.ts';
import type { IngestItem } from '@strata/store';

const ROUTES: [string, string, MessageType | null][] = [
  ['identify', 'i', 'identify'], ['track', 't', 'track'], ['page', 'p', 'page'], ['screen', 's', 'screen'],
  ['group', 'g', 'group'], ['alias', 'a', 'alias'], ['batch', 'b', null],
];

/** Segment-compatible ingest (SPEC §4.1): any content type is JSON, write-key auth (CORS: see publicRoutes in app.ts). */
export async function ingestRoutes(app: FastifyInstance, ctx: AppContext & { creds: Credentials }): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_BATCH_BYTES }, (_req, body, done) => {
    // No body is no message: the route then names what is missing.
    if (body === '') return done(null, undefined);
    try {
      done(null, sjson.parse(body as string, undefined, { protoAction: 'remove', constructorAction: 'remove' }));
    } catch (e) {
      done(new AppError({ code: 'VALIDATION_FAILED', message: `the request body is not valid JSON: ${(e as Error).message}` }), undefined);
    }
  });

  registerBodyDecoding(app, MAX_BATCH_BYTES);
  warmGeo();
  for (const [long, short, type] of ROUTES) {
    const handler = async (req: import('fastify').FastifyRequest) => {
      const project = await requireWriteKey(req, ctx.creds);
      const receivedAt = ctx.clock.now();
      // Geolocation: `context.ip` of a message, else the request's address (X-Forwarded-For only with STRATA_TRUST_PROXY).
      const geo: GeoOptions = { requestIp: req.ip || null, storeIp: ctx.config.storeIp };
      const body = req.body as Json;
      const items: IngestItem[] = [];
      /** The position in the batch of each item (0 for a single call). */
      const indexes: number[] = [];
      const issues: Issue[] = [];
      const rejections: Rejection[] = [];
      if (type !== null) {
        const raw = Buffer.byteLength(JSON.stringify(body ?? null));
        if (raw > MAX_EVENT_BYTES) throw new AppError({ code: 'PAYLOAD_TOO_LARGE', message: `the event is ${raw} bytes; the limit is ${MAX_EVENT_BYTES} (32 KB)` });
        const n = normalizeMessage(body, type, receivedAt, undefined, geo);
        if (!n.ok) throw new AppError({ code: 'VALIDATION_FAILED', message: `the ${type} call is not valid: ${n.issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues: n.issues });
        items.push(n.item);
        indexes.push(0);
      } else {
        if (!isPlainObject(body) || !Array.isArray(body.batch)) {
          throw new AppError({ code: 'VALIDATION_FAILED', message: 'a batch is {"batch": [message, ...]}', issues: [{ path: '/batch', message: 'must be an array of messages' }] });
        }
        if (body.batch.length > MAX_BATCH_ITEMS) {
          throw new AppError({ code: 'PAYLOAD_TOO_LARGE', message: `a batch holds at most ${MAX_BATCH_ITEMS} messages; this one has ${body.batch.length}`, issues: [{ path: '/batch', message: `more than ${MAX_BATCH_ITEMS} messages` }] });
        }
        body.batch.forEach((m, index) => {
          const n = normalizeMessage(m, null, receivedAt, body.sentAt, geo);
          if (n.ok) {
            items.push(n.item);
            indexes.push(index);
          } else {
            rejections.push({ index, message: n.issues.map((i) => `${i.path} ${i.message}`).join('; '), payload: JSON.stringify(m) ?? 'null' });
            for (const i of n.issues) issues.push({ path: `/batch/${index}${i.path === '/' ? '' : i.path}`, message: i.message });
          }
        });
      }
      // With identity verification on, a write key cannot prove who a user is: it may not merge
      // a known user into another (an alias of a userId would hand over their profile and points).
      if (project.settings.identityVerification?.enabled) {
        for (let i = items.length - 1; i >= 0; i--) {
          const item = items[i]!;
          if (item.type !== 'alias' || item.previousId === null || item.previousId === item.userId) continue;
          if ((await ctx.store.profileKey(project.id, item.previousId))?.kind !== 'u') continue;
          const message = `/previousId "${item.previousId}" is a known user: with identity verification on, merging known users needs the admin API`;
          if (type !== null) throw new AppError({ code: 'FORBIDDEN', message, issues: [{ path: '/previousId', message: 'is a known user' }] });
          rejections.push({ index: indexes[i]!, message, payload: JSON.stringify((body as { batch: Json[] }).batch[indexes[i]!]) ?? 'null' });
          issues.push({ path: `/batch/${indexes[i]!}/previousId`, message: 'is a known user' });
          items.splice(i, 1);
          indexes.splice(i, 1);
        }
      }
      if (type === null && items.length === 0 && rejections.length > 0) {
        throw new AppError({ code: 'VALIDATION_FAILED', message: 'no message of the batch is valid; nothing was stored', issues });
      }
      await ctx.ingest.submit(project.id, items, rejections, receivedAt);
      return rejections.length ? { success: true, rejected: rejections.map(({ index, message }) => ({ index, message })) } : { success: true };
    };
    const schema = {
      tags: ['ingest'],
      summary: type === null ? 'Send a batch of Segment-spec messages' : `Segment-spec ${long} call`,
      description: 'Auth: HTTP Basic with the write key as user name, an X-Write-Key header, or "writeKey" in the body. Any content type is read as JSON. Answers 200 only after the events are durably stored.',
      security: [{ writeKeyBasic: [] }, { writeKeyHeader: [] }] as { [k: string]: string[] }[],
      response: { 200: IngestAnswer },
    };
    app.post(`/v1/${long}`, { schema }, handler);
    app.post(`/v1/${short}`, { schema: { ...schema, hide: true } }, handler);
  }
}
