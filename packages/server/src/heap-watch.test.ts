import { describe, expect, it } from 'vitest';
import { totalmem } from 'node:os';
import { heapFigures, memoryFigures, memoryLimit, watchHeap, type HeapFigures, type MemoryFigures } from './heap-watch.ts';

function fakeLog() {
  const lines: { level: 'warn' | 'info'; obj: Record<string, unknown>; msg: string }[] = [];
  return {
    lines,
    warn: (obj: object, msg: string) => lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
    info: (obj: object, msg: string) => lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
  };
}

describe('the heap watch', () => {
  it('warns once when the heap reaches 80% of its limit, again only after it fell below 70%', () => {
    const log = fakeLog();
    let used = 0;
    const limit = 1000 * 2 ** 20;
    const read = (): HeapFigures => ({ usedBytes: used, limitBytes: limit, ratio: used / limit });
    const quiet = (): MemoryFigures => ({ rssBytes: 1, limitBytes: 100, limitOf: 'machine', ratio: 0.01 });
    const w = watchHeap(log, () => 200_000, { read, readMemory: quiet, everyMs: 60_000 });
    try {
      for (const share of [0.5, 0.79, 0.8, 0.95, 0.75, 0.85, 0.69, 0.72, 0.81]) {
        used = share * limit;
        w.check();
      }
    } finally {
      w.stop();
    }
    expect(log.lines.map((l) => l.level)).toEqual(['warn', 'info', 'warn']);
    const first = log.lines[0]!;
    expect(first.msg).toContain('80% of its limit (800 of 1000 MiB)');
    expect(first.msg).toContain('--max-old-space-size');
    expect(first.obj).toEqual({ heapUsedBytes: 0.8 * limit, heapLimitBytes: limit, profiles: 200_000, heapBytesPerProfile: Math.round((0.8 * limit) / 200_000) });
    expect(log.lines[1]!.msg).toContain('back to 69%');
    expect(log.lines[2]!.msg).toContain('81%');
  });

  it('warns once when the resident memory reaches 80% of what the process may use (the heap far from its limit), again only after it fell below 70%', () => {
    const log = fakeLog();
    let rss = 0;
    const limit = 4096 * 2 ** 20;
    const readMemory = (): MemoryFigures => ({ rssBytes: rss, limitBytes: limit, limitOf: 'container', ratio: rss / limit });
    const read = (): HeapFigures => ({ usedBytes: 100, limitBytes: 1000, ratio: 0.1 });
    let profiles = 0;
    const w = watchHeap(log, () => profiles, { read, readMemory, everyMs: 60_000 });
    try {
      for (const [share, n] of [[0.3, 0], [0.79, 1_000_000], [0.8, 4_000_000], [0.9, 4_000_000], [0.7, 4_000_000], [0.69, 4_000_000], [0.85, 0]] as const) {
        rss = share * limit;
        profiles = n;
        w.check();
      }
    } finally {
      w.stop();
    }
    expect(log.lines.map((l) => l.level)).toEqual(['warn', 'info', 'warn']);
    const first = log.lines[0]!;
    expect(first.msg).toContain('80% of the container\'s memory limit (3277 of 4096 MiB resident)');
    expect(first.obj).toEqual({ rssBytes: 0.8 * limit, memoryLimitBytes: limit, memoryLimitOf: 'container', profiles: 4_000_000, rssBytesPerProfile: Math.round((0.8 * limit) / 4_000_000) });
    expect(log.lines[1]!.msg).toContain('back to 69%');
    // No profiles: no bytes per profile.
    expect(log.lines[2]!.obj).toMatchObject({ profiles: 0, rssBytesPerProfile: null });
  });

  it('takes a container\'s memory limit when one is set below the machine\'s memory, else the machine\'s', () => {
    const total = 16 * 2 ** 30;
    expect(memoryLimit(2 * 2 ** 30, total)).toEqual({ bytes: 2 * 2 ** 30, of: 'container' });
    // Unknown (0, or no such function), and a cgroup without a limit (2^64).
    expect(memoryLimit(0, total)).toEqual({ bytes: total, of: 'machine' });
    expect(memoryLimit(undefined, total)).toEqual({ bytes: total, of: 'machine' });
    expect(memoryLimit(2 ** 64, total)).toEqual({ bytes: total, of: 'machine' });
    const m = memoryFigures();
    expect(m.rssBytes).toBeGreaterThan(1e6);
    expect(m.limitBytes).toBeLessThanOrEqual(totalmem());
    expect(m.ratio).toBeCloseTo(m.rssBytes / m.limitBytes, 10);
  });

  it('reads the process heap against its limit', () => {
    const h = heapFigures();
    expect(h.usedBytes).toBeGreaterThan(1e6);
    expect(h.limitBytes).toBeGreaterThan(h.usedBytes);
    expect(h.ratio).toBeCloseTo(h.usedBytes / h.limitBytes, 10);
  });
});
