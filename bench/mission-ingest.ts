/**
 * What the mission qualification rule costs ingest (docs/missions.md, "Who may take part"):
 * the same generated /v1/batch requests, sent one at a time in process (`app.inject`, embedded
 * SQLite) into a project with the cart-abandonment segment and
 *   - no mission (the baseline),
 *   - a checkout mission targeted at the segment (its `purchase` events are applied one at a time),
 *   - a mission targeted at the segment counting `"*"` (every event is applied alone),
 * each in a fresh store. Prints events/s and the ratio to the baseline.
 * Run: npx tsx bench/mission-ingest.ts [users]   (≈10 events per user)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateBatches } from '@strata/datagen';
import { buildApp, stopContext } from '@strata/server';
import { ADMIN, WRITE, benchContext } from './scale-data.ts';
import { runRow, table, timedRun, type TimedRun } from './lib.ts';

const users = Number(process.argv[2] ?? 3000);
const end = Date.now();
const batches = [...generateBatches({ seed: 11, users, end }, 400)].map((b) => JSON.stringify({ batch: b }));
const events = batches.reduce((n, b) => n + (JSON.parse(b).batch as unknown[]).length, 0);

async function run(goalEvent: string | null): Promise<{ run: TimedRun; paid: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-missions-'));
  const { store, ctx } = await benchContext(dir, end);
  await ctx.engine.start(0);
  const app = await buildApp(ctx);
  const admin = async (url: string, body: unknown) => {
    const r = await app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${ADMIN}` }, payload: body as object });
    if (r.statusCode !== 201) throw new Error(`${url}: ${r.statusCode} ${r.payload}`);
    return JSON.parse(r.payload) as { id: string };
  };
  const carts = await admin('/api/segments', { template: 'cart-abandonment' });
  if (goalEvent) {
    await admin('/api/missions', { name: 'Checkout', segmentIds: [carts.id], goal: { kind: 'count', event: goalEvent, target: 1 }, points: 10 });
    // The generated events lie in the past: as if the mission had run all along (its cache loads on the first request).
    await store.db.updateTable('missions').set({ created_at: 0 }).execute();
  }
  try {
    const r = await timedRun(async () => {
      for (const payload of batches) {
        const res = await app.inject({ method: 'POST', url: '/v1/batch', headers: { 'x-write-key': WRITE, 'content-type': 'application/json' }, payload });
        if (res.statusCode !== 200) throw new Error(`batch: ${res.statusCode} ${res.payload}`);
      }
    });
    const paid = Number((await store.db.selectFrom('mission_completions').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst())?.n ?? 0);
    return { run: r, paid };
  } finally {
    await app.close();
    await stopContext(ctx);
    rmSync(dir, { recursive: true, force: true });
  }
}

await run(null); // warm-up: the first run in a process pays for compiling the code paths
const base = await run(null);
const checkout = await run('purchase');
const any = await run('*');
console.log(`${users} users, ${events} events in ${batches.length} requests of up to 400, one request at a time, embedded SQLite\n`);
table([
  ['run', 's', 'events/s', 'ratio', 'CPU s', 'RSS MB', 'peak MB', 'completions'],
  [...runRow('no mission (baseline)', base.run, base.run, events), String(base.paid)],
  [...runRow('checkout mission on purchase', checkout.run, base.run, events), String(checkout.paid)],
  [...runRow('mission on "*" (every event alone)', any.run, base.run, events), String(any.paid)],
]);
