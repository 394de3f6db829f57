/** Worker: generates Segment batches and posts them to /v1/batch with a few requests in flight. */
import { parentPort, workerData } from 'node:worker_threads';
import { generateBatches } from '@strata/datagen';

const { url, writeKey, users, end, concurrency } = workerData as { url: string; writeKey: string; users: number; end: number; concurrency: number };
const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
const batches = generateBatches({ seed: 11, users, end }, 400);
let events = 0;
let failed = 0;
const started = performance.now();
async function lane(): Promise<void> {
  for (;;) {
    const next = batches.next();
    if (next.done) return;
    const body = JSON.stringify({ batch: next.value });
    const r = await fetch(url, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body });
    if (r.status !== 200) failed++;
    await r.arrayBuffer();
    events += next.value.length;
  }
}
await Promise.all(Array.from({ length: concurrency }, lane));
parentPort!.postMessage({ events, failed, ms: performance.now() - started });
