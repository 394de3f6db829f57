import { generateBatches } from './packages/datagen/src/index.ts';
const t0 = performance.now(); let n = 0, maxHeap = 0, b = 0;
for (const batch of generateBatches({ seed: 1, users: 1_000_000, end: Date.UTC(2025, 11, 15) }, 400)) { n += batch.length; if ((++b & 1023) === 0) maxHeap = Math.max(maxHeap, process.memoryUsage().heapUsed); }
const dt = (performance.now() - t0) / 1000;
console.log(`1M users: ${n} msgs in ${dt.toFixed(1)}s = ${(n / dt / 1e6).toFixed(2)}M msg/s, max heap ${(maxHeap / 1e6).toFixed(0)}MB`);
