import type { FastifyInstance } from 'fastify';
import { AppError, type Json } from '@strata/core';
import type { AppContext } from '../../context.ts';
import { registerBodyDecoding } from '../../ingest/decode-body.ts';
import { warmGeo, type GeoOptions } from '../../ingest/geo.ts';
import { MAX_BATCH_BYTES, type MessageType } from '../../ingest/normalize.ts';
import { ingestAnswer, prepareIngest, type KnownUser } from '../../ingest/prepare-ingest.ts';
import { IngestAnswer } from '../../schemas.ts';
import { readBodiesAsJson } from './json-body.ts';
import { POSITION_HEADER } from '../../read-your-writes.ts';

const ROUTES: [string, string, MessageType | null][] = [
  ['identify', 'i', 'identify'], ['track', 't', 'track'], ['page', 'p', 'page'], ['screen', 's', 'screen'],
  ['group', 'g', 'group'], ['alias', 'a', 'alias'], ['batch', 'b', null],
];

/** Segment-compatible ingest: any content type is JSON, write-key auth (CORS: see publicRoutes in public-scope.ts). */
export async function ingestRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  readBodiesAsJson(app, MAX_BATCH_BYTES);
  // gzip and deflate bodies (RudderStack's SDKs send gzip), inflated within the same limit.
  registerBodyDecoding(app, 'MAX_BATCH_BYTES');

  warmGeo();
  const knownUser: KnownUser = async (projectId, id) => {
    // An identify acknowledged just before this alias must be seen: the check reads the store once what was acknowledged is applied.
    if (!(await ctx.ingest.waitApplied(await ctx.ingest.latest(), ctx.config.readWaitMs))) {
      throw new AppError({ code: 'NOT_YET_APPLIED', message: 'with identity verification on, an alias is checked against the users known once what was acknowledged before it is applied, which has not happened yet; send it again in a moment' });
    }
    return (await ctx.store.profileKey(projectId, id))?.kind === 'u';
  };
  for (const [long, short, type] of ROUTES) {
    const handler = async (req: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply) => {
      // The public scope has checked the write key (public-scope.ts).
      const project = req.project;
      const receivedAt = ctx.clock.now();
      // Geolocation: `context.ip` of a message, else the request's address (X-Forwarded-For only with STRATA_TRUST_PROXY).
      const geo: GeoOptions = { requestIp: req.ip || null, storeIp: ctx.config.storeIp };
      const { items, rejections } = await prepareIngest({ project, type, body: req.body as Json, receivedAt, geo }, knownUser);
      const { position } = await ctx.ingest.submit(project.id, items, rejections, receivedAt);
      // The position a later read may name to be sure it sees these events (read-your-writes.ts).
      void reply.header(POSITION_HEADER, String(position));
      return ingestAnswer(rejections, position);
    };
    const schema = {
      tags: ['ingest'],
      summary: type === null ? 'Send a batch of Segment-spec messages' : `Segment-spec ${long} call`,
      description: 'Auth: HTTP Basic with the write key as user name, an X-Write-Key header, or "writeKey" in the body. Any content type is read as JSON. Answers 200 only once the events are durably in the event log; `position` (also the Strata-Position header) is their log position, which a read may name to wait until they are applied.',
      security: [{ writeKeyBasic: [] }, { writeKeyHeader: [] }] as { [k: string]: string[] }[],
      response: { 200: IngestAnswer },
    };
    app.post(`/v1/${long}`, { schema }, handler);
    app.post(`/v1/${short}`, { schema: { ...schema, hide: true } }, handler);
  }
}
