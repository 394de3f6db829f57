import { describe, expect, it } from 'vitest';
import { heapFigures, watchHeap, type HeapFigures } from './heap-watch.ts';

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
    const w = watchHeap(log, () => 200_000, { read, everyMs: 60_000 });
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

  it('reads the process heap against its limit', () => {
    const h = heapFigures();
    expect(h.usedBytes).toBeGreaterThan(1e6);
    expect(h.limitBytes).toBeGreaterThan(h.usedBytes);
    expect(h.ratio).toBeCloseTo(h.usedBytes / h.limitBytes, 10);
  });
});
