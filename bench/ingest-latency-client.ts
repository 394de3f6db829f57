/**
 * Worker of bench/ingest-latency.ts: an open-loop load generator. Each phase sends a
 * `/v1/batch` request every `batch / rate` seconds on a fixed schedule, whatever the answers
 * do, and measures every latency from the request's *scheduled* send instant: a server that
 * stalls makes the requests due meanwhile late, and that lateness is counted rather than
 * hidden by a client that waits before sending the next one (coordinated omission).
 *
 * For one request in `sampleEvery`, as soon as it is acknowledged, it asks
 * `GET /api/users/:id/segments` for a user of that batch with the acknowledged position in
 * `Strata-Position`: the answer comes only once the membership worker has applied the batch,
 * so scheduled send → that answer is event → membership applied and readable.
 *
 * Phases run back to back; between two, the client waits for its open requests and then for
 * one read without a position (which waits for everything acknowledged to be applied), so a
 * phase does not inherit the previous one's backlog. Bodies are serialised before the first
 * phase so that generating data takes nothing from the schedule.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { generateBatches } from '@strata/datagen';

export interface LatencyPhase { name: string; rate: number; seconds: number; sampleEvery: number }
export interface LatencyClientData { base: string; writeKey: string; admin: string; end: number; batch: number; phases: LatencyPhase[] }

/** What one phase measured; instants are ms since the epoch (comparable with the server thread's). */
export interface PhaseResult {
  name: string;
  rate: number;
  /** Scheduled send of the first request, the last acknowledgement, and the last answer (reads included). */
  from: number;
  lastAck: number;
  to: number;
  requests: number;
  /** Events in requests answered 200. */
  eventsAcknowledged: number;
  /** Per request answered 200: scheduled send → acknowledgement (ms). */
  ack: number[];
  /** Per sampled request answered 200 by the read too: scheduled send → the read's answer (ms). */
  applied: number[];
  /** Ingest answers that were not 200, by status (0: the request failed without an answer). */
  ingestRefused: Record<number, number>;
  /** Sampled reads answered 503 (NOT_YET_APPLIED: the batch was not applied within the read's wait). */
  reads503: number;
  /** Sampled reads answered otherwise than 200 or 503, by status (0: no answer, e.g. the connection timed out). */
  readsOther: Record<number, number>;
}

const { base, writeKey, admin, end, batch, phases } = workerData as LatencyClientData;
const ingestHeaders = { authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`, 'content-type': 'application/json' };
const clock = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const requestsOf = (p: LatencyPhase) => Math.max(1, Math.round((p.rate * p.seconds) / batch));

interface Body { json: string; user: string; events: number }
const bodies: Body[] = [];
const needed = phases.reduce((n, p) => n + requestsOf(p), 0);
// ≈10 events per generated user: twice the users needed, read only as far as the batches go.
for (const b of generateBatches({ seed: 11, users: Math.ceil((needed * batch) / 5), end }, batch)) {
  const last = b[b.length - 1]!;
  bodies.push({ json: JSON.stringify({ batch: b }), user: last.userId ?? last.anonymousId!, events: b.length });
  if (bodies.length === needed) break;
}
if (bodies.length < needed) throw new Error(`generated ${bodies.length} batches, ${needed} needed`);
let nextBody = 0;

const tally = (counts: Record<number, number>, status: number) => { counts[status] = (counts[status] ?? 0) + 1; };

/** Reads the batch's user with its position; the read's own wait decides 200 or 503 (0: no answer at all). */
async function readApplied(user: string, position: number | null): Promise<number> {
  const headers: Record<string, string> = { authorization: `Bearer ${admin}` };
  if (position !== null) headers['strata-position'] = String(position);
  try {
    const r = await fetch(`${base}/api/users/${encodeURIComponent(user)}/segments`, { headers });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}

async function send(body: Body, at: number, sampled: boolean, out: PhaseResult): Promise<void> {
  let status = 0, text = '';
  try {
    const r = await fetch(`${base}/v1/batch`, { method: 'POST', headers: ingestHeaders, body: body.json });
    status = r.status;
    text = await r.text();
  } catch {
    status = 0;
  }
  const acked = clock();
  out.to = Math.max(out.to, acked);
  if (status !== 200) return tally(out.ingestRefused, status);
  out.lastAck = Math.max(out.lastAck, acked);
  out.ack.push(acked - at);
  out.eventsAcknowledged += body.events;
  if (!sampled) return;
  const position = (JSON.parse(text) as { position?: unknown }).position;
  if (typeof position !== 'number') throw new Error(`an ingest answer without a position: ${text}`);
  const read = await readApplied(body.user, position);
  const answered = clock();
  out.to = Math.max(out.to, answered);
  if (read === 200) out.applied.push(answered - at);
  else if (read === 503) out.reads503++;
  else tally(out.readsOther, read);
}

async function run(p: LatencyPhase): Promise<PhaseResult> {
  const n = requestsOf(p);
  const interval = (1000 * batch) / p.rate;
  const from = clock() + 20;
  const out: PhaseResult = { name: p.name, rate: p.rate, from, lastAck: from, to: from, requests: n, eventsAcknowledged: 0, ack: [], applied: [], ingestRefused: {}, reads503: 0, readsOther: {} };
  const open: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const at = from + i * interval;
    const wait = at - clock();
    if (wait >= 1) await sleep(wait);
    open.push(send(bodies[nextBody++]!, at, i % p.sampleEvery === 0, out));
  }
  await Promise.all(open);
  // Everything acknowledged applied before the next phase (a read waits for it; up to its bound, then once more).
  const last = bodies[nextBody - 1]!.user;
  for (let status = 0; status === 0 || status === 503; ) status = await readApplied(last, null);
  return out;
}

const results: PhaseResult[] = [];
for (const p of phases) results.push(await run(p));
parentPort!.postMessage(results);
