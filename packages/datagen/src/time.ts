/** Time helpers: durations in milliseconds and a fast, exact ISO-8601 formatter. */

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

const P2: string[] = [];
for (let i = 0; i < 100; i++) P2.push(i < 10 ? `0${i}` : String(i));
const P3: string[] = [];
for (let i = 0; i < 1000; i++) P3.push(i < 10 ? `00${i}` : i < 100 ? `0${i}` : String(i));

interface DayInfo {
  /** 'YYYY-MM-DDT' */
  readonly prefix: string;
  /** 0 = January */
  readonly month: number;
}

const dayCache = new Map<number, DayInfo>();
let lastDay = Number.NaN;
let lastInfo: DayInfo = { prefix: '', month: 0 };

/** Civil date of a day number (days since 1970-01-01), Howard Hinnant's algorithm. */
function dayInfo(day: number): DayInfo {
  if (day === lastDay) return lastInfo;
  let info = dayCache.get(day);
  if (info !== undefined) {
    lastDay = day;
    lastInfo = info;
    return info;
  }
  const z = day + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  info = { prefix: `${String(y).padStart(4, '0')}-${P2[m]}-${P2[d]}T`, month: m - 1 };
  if (dayCache.size >= 8192) dayCache.clear();
  dayCache.set(day, info);
  lastDay = day;
  lastInfo = info;
  return info;
}

/**
 * Same result as `new Date(ms).toISOString()` for integer `ms` in years 0000–9999, without
 * going through Date (the date part is cached per UTC day).
 */
export function toIso(ms: number): string {
  const day = Math.floor(ms / DAY);
  const prefix = dayInfo(day).prefix;
  let r = ms - day * DAY;
  const h = (r / HOUR) | 0;
  r -= h * HOUR;
  const m = (r / MINUTE) | 0;
  r -= m * MINUTE;
  const s = (r / SECOND) | 0;
  r -= s * SECOND;
  return prefix + P2[h] + ':' + P2[m] + ':' + P2[s] + '.' + P3[r] + 'Z';
}

/** UTC month (0 = January) of an epoch-ms instant. */
export function utcMonth(ms: number): number {
  return dayInfo(Math.floor(ms / DAY)).month;
}
