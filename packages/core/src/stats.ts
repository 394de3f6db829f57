/**
 * The statistics of experiment results (docs/experiments.md): rates, lift, the Wald confidence
 * interval of a difference of proportions, the two-proportion z-test and the chi-square test of
 * a sample ratio mismatch. Pure functions of counts; no I/O.
 *
 * Every distribution function comes from one well-known routine, the regularized incomplete
 * gamma function Q(a, x) — the power series for x < a + 1 and Lentz's continued fraction
 * otherwise (Numerical Recipes, 3rd ed., §6.2) with the Lanczos approximation of ln Γ
 * (g = 7, n = 9) — because both tails needed here are special cases of it:
 *   P(|Z| ≥ z) = erfc(z / √2) = Q(1/2, z² / 2)   and   P(χ²_k ≥ x) = Q(k / 2, x / 2).
 * Computing the upper tail directly (rather than 1 − CDF) keeps small p-values accurate to
 * about 1e-14 relative, far below what any decision reads.
 */

/** Φ⁻¹(0.975): the multiplier of a two-sided 95% normal interval. */
export const Z_95 = 1.959963984540054;

/** Warn of a sample ratio mismatch below this p-value (GrowthBook's and Optimizely's default). */
export const SRM_P_THRESHOLD = 0.001;

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error about 1e-15). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const y = x - 1;
  let s = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) s += LANCZOS[i]! / (y + i);
  const t = y + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(s);
}

const EPS = 1e-16;
const TINY = 1e-300;
const MAX_ITER = 10_000;

/** P(a, x) by its power series; converges fast for x < a + 1. */
function gammaSeries(a: number, x: number): number {
  let term = 1 / a, sum = term;
  for (let n = 1; n < MAX_ITER; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPS) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - lnGamma(a));
}

/** Q(a, x) by its continued fraction (modified Lentz); converges fast for x ≥ a + 1. */
function gammaContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a, c = 1 / TINY, d = 1 / b, h = d;
  for (let i = 1; i < MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - lnGamma(a)) * h;
}

/** The regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a), for a > 0, x ≥ 0. */
export function regularizedGammaQ(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) return Number.NaN;
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  return x < a + 1 ? 1 - gammaSeries(a, x) : gammaContinuedFraction(a, x);
}

/** The regularized lower incomplete gamma function P(a, x) = 1 − Q(a, x). */
export function regularizedGammaP(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) return Number.NaN;
  if (x === 0) return 0;
  if (x === Infinity) return 1;
  return x < a + 1 ? gammaSeries(a, x) : 1 - gammaContinuedFraction(a, x);
}

/** The standard normal CDF Φ(z). */
export function normalCdf(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  const tail = 0.5 * regularizedGammaQ(0.5, (z * z) / 2); // Φ(−|z|)
  return z < 0 ? tail : 1 - tail;
}

/** Two-sided p-value of a standard normal statistic: P(|Z| ≥ |z|) = 2 Φ(−|z|). */
export function normalTwoSidedP(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  return Math.min(1, regularizedGammaQ(0.5, (z * z) / 2));
}

/** Upper tail of the chi-square distribution: P(χ²_df ≥ x). */
export function chiSquareSf(x: number, df: number): number {
  if (!(df > 0) || Number.isNaN(x)) return Number.NaN;
  if (x <= 0) return 1;
  return regularizedGammaQ(df / 2, x / 2);
}

export interface Proportion {
  readonly users: number;
  readonly conversions: number;
}

/** A treatment arm against the control arm. */
export interface ProportionComparison {
  /** p_t − p_c. */
  readonly absoluteLift: number;
  /** (p_t − p_c) / p_c; null when the control's rate is 0. */
  readonly relativeLift: number | null;
  /** 95% Wald interval of p_t − p_c with the unpooled standard error. */
  readonly ci95: { readonly lower: number; readonly upper: number };
  /** Unpooled standard error of p_t − p_c (the interval's). */
  readonly standardError: number;
  /** (p_t − p_c) / pooled standard error; null when that error is 0 (both rates 0, or both 1). */
  readonly z: number | null;
  /** Two-sided p-value of the two-proportion z-test (pooled); 1 when z is null. */
  readonly pValue: number;
}

function checkProportion(p: Proportion, what: string): void {
  if (!Number.isSafeInteger(p.users) || !Number.isSafeInteger(p.conversions) || p.users < 0 || p.conversions < 0 || p.conversions > p.users) {
    throw new RangeError(`${what}: conversions and users must be whole numbers with 0 ≤ conversions ≤ users, got ${p.conversions}/${p.users}`);
  }
}

/** conversions / users; null for no users. */
export const conversionRate = (p: Proportion): number | null => (p.users === 0 ? null : p.conversions / p.users);

/**
 * Compares a treatment's conversion rate with the control's: lift, its 95% interval
 * (unpooled standard error) and the two-proportion z-test (pooled standard error, two-sided).
 * null when either arm has no users.
 */
export function compareProportions(control: Proportion, treatment: Proportion): ProportionComparison | null {
  checkProportion(control, 'control');
  checkProportion(treatment, 'treatment');
  if (control.users === 0 || treatment.users === 0) return null;
  const pc = control.conversions / control.users, pt = treatment.conversions / treatment.users;
  const diff = pt - pc;
  const se = Math.sqrt((pt * (1 - pt)) / treatment.users + (pc * (1 - pc)) / control.users);
  const pooled = (control.conversions + treatment.conversions) / (control.users + treatment.users);
  const sePooled = Math.sqrt(pooled * (1 - pooled) * (1 / control.users + 1 / treatment.users));
  // A pooled error of 0 means both rates are 0 or both are 1: no difference to test.
  const z = sePooled > 0 ? diff / sePooled : null;
  return {
    absoluteLift: diff,
    relativeLift: pc === 0 ? null : diff / pc,
    ci95: { lower: diff - Z_95 * se, upper: diff + Z_95 * se },
    standardError: se,
    z,
    pValue: z === null ? 1 : normalTwoSidedP(z),
  };
}

export interface SampleRatioCheck {
  /** Σ (observed − expected)² / expected. */
  readonly chiSquare: number;
  /** Degrees of freedom: arms − 1. */
  readonly df: number;
  /** P(χ²_df ≥ chiSquare); null when there are no users yet. */
  readonly pValue: number | null;
  /** Users each arm should have had, from the total and the expected shares. */
  readonly expected: number[];
  /** pValue < threshold: the split is not what the weights say. */
  readonly mismatch: boolean;
}

/**
 * Sample ratio mismatch: a chi-square goodness-of-fit test of the users per arm against the
 * expected shares (any positive numbers; normalized here), with arms − 1 degrees of freedom.
 */
export function sampleRatioMismatch(observed: readonly number[], shares: readonly number[], threshold = SRM_P_THRESHOLD): SampleRatioCheck {
  if (observed.length !== shares.length || observed.length < 2) throw new RangeError('sampleRatioMismatch needs two or more arms, one share per arm');
  if (shares.some((s) => !(s > 0) || !Number.isFinite(s))) throw new RangeError('shares must be positive numbers');
  if (observed.some((o) => !Number.isSafeInteger(o) || o < 0)) throw new RangeError('observed counts must be whole numbers ≥ 0');
  const n = observed.reduce((a, b) => a + b, 0);
  const total = shares.reduce((a, b) => a + b, 0);
  const expected = shares.map((s) => (n * s) / total);
  const df = observed.length - 1;
  if (n === 0) return { chiSquare: 0, df, pValue: null, expected, mismatch: false };
  const chiSquare = observed.reduce((acc, o, i) => acc + (o - expected[i]!) ** 2 / expected[i]!, 0);
  const pValue = chiSquareSf(chiSquare, df);
  return { chiSquare, df, pValue, expected, mismatch: pValue < threshold };
}
