import { backoffDelay, DEFAULT_RETRY, outcomeOf, type RetryOptions } from './backoff.ts';
import { browserOf, deviceTypeOf, osOf, parseCampaign } from './context.ts';
import { PersistentQueue, jsonBytes, type Message } from './queue.ts';
import { idStore, localStorageOrNull, uuid, type KeyValue } from './storage.ts';
import { VERSION } from './version.ts';

export interface StrataConfig {
  /** The project's write key (public). */
  readonly writeKey: string;
  /** Where Strata is, e.g. `https://strata.example.com` (default: this page's origin). */
  readonly apiHost?: string;
  /** Send a page view on load and on every History API navigation (default true). */
  readonly autoPage?: boolean;
  /** Send when this many messages are queued (default 20). */
  readonly flushAt?: number;
  /** Send queued messages at most this long (ms) after the first was queued (default 1000). */
  readonly flushInterval?: number;
  /** Retry delays: `base` doubles per attempt up to `max` (ms; default 1 s to 60 s). */
  readonly retry?: Partial<RetryOptions>;
  /** hex(HMAC-SHA256(secret, userId)) from your backend, where identity verification is on. */
  readonly userHash?: string;
  /** Prefix of the storage keys (default `strata_`). */
  readonly storagePrefix?: string;
  /** Domain of the fallback cookie, e.g. `.example.com` to share ids across subdomains. */
  readonly cookieDomain?: string;
}

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type Properties = Record<string, unknown>;

/** `GET /v1/targeting`: what this user may see now (docs/targeting.md). */
export interface Targeting {
  userId: string | null;
  anonymousId: string | null;
  known: boolean;
  /** null unless the project lets the page read the user's segments (docs/targeting.md § Privacy). */
  segments: { id: string; name: string }[] | null;
  points: number;
  missions: Record<string, unknown>[];
  rewards: Record<string, unknown>[];
  experiences: { key: string; variant: string; payload: Json }[];
}

export interface Experience { variant: string; payload: Json }

const BATCH_BYTES = 400_000; // the server takes 500 KB
const BEACON_BYTES = 60_000; // browsers cap a beacon's body near 64 KB

/** The Strata browser client: Segment-spec identify, track and page, batched and persisted. */
export class Strata {
  readonly version = VERSION;
  private readonly host: string;
  private readonly queue: PersistentQueue;
  private readonly ids: KeyValue;
  private readonly prefix: string;
  private readonly retry: RetryOptions;
  private anonId: string;
  private uid: string | null;
  private hash: string | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private sending: Promise<void> | null = null;
  private lastUrl = '';
  private referrer = document.referrer;
  private cached: Promise<Targeting> | null = null;
  private readonly shown = new Set<string>();
  private readonly beaconed = new Set<string>();

  constructor(readonly config: StrataConfig) {
    this.host = (config.apiHost ?? location.origin).replace(/\/+$/, '');
    this.prefix = config.storagePrefix ?? 'strata_';
    this.retry = { ...DEFAULT_RETRY, ...config.retry };
    const storage = localStorageOrNull();
    this.ids = idStore(storage, document, config.cookieDomain);
    this.queue = new PersistentQueue(storage, `${this.prefix}queue`);
    this.anonId = this.ids.get(`${this.prefix}anonymous_id`) ?? this.newAnonymousId();
    this.uid = this.ids.get(`${this.prefix}user_id`);
    this.hash = config.userHash;

    addEventListener('online', () => this.flushNow());
    addEventListener('pagehide', () => this.beacon());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') this.beacon();
    });
    if (config.autoPage !== false) {
      // After the calls made right after loading (a queued identify), so the first page view carries them.
      queueMicrotask(() => this.page());
      this.watchHistory();
    }
    // What an earlier page could not send.
    if (this.queue.size) this.schedule(0);
  }

  /** Ties this browser to a known user (and merges its anonymous profile into them); traits merge per key. */
  identify(userId?: string | null, traits: Properties = {}, options: { userHash?: string } = {}): void {
    if (userId) {
      if (userId !== this.uid) this.cached = null;
      this.uid = String(userId);
      this.ids.set(`${this.prefix}user_id`, this.uid);
    }
    if (options.userHash && options.userHash !== this.hash) {
      this.hash = options.userHash;
      this.cached = null;
    }
    this.enqueue({ type: 'identify', traits });
  }

  /** Records an event. */
  track(event: string, properties: Properties = {}): void {
    this.enqueue({ type: 'track', event, properties });
  }

  /** Records a page view (automatic unless `autoPage: false`); `name` is optional. */
  page(name?: string | Properties, properties: Properties = {}): void {
    if (typeof name === 'object') [name, properties] = [undefined, name];
    const p = this.pageContext();
    this.enqueue({ type: 'page', ...(name ? { name } : {}), properties: { ...p, ...(name ? { name } : {}), ...properties } });
  }

  /** Forgets the user (on sign-out): a new anonymous id, no userId, no userHash. */
  reset(): void {
    this.uid = null;
    this.hash = undefined;
    this.cached = null;
    this.ids.remove(`${this.prefix}user_id`);
    this.newAnonymousId();
  }

  /** The ids messages are sent with. */
  user(): { userId: string | null; anonymousId: string } {
    return { userId: this.uid, anonymousId: this.anonId };
  }

  /** Sends what is queued now; resolves when the server has answered (or a retry is scheduled). */
  flush(): Promise<void> {
    if (!this.sending) this.sending = this.drain().finally(() => (this.sending = null));
    return this.sending;
  }

  /** The missions, rewards and experiences this user may see now (rejects when Strata cannot be reached). */
  async targeting(): Promise<Targeting> {
    const q = new URLSearchParams({ writeKey: this.config.writeKey });
    if (this.uid) q.set('userId', this.uid);
    else q.set('anonymousId', this.anonId);
    if (this.uid && this.hash) q.set('userHash', this.hash);
    const r = await fetch(`${this.host}/v1/targeting?${q}`, { credentials: 'omit' });
    if (!r.ok) throw new Error(`strata: targeting answered ${r.status}`);
    return (await r.json()) as Targeting;
  }

  /**
   * The variant and payload of experience `key` for this user, null when none is served (or Strata
   * cannot be reached). Records `$experience_viewed` once per page and variant: call it when you show it.
   */
  async experience(key: string): Promise<Experience | null> {
    const pending = (this.cached ??= this.targeting());
    let t: Targeting;
    try {
      t = await pending;
    } catch (e) {
      if (this.cached === pending) this.cached = null;
      console.warn(String(e));
      return null;
    }
    const x = t.experiences.find((e) => e.key === key);
    if (!x) return null;
    if (!this.shown.has(`${key}\n${x.variant}`)) {
      this.shown.add(`${key}\n${x.variant}`);
      this.track('$experience_viewed', { experience: key, variant: x.variant });
    }
    return { variant: x.variant, payload: x.payload };
  }

  private newAnonymousId(): string {
    this.anonId = uuid();
    this.ids.set(`${this.prefix}anonymous_id`, this.anonId);
    return this.anonId;
  }

  private pageContext() {
    return { path: location.pathname, referrer: this.referrer, search: location.search, title: document.title, url: location.href };
  }

  private context(): Properties {
    const ua = navigator.userAgent;
    const campaign = parseCampaign(location.search);
    const os = osOf(ua);
    const browser = browserOf(ua);
    let timezone: string | undefined;
    try {
      timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch {
      // Old engines: no time zone.
    }
    return {
      library: { name: 'strata-sdk', version: VERSION },
      page: this.pageContext(),
      ...(campaign ? { campaign } : {}),
      locale: navigator.language,
      ...(timezone ? { timezone } : {}),
      screen: { width: screen.width, height: screen.height, density: devicePixelRatio },
      userAgent: ua,
      device: { type: deviceTypeOf(ua) },
      ...(os ? { os } : {}),
      ...(browser ? { browser } : {}),
    };
  }

  private enqueue(body: Properties & { type: Message['type'] }): void {
    const m: Message = {
      ...body,
      messageId: uuid(),
      timestamp: new Date().toISOString(),
      anonymousId: this.anonId,
      ...(this.uid ? { userId: this.uid } : {}),
      context: this.context(),
    };
    this.queue.push(m);
    if (this.queue.size >= (this.config.flushAt ?? 20) && this.attempt === 0) this.flushNow();
    else this.schedule(this.config.flushInterval ?? 1000);
  }

  private schedule(delay: number): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delay);
  }

  private flushNow(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.attempt = 0;
    void this.flush();
  }

  private body(batch: Message[]): string {
    return JSON.stringify({ batch, sentAt: new Date().toISOString(), writeKey: this.config.writeKey });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const batch = this.queue.take(100, BATCH_BYTES);
      if (!batch.length) return;
      let status = 0;
      let retryAfter: number | undefined;
      try {
        // text/plain and the key in the body: a "simple" request, no CORS preflight.
        const r = await fetch(`${this.host}/v1/b`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: this.body(batch), credentials: 'omit' });
        status = r.status;
        retryAfter = Number(r.headers.get('Retry-After')) || undefined;
      } catch {
        // Offline, DNS, refused connection: status 0, retried.
      }
      const outcome = outcomeOf(status);
      if (outcome === 'retry') {
        this.attempt++;
        clearTimeout(this.timer);
        this.timer = undefined;
        this.schedule(backoffDelay(this.attempt, this.retry, Math.random, retryAfter));
        return;
      }
      if (outcome === 'drop') console.warn(`strata: the server refused ${batch.length} message(s) with status ${status}; they are dropped`);
      this.attempt = 0;
      this.queue.ack(batch.map((m) => m.messageId));
    }
  }

  /**
   * The page is going away (or may be killed in the background): hand what is queued to the
   * browser, which sends it even after the page is gone. Messages stay queued until acknowledged,
   * so a lost beacon is resent by the next page; the server drops the duplicate by messageId.
   */
  private beacon(): void {
    if (typeof navigator.sendBeacon !== 'function') return;
    let chunk: Message[] = [];
    let bytes = 0;
    const send = () => {
      if (chunk.length && navigator.sendBeacon(`${this.host}/v1/b`, new Blob([this.body(chunk)], { type: 'text/plain' }))) {
        for (const m of chunk) this.beaconed.add(m.messageId);
      }
      chunk = [];
      bytes = 0;
    };
    for (const m of this.queue.items) {
      if (this.beaconed.has(m.messageId)) continue;
      const b = jsonBytes(m) + 1;
      if (bytes + b > BEACON_BYTES - 200) send();
      if (b <= BEACON_BYTES - 200) {
        chunk.push(m);
        bytes += b;
      }
    }
    send();
  }

  private watchHistory(): void {
    this.lastUrl = location.pathname + location.search;
    const changed = () => {
      const url = location.pathname + location.search;
      if (url === this.lastUrl) return;
      this.referrer = `${location.origin}${this.lastUrl}`;
      this.lastUrl = url;
      // Frameworks set the new title just after navigating.
      setTimeout(() => this.page(), 0);
    };
    for (const name of ['pushState', 'replaceState'] as const) {
      const original = history[name];
      history[name] = function (this: History, ...args: Parameters<History['pushState']>) {
        const r = original.apply(this, args);
        changed();
        return r;
      };
    }
    addEventListener('popstate', changed);
  }
}

/** Creates the client (browser only); it sends the first page view on its own unless `autoPage: false`. */
export function createStrata(config: StrataConfig): Strata {
  return new Strata(config);
}
