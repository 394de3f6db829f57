import type { Issue } from './parse.ts';

/** Buckets of docs/reference.md §3 `bucket` conditions: 0 ≤ bucket < BUCKETS. */
export const BUCKETS = 10_000;

export interface BucketRange {
  /** Inclusive. */
  readonly from: number;
  /** Exclusive. */
  readonly to: number;
}

/**
 * Splits the buckets 0..10000 into one range per weight, in order: arm i holds the buckets b with
 * ceil(10000·c₍ᵢ₋₁₎) ≤ b < ceil(10000·cᵢ), where cᵢ is the cumulative share of the first i weights.
 * That is GrowthBook's rule (bucket/10000 in [c₍ᵢ₋₁₎, cᵢ)) in exact arithmetic, so the same weights
 * give the same arm for every id; each arm's share is off its weight's by less than one bucket
 * (0.01%). Weights are positive numbers of any scale. A weight too small to get one bucket is an
 * issue (path `/<index>/weight`), as are non-positive weights.
 */
export function bucketRanges(weights: readonly number[]): { ok: true; value: BucketRange[] } | { ok: false; issues: Issue[] } {
  const issues: Issue[] = [];
  weights.forEach((w, i) => {
    if (!(typeof w === 'number' && Number.isFinite(w) && w > 0)) issues.push({ path: `/${i}/weight`, message: 'must be a positive number' });
  });
  if (weights.length < 2) issues.push({ path: '/', message: 'needs two or more arms' });
  if (issues.length) return { ok: false, issues };
  const total = weights.reduce((a, b) => a + b, 0);
  const out: BucketRange[] = [];
  let cumulative = 0, from = 0;
  for (const [i, w] of weights.entries()) {
    cumulative += w;
    // The tolerance absorbs float error where the exact boundary is a whole bucket (e.g. 0.7 × 10000).
    const to = i === weights.length - 1 ? BUCKETS : Math.min(BUCKETS, Math.ceil((BUCKETS * cumulative) / total - 1e-9));
    if (to <= from) issues.push({ path: `/${i}/weight`, message: `is too small a share of ${total}: it gets no bucket (one bucket is 0.01%)` });
    out.push({ from, to });
    from = Math.max(from, to);
  }
  return issues.length ? { ok: false, issues } : { ok: true, value: out };
}
