/** Time helpers: durations in milliseconds and a fast, exact ISO-8601 formatter. */

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

const P2: string[] = [];
for (let i = 0; i < 100; i++) P2.push(i < 10 ? `0${i}` : String(i));
const P3: string[] = [];
for (let i = 0; i < 1000; i++) P3.push(i < 10 ? `00${i}` : i < 100 ? `0${i}` : String(i));

let cachedDay = Number.NaN;
let cachedPrefix = '';

/**
 * Same result as `new Date(ms).toISOString()` for integer `ms` in years 0000–9999, but the
 * date part is cached per UTC day (consecutive events of a user mostly share a day).
 */
export function toIso(ms: number): string {
  const day = Math.floor(ms / DAY);
  if (day !== cachedDay) {
    cachedDay = day;
    cachedPrefix = new Date(day * DAY).toISOString().slice(0, 11);
  }
  let r = ms - day * DAY;
  const h = (r / HOUR) | 0;
  r -= h * HOUR;
  const m = (r / MINUTE) | 0;
  r -= m * MINUTE;
  const s = (r / SECOND) | 0;
  r -= s * SECOND;
  return cachedPrefix + P2[h] + ':' + P2[m] + ':' + P2[s] + '.' + P3[r] + 'Z';
}

/** UTC month (0 = January) of an epoch-ms instant. */
export function utcMonth(ms: number): number {
  return new Date(ms).getUTCMonth();
}
