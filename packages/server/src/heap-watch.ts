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

export interface HeapWatchOptions {
  /** Warn when the heap's use reaches this share of its limit (default 0.8)… */
  readonly warnAt?: number;
  /** …and again only after it has fallen below this share (default 0.7). */
  readonly clearAt?: number;
  readonly everyMs?: number;
  /** The heap's figures (the process's own by default). */
  readonly read?: () => HeapFigures;
}

/**
 * Warns in the log, once per crossing, when the heap nears its limit — long before V8 runs out
 * and the process dies (the live engine holds every profile in memory: docs/operations.md §
 * Memory). `profiles()` gives the engine's profile count, for the bytes per profile in the line.
 * Returns the function that stops it; it never keeps the process alive.
 */
export function watchHeap(
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void },
  profiles: () => number,
  opts: HeapWatchOptions = {},
): { check(): void; stop(): void } {
  const warnAt = opts.warnAt ?? 0.8, clearAt = opts.clearAt ?? 0.7;
  const read = opts.read ?? heapFigures;
  let warned = false;
  const check = () => {
    const h = read();
    if (!warned && h.ratio >= warnAt) {
      warned = true;
      const n = profiles();
      log.warn(
        { heapUsedBytes: h.usedBytes, heapLimitBytes: h.limitBytes, profiles: n, heapBytesPerProfile: n ? Math.round(h.usedBytes / n) : null },
        `the heap holds ${pct(h.ratio)} of its limit (${mib(h.usedBytes)} of ${mib(h.limitBytes)} MiB); raise --max-old-space-size or give Strata fewer profiles per process before it runs out (docs/operations.md § Memory)`,
      );
    } else if (warned && h.ratio < clearAt) {
      warned = false;
      log.info({ heapUsedBytes: h.usedBytes, heapLimitBytes: h.limitBytes }, `the heap is back to ${pct(h.ratio)} of its limit`);
    }
  };
  const timer = setInterval(check, opts.everyMs ?? 10_000);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}

const pct = (r: number) => `${Math.round(r * 100)}%`;
const mib = (b: number) => Math.round(b / 2 ** 20);
