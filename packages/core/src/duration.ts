const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DURATION = /^([1-9][0-9]{0,5})([mhdw])$/;

/** Milliseconds of a Duration (`"30d"`), or null when it is not one. */
export function parseDuration(s: unknown): number | null {
  if (typeof s !== 'string') return null;
  const m = DURATION.exec(s);
  if (!m) return null;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

export const DAY_MS = UNIT_MS.d;
export const HOUR_MS = UNIT_MS.h;
export const MINUTE_MS = UNIT_MS.m;
