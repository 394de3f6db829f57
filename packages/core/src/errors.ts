import type { Issue } from './parse.ts';

/** The closed set of failure codes; only the HTTP layer maps them to statuses. */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'PAYLOAD_TOO_LARGE'
  /** A compressed request body that inflates past the endpoint's limit (413). */
  | 'DECODED_TOO_LARGE'
  /** A request body in a Content-Encoding Strata cannot decode (415). */
  | 'UNSUPPORTED_ENCODING'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  /** Loyalty refusals (409): each names why a redemption or a points change cannot happen. */
  | 'INSUFFICIENT_POINTS'
  | 'OUT_OF_STOCK'
  | 'REWARD_INACTIVE'
  | 'OUTSIDE_DATES'
  | 'NOT_IN_SEGMENT'
  | 'LIMIT_REACHED'
  | 'RATE_LIMITED'
  | 'STORE_UNAVAILABLE'
  /** The server has just started and is still loading its projects (503 with Retry-After). */
  | 'STARTING'
  /** Ingest: events arrive faster than they are applied, and the backlog stayed full for the wait's bound (503 with Retry-After). */
  | 'BACKLOGGED'
  /** A read that waits for the events acknowledged before it (or for the position it names) did not see them applied within the bound (503 with Retry-After). */
  | 'NOT_YET_APPLIED'
  /** A request a process of another role serves: a process of the `api` role takes ingest only (421). */
  | 'WRONG_ROLE'
  | 'INTERNAL';

/** The one error type Strata throws on purpose. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly issues: readonly Issue[];
  constructor(opts: { code: ErrorCode; message: string; issues?: readonly Issue[]; cause?: unknown }) {
    super(opts.message, { cause: opts.cause });
    this.name = 'AppError';
    this.code = opts.code;
    this.issues = opts.issues ?? [];
  }
}

/** A VALIDATION_FAILED error whose issue paths are prefixed (e.g. with `/condition`). */
export function validationError(message: string, issues: readonly Issue[], prefix = ''): AppError {
  return new AppError({
    code: 'VALIDATION_FAILED',
    message,
    issues: issues.map((i) => ({ path: prefix + (i.path === '/' && prefix ? '' : i.path), message: i.message })),
  });
}
