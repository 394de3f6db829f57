import { generateUsers } from './packages/datagen/src/index.ts';
const end = Date.UTC(2025, 11, 15);
let shown = 0; let buyers = 0, withCart = 0, withCheckout = 0, purch = 0;
for (const u of generateUsers({ seed: 7, users: 10000, end })) {
  if (u.meta.buyer !== 'buyer') continue;
  buyers++;
  const ev = u.messages.map((m) => m.event ?? (m.type === 'identify' ? 'ID' : (m.properties as any)?.path ?? m.name));
  if (ev.includes('add_to_cart')) withCart++;
  if (ev.includes('/checkout') || ev.includes('Checkout')) withCheckout++;
  if (ev.includes('purchase')) purch++;
  if (u.messages.length >= 10 && !ev.includes('purchase') && shown++ < 4) console.log(u.messages.length, ev.join(' > '));
}
console.log({ buyers, withCart, withCheckout, purch });
