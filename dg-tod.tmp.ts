import { generateUsers } from './packages/datagen/src/index.ts';
import { TZ_OFFSET_HOURS } from './packages/datagen/src/catalog.ts';
const hours = new Array(24).fill(0);
for (const u of generateUsers({ seed: 3, users: 5000, end: Date.UTC(2025, 11, 15) })) {
  let prev = -Infinity;
  for (const m of u.messages) { const t = Date.parse(m.timestamp); if (t - prev > 30 * 60000) { const off = TZ_OFFSET_HOURS[m.context.timezone as string]; hours[Math.floor(((t / 3600000 + off) % 24 + 24) % 24)]++; } prev = t; }
}
console.log(hours.join(' '));
