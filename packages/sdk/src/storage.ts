/** Where the SDK keeps its ids: first-party, so they survive reloads and visits. */
export interface KeyValue {
  get(key: string): string | null;
  set(key: string, value: string): void;
  remove(key: string): void;
}

/** localStorage when the page may use it (it throws in some private modes and sandboxed frames). */
export function localStorageOrNull(): Storage | null {
  try {
    const s = window.localStorage;
    const probe = '__strata_probe__';
    s.setItem(probe, '1');
    s.removeItem(probe);
    return s;
  } catch {
    return null;
  }
}

const YEAR = 365 * 24 * 3600;

/** A first-party cookie store, for browsers where localStorage is unavailable. */
export function cookieStore(doc: Document, domain?: string): KeyValue {
  const attrs = (maxAge: number) => `; path=/; max-age=${maxAge}; SameSite=Lax${domain ? `; domain=${domain}` : ''}${location.protocol === 'https:' ? '; Secure' : ''}`;
  return {
    get(key) {
      for (const part of doc.cookie.split('; ')) {
        const i = part.indexOf('=');
        if (part.slice(0, i) === key) return decodeURIComponent(part.slice(i + 1));
      }
      return null;
    },
    set(key, value) {
      doc.cookie = `${key}=${encodeURIComponent(value)}${attrs(YEAR)}`;
    },
    remove(key) {
      doc.cookie = `${key}=${attrs(0)}`;
    },
  };
}

/** localStorage with a cookie fallback; memory when neither can be written. */
export function idStore(storage: Storage | null, doc: Document | null, cookieDomain?: string): KeyValue {
  if (storage) return { get: (k) => storage.getItem(k), set: (k, v) => storage.setItem(k, v), remove: (k) => storage.removeItem(k) };
  if (doc) {
    const c = cookieStore(doc, cookieDomain);
    c.set('__strata_probe__', '1');
    if (c.get('__strata_probe__') === '1') {
      c.remove('__strata_probe__');
      return c;
    }
  }
  const m = new Map<string, string>();
  return { get: (k) => m.get(k) ?? null, set: (k, v) => void m.set(k, v), remove: (k) => void m.delete(k) };
}

/** A v4 UUID: crypto.randomUUID where the page is a secure context, getRandomValues elsewhere. */
export function uuid(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
