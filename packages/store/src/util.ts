/** Rows per multi-row statement. */
export const CHUNK = 500;

/** JSON columns are text on SQLite and jsonb (parsed by the driver) on PostgreSQL. */
export const readJson = <T>(v: unknown, fallback: T): T => {
  if (v === null || v === undefined) return fallback;
  return (typeof v === 'string' ? JSON.parse(v) : v) as T;
};

export function chunks<T>(xs: readonly T[], n = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
