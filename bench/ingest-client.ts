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
 *   but each user's latest arrives after a later one, in the batches `time` sends, reversed;
 * - `spread` — the batches `shuffled` sends, each user's messages given back in time order over
 *   the places the shuffle gave them: every event is the latest of its user, as in `time`, but
 *   each batch reaches as many users as a shuffled one.
 * `time`, `shuffled`, `reversed` and `spread` put the same users in the same windows' reach.
 * `reversed` differs from `time` only in time order, and `shuffled` from `spread`; `shuffled`
 * and `spread` spread each batch over more users than `time` does (time order groups a user's
 * visit into one or two batches). It answers with the events sent,
 * the requests not accepted, the time taken and each request's send and answer instants.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Rng, generateBatches, generateUsers, type SegmentMessage } from '@strata/datagen';

export type IngestOrder = 'users' | 'time' | 'shuffled' | 'reversed' | 'spread';
/** `urls`: where the lanes send, lane k to `urls[k % urls.length]` (processes of the api role); absent, all to `url`. */
export interface IngestClientData { url: string; urls?: readonly string[]; writeKey: string; users: number; end: number; concurrency: number; order: IngestOrder; window: number }

const { url, urls, writeKey, users, end, concurrency, order, window } = workerData as IngestClientData;
const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
const SIZE = 400;

function* windowed(): Generator<SegmentMessage[]> {
  const rng = new Rng(7, window);
  let pending: SegmentMessage[] = [];
  // Each pending message's generated user (its place in the window).
  let owners: number[] = [];
  let inWindow = 0;
  const flush = function* (): Generator<SegmentMessage[]> {
    if (order === 'time') pending.sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
    else if (order === 'reversed') pending.sort((a, b) => Date.parse(b.timestamp) - Date.parse(a.timestamp));
    else {
      // The messages' places after a seeded shuffle (the same for `shuffled` and `spread`).
      const from = pending.map((_, i) => i);
      for (let i = from.length - 1; i > 0; i--) { const j = rng.int(0, i); [from[i], from[j]] = [from[j]!, from[i]!]; }
      if (order === 'spread') inTimeOverPlaces(pending, owners, from);
      pending = from.map((i) => pending[i]!);
    }
    for (let i = 0; i < pending.length; i += SIZE) yield pending.slice(i, i + SIZE);
    pending = [];
    owners = [];
    inWindow = 0;
  };
  for (const u of generateUsers({ seed: 11, users, end })) {
    for (const m of u.messages) { pending.push(m); owners.push(inWindow); }
    if (++inWindow === window) yield* flush();
  }
  if (pending.length) yield* flush();
}

/**
 * Rewrites `from` (place → index into `messages`) so that each user's messages, in time order
 * (ties in the order generated: an identify before its track), take the places the shuffle gave
 * that user's messages.
 */
function inTimeOverPlaces(messages: readonly SegmentMessage[], owners: readonly number[], from: number[]): void {
  const places = new Map<number, number[]>();
  from.forEach((i, place) => { const p = places.get(owners[i]!); if (p) p.push(place); else places.set(owners[i]!, [place]); });
  for (const at of places.values()) {
    const mine = at.map((place) => from[place]!).sort((a, b) => Date.parse(messages[a]!.timestamp) - Date.parse(messages[b]!.timestamp) || a - b);
    at.forEach((place, k) => { from[place] = mine[k]!; });
  }
}

const batches = order === 'users' ? generateBatches({ seed: 11, users, end }, SIZE) : windowed();
let events = 0;
let failed = 0;
/** Per request: sent and answered (ms since the epoch, comparable across threads) and its events, three numbers each. */
const timings: number[] = [];
const clock = () => performance.timeOrigin + performance.now();
const started = performance.now();
async function lane(k: number): Promise<void> {
  const to = urls?.length ? urls[k % urls.length]! : url;
  for (;;) {
    const next = batches.next();
    if (next.done) return;
    const body = JSON.stringify({ batch: next.value });
    const sent = clock();
    const r = await fetch(to, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body });
    if (r.status !== 200) failed++;
    await r.arrayBuffer();
    timings.push(sent, clock(), next.value.length);
    events += next.value.length;
  }
}
await Promise.all(Array.from({ length: concurrency }, (_, k) => lane(k)));
parentPort!.postMessage({ events, failed, ms: performance.now() - started, timings });
