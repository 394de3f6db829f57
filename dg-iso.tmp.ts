import { toIso, utcMonth } from './packages/datagen/src/time.ts';
let bad = 0;
for (let i = 0; i < 2e6; i++) {
  const ms = Math.floor((Math.random() * 2 - 0.9) * 1e13 * (i % 7 === 0 ? 25 : 1));
  if (Math.abs(ms) > 8.6e15 || ms < -62167219200000 || ms > 253402300799999) continue;
  if (toIso(ms) !== new Date(ms).toISOString() || utcMonth(ms) !== new Date(ms).getUTCMonth()) { if (bad++ < 5) console.log(ms, toIso(ms), new Date(ms).toISOString()); }
}
console.log('bad', bad);
