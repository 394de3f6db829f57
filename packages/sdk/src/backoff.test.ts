import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_RETRY, outcomeOf } from './backoff.ts';

describe('the retry schedule', () => {
  it('doubles from the base up to the cap, with half of each delay random', () => {
    const low = [1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffDelay(a, DEFAULT_RETRY, () => 0));
    const high = [1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffDelay(a, DEFAULT_RETRY, () => 1));
    expect(high).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    expect(low).toEqual(high.map((d) => d / 2));
    expect(backoffDelay(50, { base: 10, max: 100 }, () => 0.5)).toBe(75);
  });
  it('waits at least what Retry-After asks', () => {
    expect(backoffDelay(1, DEFAULT_RETRY, () => 1, 30)).toBe(30_000);
    expect(backoffDelay(8, DEFAULT_RETRY, () => 1, 5)).toBe(60_000);
  });
  it('retries what may pass and drops what will not', () => {
    expect([200, 0, 408, 429, 500, 503, 400, 401, 403, 413].map(outcomeOf))
      .toEqual(['done', 'retry', 'retry', 'retry', 'retry', 'retry', 'drop', 'drop', 'drop', 'drop']);
  });
});
