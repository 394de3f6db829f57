import { Strata, type StrataConfig } from './client.ts';

/** What the loader snippet leaves in `window.strata` before this file arrives: calls to replay. */
type Stub = [method: keyof Strata, args: unknown[], resolve?: (v: unknown) => void][] & { config?: Partial<StrataConfig> };

declare global {
  interface Window { strata?: Strata | Stub }
}

// The `<script>` build: reads its settings from the loader snippet or from the tag's data attributes
// (`data-write-key`, `data-api-host`, `data-auto-page="false"`), then replays the calls made meanwhile.
const stub = window.strata;
// A second copy of this file on the page (two snippets) leaves the first client in charge.
if (!stub || Array.isArray(stub)) {
  const tag = document.currentScript as HTMLScriptElement | null;
  const data = tag?.dataset ?? {};
  const config: StrataConfig = {
    ...(Array.isArray(stub) ? stub.config : undefined),
    writeKey: (Array.isArray(stub) && stub.config?.writeKey) || data.writeKey || '',
    apiHost: (Array.isArray(stub) && stub.config?.apiHost) || data.apiHost || (tag?.src ? new URL(tag.src).origin : undefined),
    ...(data.autoPage === 'false' ? { autoPage: false } : {}),
  };
  if (!config.writeKey) console.warn('strata: no write key (set data-write-key on the script tag, or use the loader snippet)');
  const strata = new Strata(config);
  window.strata = strata;
  for (const [method, args, resolve] of Array.isArray(stub) ? stub : []) {
    const fn = strata[method];
    const r = typeof fn === 'function' ? (fn as (...a: unknown[]) => unknown).apply(strata, [...args]) : undefined;
    resolve?.(r);
  }
}
