/**
 * Worker: generates Segment batches and posts them to /v1/batch with a few requests in flight.
 *
 * `order` is the order each user's messages arrive in:
 * - `users` — the generator's: one user's messages after the other's, in time order;
 * - `time` — `window` users at a time, their messages interleaved and sent in timestamp order
 *   (live traffic: every event is the latest of its user);
 * - `shuffled` — the same windows, their messages in a seeded random order: most events of a
 *   user arrive after a later one of the same user (offline queues flushed late, backfills);
 * - `reversed` — the same windows, newest first (a backfill paging back in time): every event
 *   but each user's latest arrives after a later one, in the batches `time` sends, reversed.
 * `time`, `shuffled` and `reversed` put the same users in the same windows' reach. `reversed`
 * differs from `time` only in time order; `shuffled` also spreads each batch over more users
 * (time order groups a user's visit into one or two batches). It answers with the events sent,
 * the requests not accepted, the time taken and each request's send and answer instants.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Rng, generateBatches, generateUsers, type SegmentMessage } from '@strata/datagen';

export type IngestOrder = 'users' | 'time' | 'shuffled' | 'reversed';
export interface IngestClientData { url: string; writeKey: string; users: number; end: number; concurrency: number; order: IngestOrder; window: number }

const { url, writeKey, users, end, concurrency, order, window } = workerData as IngestClientData;
const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
const SIZE = 400;

function* windowed(): Generator<SegmentMessage[]> {
  const rng = new Rng(7, window);
  let pending: SegmentMessage[] = [];
  let inWindow = 0;
  const flush = function* (): Generator<SegmentMessage[]> {
    if (order === 'time') pending.sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
    else if (order === 'reversed') pending.sort((a, b) => Date.parse(b.timestamp) - Date.parse(a.timestamp));
    else for (let i = pending.length - 1; i > 0; i--) { const j = rng.int(0, i); [pending[i], pending[j]] = [pending[j]!, pending[i]!]; }
    for (let i = 0; i < pending.length; i += SIZE) yield pending.slice(i, i + SIZE);
    pending = [];
    inWindow = 0;
  };
  for (const u of generateUsers({ seed: 11, users, end })) {
    pending.push(...u.messages);
    if (++inWindow === window) yield* flush();
  }
  if (pending.length) yield* flush();
}

const batches = order === 'users' ? generateBatches({ seed: 11, users, end }, SIZE) : windowed();
let events = 0;
let failed = 0;
/** Per request: sent and answered (ms since the epoch, comparable across threads) and its events, three numbers each. */
const timings: number[] = [];
const clock = () => performance.timeOrigin + performance.now();
const started = performance.now();
async function lane(): Promise<void> {
  for (;;) {
    const next = batches.next();
    if (next.done) return;
    const body = JSON.stringify({ batch: next.value });
    const sent = clock();
    const r = await fetch(url, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body });
    if (r.status !== 200) failed++;
    await r.arrayBuffer();
    timings.push(sent, clock(), next.value.length);
    events += next.value.length;
  }
}
await Promise.all(Array.from({ length: concurrency }, lane));
parentPort!.postMessage({ events, failed, ms: performance.now() - started, timings });
