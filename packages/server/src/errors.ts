import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, limitText, type ErrorCode, type Issue, type LimitName } from '@strata/core';
import { storeUnavailableReason } from '@strata/store';

/** The one place where an error code becomes an HTTP status. */
export const STATUS: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  PAYLOAD_TOO_LARGE: 400,
  DECODED_TOO_LARGE: 413,
  UNSUPPORTED_ENCODING: 415,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  INSUFFICIENT_POINTS: 409,
  OUT_OF_STOCK: 409,
  REWARD_INACTIVE: 409,
  OUTSIDE_DATES: 409,
  NOT_IN_SEGMENT: 409,
  LIMIT_REACHED: 409,
  RATE_LIMITED: 429,
  STORE_UNAVAILABLE: 503,
  STARTING: 503,
  BACKLOGGED: 503,
  NOT_YET_APPLIED: 503,
  WRONG_ROLE: 421,
  INTERNAL: 500,
};

/** Seconds a client is asked to wait (`Retry-After`) before it sends again. */
const RETRY_AFTER: Partial<Record<ErrorCode, string>> = { STORE_UNAVAILABLE: '5', STARTING: '1', BACKLOGGED: '1', NOT_YET_APPLIED: '1' };

/** The error body; a 5xx names its request (`requestId`), so that a user can point at its log line. */
export function errorBody(code: ErrorCode, message: string, issues: readonly Issue[] = [], requestId?: string) {
  return { error: { code, message, ...(issues.length ? { issues } : {}), ...(requestId === undefined ? {} : { requestId }) } };
}

/** Requests whose 5xx the error handler has logged (with its error): the onResponse hook of logging.ts logs the others. */
export const loggedFailures = new WeakSet<FastifyRequest>();

interface AjvError { instancePath: string; message?: string; keyword: string; params: Record<string, unknown>; parentSchema?: { 'x-limit'?: LimitName } }

function fromValidation(err: FastifyError & { validation?: AjvError[]; validationContext?: string }): AppError {
  const where = err.validationContext === 'body' || !err.validationContext ? '' : `/${err.validationContext}`;
  const issues = ((err.validation ?? []) as AjvError[]).map((v) => {
    let path = where + v.instancePath;
    let message = v.message ?? 'is not valid';
    if (v.keyword === 'additionalProperties') {
      path += `/${String(v.params.additionalProperty)}`;
      message = `unknown field "${String(v.params.additionalProperty)}"`;
    } else if (v.keyword === 'required') {
      path += `/${String(v.params.missingProperty)}`;
      message = 'is required';
    } else if (v.keyword === 'maxLength' && v.parentSchema?.['x-limit'] !== undefined) {
      // A limit of core/limits.ts (schemas.ts maxLength): the refusal names it.
      message = `${message} (${limitText(v.parentSchema['x-limit'])})`;
    }
    return { path: path || '/', message };
  });
  return new AppError({ code: 'VALIDATION_FAILED', message: `the request ${err.validationContext ?? 'body'} is not valid: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues });
}

/** The body limit of a route (app.ts, the public scope's parsers): the smallest that applies to the URL. */
function bodyLimitOf(url: string): LimitName {
  if (url.startsWith('/v1/rewards/')) return 'MAX_REDEEM_BODY_BYTES';
  if (url.startsWith('/v1/')) return 'MAX_BATCH_BYTES';
  return 'MAX_BODY_BYTES';
}

/** Maps any error to the docs/reference.md §4 error shape; bad input never becomes a 500. */
export function toAppError(err: unknown, url = ''): AppError {
  if (err instanceof AppError) return err;
  const e = err as FastifyError & { validation?: AjvError[] };
  if (e?.validation) return fromValidation(e);
  // The store's driver said it cannot serve now (locked, unwritable, full, PostgreSQL unreachable): 503, try again.
  const reason = storeUnavailableReason(err);
  if (reason !== null) return new AppError({ code: 'STORE_UNAVAILABLE', message: `the store is unavailable (${reason}); try again shortly`, cause: err });
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError({ code: 'PAYLOAD_TOO_LARGE', message: `the request body is larger than this endpoint accepts (${limitText(bodyLimitOf(url))} bytes)`, issues: [{ path: '/', message: `over the ${limitText(bodyLimitOf(url))} bytes` }] });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_TYPE':
      return new AppError({ code: 'VALIDATION_FAILED', message: e.message });
  }
  // A body that does not parse: the parsers mark their errors 400. A SyntaxError of Strata's own (a
  // stored value that no longer parses) is a fault here, not the caller's: it falls through to a 500.
  if (e?.statusCode === 400) {
    return new AppError({ code: 'VALIDATION_FAILED', message: `the request body is not valid JSON: ${e.message}` });
  }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new AppError({ code: e.statusCode === 404 ? 'NOT_FOUND' : 'VALIDATION_FAILED', message: e.message });
  }
  return new AppError({ code: 'INTERNAL', message: 'internal error', cause: err });
}

/**
 * Answers any error in the one shape. A 5xx that is a fault (INTERNAL, STORE_UNAVAILABLE) is
 * logged at `error` with its request id and the error that caused it; a 503 while the server
 * is still starting is expected, and logged at `debug` only; a 4xx is the caller's and not logged.
 */
export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const app = toAppError(err, req.url);
  const status = STATUS[app.code];
  if (status >= 500) {
    loggedFailures.add(req);
    const fields = { code: app.code, method: req.method, url: req.url, statusCode: status };
    if (app.code === 'STARTING') req.log.debug(fields, app.message);
    else req.log.error({ ...fields, err: app.cause ?? err }, app.message);
  }
  const retry = RETRY_AFTER[app.code];
  if (retry) void reply.header('Retry-After', retry);
  // Refused for the role (the engine of a process of the api role, a change sent to it): say where to send it instead.
  const message = app.code === 'WRONG_ROLE' ? wrongRole(req.method, req.url.split('?')[0]!) : app.message;
  void reply.status(status).send(errorBody(app.code, message, app.issues, status >= 500 ? req.id : undefined));
}

/** What a process of the api role answers (421 WRONG_ROLE) to a request only a process of the all role serves. */
export function wrongRole(method: string, path: string): string {
  return `this Strata process has the api role (STRATA_ROLE=api): it takes ingest (/v1/batch, /v1/track, …), answers targeting (GET /v1/targeting) and the admin API's reads from the store, and makes changes to segments, missions, rewards and experiences, but not other changes, reward redemption, the admin UI or reads that need the engine's memory; send ${method} ${path} to a process of the all role (beside workers there is none: docs/scale-out.md § Admin changes lists what they do not serve yet)`;
}
