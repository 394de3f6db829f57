/** The admin API client: Bearer token from sessionStorage; a 401 signs out. */

const KEY = 'strata.adminToken';

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly issues: { path: string; message: string }[] = []) {
    super(message);
  }
}

let onUnauthorized: (message: string) => void = () => {};
export function setUnauthorizedHandler(fn: (message: string) => void): void {
  onUnauthorized = fn;
}

export const token = {
  get: (): string | null => sessionStorage.getItem(KEY),
  set: (t: string): void => sessionStorage.setItem(KEY, t),
  clear: (): void => sessionStorage.removeItem(KEY),
};

/** Calls the API and returns the parsed JSON body (null for 204); throws ApiError otherwise. */
export async function api<T = any>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown, tok = token.get()): Promise<T> {
  const headers: Record<string, string> = {};
  if (tok) headers.authorization = `Bearer ${tok}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'NETWORK', `network error: ${(e as Error).message}`);
  }
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const err = json?.error ?? {};
    const e = new ApiError(res.status, err.code ?? `HTTP_${res.status}`, err.message ?? (text.slice(0, 200) || res.statusText), err.issues ?? []);
    // Only the session's own token being refused signs out: a token being tried at sign-in
    // is the sign-in form's error, shown once there.
    if (res.status === 401 && tok !== null && tok === token.get()) {
      token.clear();
      onUnauthorized(e.message || 'Your session has ended: sign in again.');
    }
    throw e;
  }
  return json as T;
}

export const enc = encodeURIComponent;

/** Builds a query string from defined values. */
export function qs(params: Record<string, string | number | null | undefined>): string {
  const parts = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => `${enc(k)}=${enc(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

/**
 * Sends `body` (a File) as the raw request body with XMLHttpRequest, which (unlike fetch) reports
 * upload progress. Resolves with the parsed JSON answer; throws ApiError like `api`.
 */
export function upload<T = any>(path: string, body: Blob, contentType: string, onProgress: (sent: number, total: number) => void, onSent?: () => void): { promise: Promise<T>; abort: () => void } {
  const xhr = new XMLHttpRequest();
  const promise = new Promise<T>((resolve, reject) => {
    xhr.open('POST', path);
    const tok = token.get();
    if (tok) xhr.setRequestHeader('authorization', `Bearer ${tok}`);
    xhr.setRequestHeader('content-type', contentType);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : body.size);
    xhr.upload.onload = () => {
      onProgress(body.size, body.size);
      onSent?.();
    };
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'network error: the upload did not reach the server'));
    xhr.onabort = () => reject(new ApiError(0, 'ABORTED', 'the upload was cancelled'));
    xhr.onload = () => {
      const text = xhr.responseText;
      let json: any = null;
      try {
        json = text ? JSON.parse(text) : null;
      } catch {
        json = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(json as T);
      const err = json?.error ?? {};
      const e = new ApiError(xhr.status, err.code ?? `HTTP_${xhr.status}`, err.message ?? (text.slice(0, 200) || xhr.statusText), err.issues ?? []);
      if (xhr.status === 401) {
        token.clear();
        onUnauthorized(e.message || 'Your session has ended: sign in again.');
      }
      reject(e);
    };
    xhr.send(body);
  });
  return { promise, abort: () => xhr.abort() };
}

/** Downloads what an admin GET answers (e.g. a segment's CSV export) as a file, with the token. */
export async function apiDownload(path: string, name: string, tok = token.get()): Promise<void> {
  const res = await fetch(path, { headers: tok ? { authorization: `Bearer ${tok}` } : {} });
  if (!res.ok) {
    let message = `HTTP ${res.status}`;
    try { message = ((await res.json()) as { error?: { message?: string } }).error?.message ?? message; } catch { /* not JSON */ }
    throw new ApiError(res.status, 'DOWNLOAD_FAILED', message);
  }
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
