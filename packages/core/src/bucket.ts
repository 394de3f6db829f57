/** 32-bit FNV-1a over UTF-16 code units (GrowthBook's hash primitive). */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Bucket 0..9999 of an id under a salt: GrowthBook v2 hashing, as docs/reference.md §3 defines. */
export const bucketOf = (salt: string, id: string): number =>
  fnv1a32(String(fnv1a32(salt + id))) % 10000;
