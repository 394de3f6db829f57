import type { FastifyInstance } from 'fastify';
import sjson from 'secure-json-parse';
import { bodyParseError } from '../../auth.ts';

/**
 * Reads every body of the scope as JSON whatever its content type (Segment's libraries and
 * `sendBeacon` send text/plain), with `__proto__` and `constructor` keys removed.
 */
export function readBodiesAsJson(app: FastifyInstance, bodyLimit: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, (req, body, done) => {
    // No body is no message: the route then names what is missing.
    if (body === '') return done(null, undefined);
    try {
      done(null, sjson.parse(body as string, undefined, { protoAction: 'remove', constructorAction: 'remove' }));
    } catch (e) {
      done(bodyParseError(req, e as Error), undefined);
    }
  });
}
