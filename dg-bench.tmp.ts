import { generateUsers, generateBatches } from './packages/datagen/src/index.ts';
const end = Date.UTC(2025, 11, 15);
const users = Number(process.argv[2] ?? 100000);
for (let r = 0; r < 3; r++) {
  const t0 = performance.now();
  let n = 0;
  for (const u of generateUsers({ seed: r, users, end })) n += u.messages.length;
  const dt = (performance.now() - t0) / 1000;
  console.log(`generateUsers: ${users} users, ${n} msgs in ${dt.toFixed(2)}s = ${(n / dt / 1e6).toFixed(2)}M msg/s; heap ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)}MB`);
}
const t0 = performance.now(); let n = 0;
for (const b of generateBatches({ seed: 9, users, end }, 400)) n += b.length;
const dt = (performance.now() - t0) / 1000;
console.log(`generateBatches(400): ${n} msgs in ${dt.toFixed(2)}s = ${(n / dt / 1e6).toFixed(2)}M msg/s`);
