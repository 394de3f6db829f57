export interface RetryOptions {
  /** First retry delay in ms. */
  readonly base: number;
  /** Ceiling of a delay in ms. */
  readonly max: number;
}

export const DEFAULT_RETRY: RetryOptions = { base: 1000, max: 60_000 };

/**
 * The delay before retry number `attempt` (1, 2, …): exponential (base · 2^(attempt−1)), capped at
 * `max`, with "equal jitter" (half fixed, half random) so that many browsers do not retry in step
 * after an outage. `retryAfter` (seconds, from a 429/503 answer) is honoured when longer.
 */
export function backoffDelay(attempt: number, opts: RetryOptions = DEFAULT_RETRY, random: () => number = Math.random, retryAfter?: number): number {
  const exp = Math.min(opts.max, opts.base * 2 ** Math.max(0, attempt - 1));
  const delay = exp / 2 + (exp / 2) * random();
  return Math.max(Math.round(delay), retryAfter !== undefined && retryAfter > 0 ? retryAfter * 1000 : 0);
}

/** What to do with a batch after the server answered `status` (0: no answer: network error). */
export function outcomeOf(status: number): 'done' | 'retry' | 'drop' {
  if (status >= 200 && status < 300) return 'done';
  // No answer, timeouts, rate limits and server trouble may pass; a bad request or key will not.
  if (status === 0 || status === 408 || status === 429 || status >= 500) return 'retry';
  return 'drop';
}
