import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';

/** The heap's use against its limit (`--max-old-space-size`, or V8's default for the machine). */
export interface HeapFigures {
  readonly usedBytes: number;
  readonly limitBytes: number;
  readonly ratio: number;
}

export function heapFigures(): HeapFigures {
  const h = getHeapStatistics();
  return { usedBytes: h.used_heap_size, limitBytes: h.heap_size_limit, ratio: h.used_heap_size / h.heap_size_limit };
}

/**
 * The process's resident memory against what it may use: the container's (cgroup's) limit
 * when one is set, else the machine's memory. The engine's typed arrays live outside the V8
 * heap, so this, not the heap limit, is what a large engine runs out of.
 */
export interface MemoryFigures {
  readonly rssBytes: number;
  readonly limitBytes: number;
  /** Where the limit comes from. */
  readonly limitOf: 'container' | 'machine';
  readonly ratio: number;
}

/**
 * The memory a process may use: `constrained` (process.constrainedMemory(): 0 or undefined when
 * unknown, and 2⁶⁴ under a cgroup without a limit) when it is set and below the machine's `total`.
 */
export function memoryLimit(constrained: number | undefined, total: number): { bytes: number; of: 'container' | 'machine' } {
  return constrained && constrained > 0 && constrained < total ? { bytes: constrained, of: 'container' } : { bytes: total, of: 'machine' };
}

export function memoryFigures(): MemoryFigures {
  const rss = process.memoryUsage.rss();
  const limit = memoryLimit(process.constrainedMemory?.(), totalmem());
  return { rssBytes: rss, limitBytes: limit.bytes, limitOf: limit.of, ratio: rss / limit.bytes };
}

export interface HeapWatchOptions {
  /** Warn when the heap's (or the process's memory's) use reaches this share of its limit (default 0.8)… */
  readonly warnAt?: number;
  /** …and again only after it has fallen below this share (default 0.7). */
  readonly clearAt?: number;
  readonly everyMs?: number;
  /** The heap's figures (the process's own by default). */
  readonly read?: () => HeapFigures;
  /** The process's memory figures (its own by default). */
  readonly readMemory?: () => MemoryFigures;
}

type Log = { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };

/**
 * Warns in the log, once per crossing, when the heap nears its limit or the process's resident
 * memory nears what it may use — long before V8 runs out or the system kills the process (the
 * live engine holds every profile in memory, most of it in typed arrays outside the heap:
 * docs/operations.md § Memory). `profiles()` gives the engine's profile count, for the bytes
 * per profile in the lines. Returns the function that stops it; it never keeps the process alive.
 */
export function watchHeap(log: Log, profiles: () => number, opts: HeapWatchOptions = {}): { check(): void; stop(): void } {
  const warnAt = opts.warnAt ?? 0.8, clearAt = opts.clearAt ?? 0.7;
  const read = opts.read ?? heapFigures, readMemory = opts.readMemory ?? memoryFigures;
  const perProfile = (bytes: number) => { const n = profiles(); return { profiles: n, perProfile: n ? Math.round(bytes / n) : null }; };
  const heap = crossing(warnAt, clearAt, read, (h) => {
    const { profiles: n, perProfile: per } = perProfile(h.usedBytes);
    log.warn(
      { heapUsedBytes: h.usedBytes, heapLimitBytes: h.limitBytes, profiles: n, heapBytesPerProfile: per },
      `the heap holds ${pct(h.ratio)} of its limit (${mib(h.usedBytes)} of ${mib(h.limitBytes)} MiB); raise --max-old-space-size or give Strata fewer profiles per process before it runs out (docs/operations.md § Memory)`,
    );
  }, (h) => log.info({ heapUsedBytes: h.usedBytes, heapLimitBytes: h.limitBytes }, `the heap is back to ${pct(h.ratio)} of its limit`));
  const memory = crossing(warnAt, clearAt, readMemory, (m) => {
    const { profiles: n, perProfile: per } = perProfile(m.rssBytes);
    const limit = m.limitOf === 'container' ? 'the container\'s memory limit' : 'the machine\'s memory';
    log.warn(
      { rssBytes: m.rssBytes, memoryLimitBytes: m.limitBytes, memoryLimitOf: m.limitOf, profiles: n, rssBytesPerProfile: per },
      `the process holds ${pct(m.ratio)} of ${limit} (${mib(m.rssBytes)} of ${mib(m.limitBytes)} MiB resident); the engine's columns are outside the heap and its limit: give Strata more memory or fewer profiles per process before the system stops it (docs/operations.md § Memory)`,
    );
  }, (m) => log.info({ rssBytes: m.rssBytes, memoryLimitBytes: m.limitBytes }, `the process's memory is back to ${pct(m.ratio)} of its limit`));
  const check = () => {
    heap();
    memory();
  };
  const timer = setInterval(check, opts.everyMs ?? 10_000);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}

/** A check that calls `warn` when the figures' ratio reaches `warnAt`, then `clear` only once it has fallen below `clearAt`. */
function crossing<F extends { readonly ratio: number }>(warnAt: number, clearAt: number, read: () => F, warn: (f: F) => void, clear: (f: F) => void): () => void {
  let warned = false;
  return () => {
    const f = read();
    if (!warned && f.ratio >= warnAt) {
      warned = true;
      warn(f);
    } else if (warned && f.ratio < clearAt) {
      warned = false;
      clear(f);
    }
  };
}

const pct = (r: number) => `${Math.round(r * 100)}%`;
const mib = (b: number) => Math.round(b / 2 ** 20);
