/** A Segment-spec message as the SDK builds it. */
export interface Message {
  readonly type: 'identify' | 'track' | 'page';
  readonly messageId: string;
  readonly timestamp: string;
  readonly [key: string]: unknown;
}

export interface QueueLimits {
  /** Oldest messages are dropped past this many (a page offline for days must not fill storage). */
  readonly maxItems: number;
  /** Messages older than this (ms) are dropped when a page loads the queue. */
  readonly maxAge: number;
}

export const DEFAULT_LIMITS: QueueLimits = { maxItems: 500, maxAge: 7 * 24 * 3600_000 };

const encoder = new TextEncoder();
/** UTF-8 size of a value's JSON, what the server counts. */
export const jsonBytes = (v: unknown): number => encoder.encode(JSON.stringify(v)).length;

/**
 * The messages not yet acknowledged by the server, mirrored in `storage` (localStorage) so that
 * they survive a reload, a crash or days offline. Several tabs share the key: a write merges what
 * other tabs stored (minus what this tab saw acknowledged), so no tab erases another's messages.
 * A message may therefore be sent twice (two tabs, or a beacon then a retry): the server
 * de-duplicates by messageId.
 */
export class PersistentQueue {
  items: Message[] = [];
  private readonly acked = new Set<string>();

  constructor(
    private readonly storage: Storage | null,
    private readonly key: string,
    private readonly limits: QueueLimits = DEFAULT_LIMITS,
    private readonly now: () => number = Date.now,
  ) {
    this.items = this.trim(this.read());
  }

  get size(): number {
    return this.items.length;
  }

  push(m: Message): void {
    this.items.push(m);
    this.items = this.trim(this.items);
    this.persist();
  }

  /** The oldest messages that fit in `maxBytes` (at least one) and `maxItems`. */
  take(maxItems: number, maxBytes: number): Message[] {
    const out: Message[] = [];
    let bytes = 0;
    for (const m of this.items) {
      const b = jsonBytes(m) + 1;
      if (out.length >= maxItems || (out.length > 0 && bytes + b > maxBytes)) break;
      out.push(m);
      bytes += b;
    }
    return out;
  }

  /** Forgets messages the server has answered for (stored, or refused for good). */
  ack(ids: readonly string[]): void {
    for (const id of ids) this.acked.add(id);
    // Remember only recent ids: enough to keep another tab's stale copy from coming back.
    if (this.acked.size > 2000) for (const id of [...this.acked].slice(0, 1000)) this.acked.delete(id);
    this.items = this.items.filter((m) => !this.acked.has(m.messageId));
    this.persist();
  }

  private read(): Message[] {
    try {
      const raw = this.storage?.getItem(this.key);
      const v: unknown = raw ? JSON.parse(raw) : [];
      return Array.isArray(v) ? v.filter((m): m is Message => typeof m === 'object' && m !== null && typeof m.messageId === 'string') : [];
    } catch {
      return [];
    }
  }

  private trim(items: Message[]): Message[] {
    const oldest = this.now() - this.limits.maxAge;
    const fresh = items.filter((m) => !(Date.parse(m.timestamp) < oldest));
    return fresh.length > this.limits.maxItems ? fresh.slice(fresh.length - this.limits.maxItems) : fresh;
  }

  private persist(): void {
    if (!this.storage) return;
    const mine = new Set(this.items.map((m) => m.messageId));
    const others = this.read().filter((m) => !mine.has(m.messageId) && !this.acked.has(m.messageId));
    const all = this.trim([...others, ...this.items]);
    try {
      if (all.length) this.storage.setItem(this.key, JSON.stringify(all));
      else this.storage.removeItem(this.key);
    } catch {
      // Quota exceeded or storage disabled: the messages stay in memory for this page.
    }
  }
}
