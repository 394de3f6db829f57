import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { pino, type DestinationStream } from 'pino';
import type { LogLevel } from './config.ts';
import { loggedFailures } from './errors.ts';

/**
 * The server's logger: one JSON object per line on stdout (or `stream`), the level as its name
 * (`"level":"error"`) and the time in ISO 8601, at `STRATA_LOG_LEVEL` and above. docs/operations.md
 * lists the lines Strata writes.
 */
export function createLogger(level: LogLevel, stream?: DestinationStream): FastifyBaseLogger {
  const options = { level, formatters: { level: (label: string) => ({ level: label }) }, timestamp: pino.stdTimeFunctions.isoTime };
  // Written synchronously: few lines by default, and none is lost to an exit right after it (or out of order with the start's lines).
  return pino(options, stream ?? pino.destination({ dest: 1, sync: true }));
}

/** An `X-Request-Id` a client or proxy sent is kept when it is a plain token of at most 128 characters. */
const CLIENT_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The request id: the sender's `X-Request-Id` when it is usable, else a random UUID (unique across restarts, unlike a counter). */
export function requestId(req: { headers: Record<string, string | string[] | undefined> }): string {
  const sent = req.headers['x-request-id'];
  return typeof sent === 'string' && CLIENT_ID.test(sent) ? sent : randomUUID();
}

/**
 * Every answer carries its request id (`X-Request-Id`); every 5xx is logged at `error` (the
 * error handler logs those it answers, with the error; this logs the rest, such as a 5xx a
 * route sets itself); at `debug`, a line per request.
 */
export function logRequests(app: FastifyInstance): void {
  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-request-id', req.id);
  });
  app.addHook('onResponse', async (req: FastifyRequest, reply) => {
    const statusCode = reply.statusCode;
    const fields = { method: req.method, url: req.url, statusCode, responseTime: Math.round(reply.elapsedTime * 10) / 10 };
    if (statusCode >= 500 && !loggedFailures.has(req)) req.log.error(fields, `answered ${statusCode}`);
    else if (req.log.level === 'debug' || req.log.level === 'trace') req.log.debug(fields, 'request completed');
  });
}
