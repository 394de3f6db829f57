import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { WebhookStore } from '@strata/store';
import type { AppContext } from './context.ts';
import type { EngineMemory } from '@strata/engine';
import { heapFigures, memoryFigures } from './heap-watch.ts';

const TARGETS = ['webhook', 'destination'] as const;

/** Latency buckets (seconds): from a cached read to a slow import page. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * A counter, labelled `result`, of running totals read when scraped (`read`: by result; undefined
 * for none): each scrape adds what each total grew by since the last one.
 */
function totalsCounter(registers: Registry[], name: string, help: string, read: () => Record<string, number> | undefined): void {
  const seen = new Map<string, number>();
  new Counter({
    name, help, labelNames: ['result'], registers,
    collect() {
      for (const [result, total] of Object.entries(read() ?? {})) {
        this.inc({ result }, total - (seen.get(result) ?? 0));
        seen.set(result, total);
      }
    },
  });
}

/**
 * The app's Prometheus metrics, in a registry of its own (tests build many apps in one process).
 * Request counts and latencies are counted as answers go out; the rest is read when scraped:
 * ingest totals and engine figures from memory, the outbox backlog from the store. The process
 * metrics of prom-client (heap, CPU, event loop lag, GC) start with the first scrape.
 * docs/operations.md lists every metric.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly latency: Histogram<'method' | 'route' | 'status'>;
  private processMetrics = false;
  /** The outbox backlog of the scrape in progress. */
  private backlog: ReturnType<WebhookStore['backlog']> | null = null;
  /** The engine's memory figures for the scrape in progress (read once for every gauge). */
  private memory: EngineMemory | null = null;

  constructor(private readonly ctx: AppContext) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'strata_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status', labelNames: ['method', 'route', 'status'], registers });
    this.latency = new Histogram({ name: 'strata_http_request_duration_seconds', help: 'Time from the request to its answer, by method, route pattern and status', labelNames: ['method', 'route', 'status'], buckets: BUCKETS, registers });

    // Counters fed from the ingest service's running totals (they only grow).
    const totals = ctx.ingest.totals;
    const seen = { duplicates: 0 };
    totalsCounter(registers, 'strata_ingest_messages_total', 'Ingested messages since start: accepted (acknowledged: in the event log), rejected (refused one by one, each an ingestion warning), failed (not acknowledged: the log could not take them, or the backlog stayed full), set_aside (acknowledged, then not applied for a fault of Strata\'s: each an ingestion warning)',
      () => ({ accepted: totals.accepted, rejected: totals.rejected, failed: totals.failed, set_aside: totals.setAside }));
    const ingest = ctx.ingest;
    new Gauge({ name: 'strata_ingest_backlog_events', help: 'Events acknowledged (in the event log) and not yet applied by the membership worker', registers, collect() { this.set(ingest.backlogItems); } });
    // With the log on NATS other processes append too: the positions are read from the log and the store when scraped.
    new Gauge({ name: 'strata_ingest_acknowledged_position', help: 'The event log position of the last request acknowledged (with the log on NATS: by any process)', registers, async collect() { this.set(await ingest.latest().catch(() => ingest.acknowledged)); } });
    new Gauge({ name: 'strata_ingest_applied_position', help: 'The event log position up to which everything acknowledged is applied', registers, async collect() { this.set(await ingest.appliedNow().catch(() => ingest.applied)); } });
    const log = ingest.log;
    new Gauge({ name: 'strata_event_log_partitions', help: 'The partitions of the event log in use, labelled by which log it is: sqlite (a file beside the store), postgres (a table of the store) or jetstream (NATS)', labelNames: ['log'], registers, collect() { this.set({ log: log.kind }, log.partitions); } });
    new Gauge({ name: 'strata_ingest_stalled', help: '1 while the membership worker cannot apply (the store is unavailable), else 0', registers, collect() { this.set(ingest.stalled === null ? 0 : 1); } });
    new Counter({
      name: 'strata_ingest_duplicates_total', help: 'Accepted messages whose messageId was already stored (answered 200, stored once)', registers,
      collect() {
        this.inc(totals.duplicates - seen.duplicates);
        seen.duplicates = totals.duplicates;
      },
    });

    const engine = () => ctx.engine.stats(ctx.clock.now());
    new Gauge({ name: 'strata_engine_ready', help: '1 when /api/health/ready answers 200 (the engine has loaded every project), else 0', registers, collect() { const { phase } = ctx.engine.started; this.set(phase === 'ready' || phase === 'idle' ? 1 : 0); } });
    new Gauge({ name: 'strata_engine_projects_loaded', help: 'Projects the engine holds in memory', registers, collect() { this.set(engine().projects); } });
    new Gauge({ name: 'strata_engine_profiles', help: 'Profiles the engine holds in memory', registers, collect() { this.set(engine().profiles); } });
    new Gauge({
      name: 'strata_engine_transition_lag_seconds', help: 'How long the earliest due time transition (a window closing, a date passing) has waited to be applied; 0 when none is due',
      registers, collect() { const due = engine().oldestDueAt; this.set(due === null ? 0 : Math.max(0, ctx.clock.now() - due) / 1000); },
    });
    totalsCounter(registers, 'strata_sqlite_wal_checkpoints_total', 'WAL checkpoints run by the embedded store\'s checkpointer thread, by result (done, failed); absent on PostgreSQL', () => {
      const c = ctx.store.walCheckpointer?.stats;
      return c && { done: c.checkpoints, failed: c.errors };
    });
    new Gauge({ name: 'strata_heap_used_ratio', help: 'The V8 heap in use as a share of its limit (--max-old-space-size); the log warns at 0.8', registers, collect() { this.set(heapFigures().ratio); } });
    new Gauge({ name: 'strata_memory_used_ratio', help: 'The process\'s resident memory as a share of what it may use (the container\'s limit when one is set, else the machine\'s memory); the log warns at 0.8', registers, collect() { this.set(memoryFigures().ratio); } });
    this.engineMemory(registers);
    new Gauge({ name: 'strata_engine_writes_waiting', help: 'Writes queued for the engine\'s single writer (ingest groups, admin changes, time transitions)', registers, collect() { this.set(engine().writesWaiting); } });

    // One read of the store per scrape serves both gauges (prom-client collects them concurrently).
    const backlog = async () => {
      // While the engine loads, the embedded store's one connection is the load's: the backlog is read once it is ready.
      if (ctx.engine.started.phase === 'loading') return null;
      this.backlog ??= new WebhookStore(ctx.store).backlog();
      return this.backlog;
    };
    new Gauge({
      name: 'strata_outbox_pending', help: 'Outbox rows not yet delivered nor given up, by target (webhook, destination)', labelNames: ['target'], registers,
      async collect() {
        const b = await backlog();
        if (b) for (const target of TARGETS) this.set({ target }, b[target].pending);
      },
    });
    new Gauge({
      name: 'strata_outbox_oldest_pending_age_seconds', help: 'Age of the oldest pending outbox row, by target; 0 when none is pending', labelNames: ['target'], registers,
      async collect() {
        const b = await backlog();
        const now = ctx.clock.now();
        if (b) for (const target of TARGETS) this.set({ target }, b[target].oldestCreatedAt === null ? 0 : Math.max(0, now - b[target].oldestCreatedAt!) / 1000);
      },
    });
  }

  /**
   * The engine's memory: its typed arrays (outside the V8 heap, and not bound by its limit)
   * counted exactly, by part; the events it keeps; and the bytes per profile and per event.
   */
  private engineMemory(registers: Registry[]): void {
    const mem = () => (this.memory ??= this.ctx.engine.memory());
    new Gauge({
      name: 'strata_engine_column_bytes', help: 'Bytes of the typed arrays the engine holds (outside the V8 heap), by part: events (kept event lists), records, index (id to slot), membership (bits), wakes (next wake-up times)',
      labelNames: ['part'], registers, collect() { for (const [part, bytes] of Object.entries(mem().bytes)) this.set({ part }, bytes); },
    });
    new Gauge({ name: 'strata_engine_events', help: 'Event rows the engine keeps (events of the names live segments read; an event kept both in its name\'s list and in the "*" list counts twice)', registers, collect() { this.set(mem().events); } });
    new Gauge({
      name: 'strata_engine_bytes_per_profile', help: 'The V8 heap in use plus the engine\'s typed arrays, divided by the profiles it holds (the whole heap: an upper bound of the engine\'s share); 0 with no profiles',
      registers, collect() { const m = mem(); this.set(m.profiles ? (heapFigures().usedBytes + m.columnBytes) / m.profiles : 0); },
    });
    new Gauge({
      name: 'strata_engine_bytes_per_event', help: 'The typed arrays of the engine\'s event lists (rows, their spare room and the lists\' index by profile) divided by the event rows kept; 0 with none',
      registers, collect() { const m = mem(); this.set(m.events ? m.bytes.events / m.events : 0); },
    });
  }

  /** Counts every answer (the route pattern, not the URL: `/api/segments/:id`; `(none)` when no route matched). */
  observe(req: FastifyRequest, statusCode: number, seconds: number): void {
    const labels = { method: req.method, route: req.routeOptions.url ?? '(none)', status: String(statusCode) };
    this.requests.inc(labels);
    this.latency.observe(labels, seconds);
  }

  async text(): Promise<string> {
    if (!this.processMetrics) {
      this.processMetrics = true;
      collectDefaultMetrics({ register: this.registry });
    }
    this.backlog = null;
    this.memory = null;
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Who may read /metrics: with `STRATA_METRICS_TOKEN`, a caller sending it as a bearer token;
 * without, only a caller on this machine's loopback that no proxy forwarded (the socket's own
 * address; a request carrying X-Forwarded-For or Forwarded came through a proxy, from anywhere).
 */
export function metricsAccess(req: FastifyRequest, token: string | null): 'ok' | 'unauthorized' | 'forbidden' {
  if (token !== null) {
    const m = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
    return m && timingSafeEqual(digest(m[1]!.trim()), digest(token)) ? 'ok' : 'unauthorized';
  }
  const addr = req.socket.remoteAddress ?? '';
  const loopback = addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.');
  const proxied = req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined;
  return loopback && !proxied ? 'ok' : 'forbidden';
}

/** Counts the answers of every route of `app` (an onResponse hook on the root). */
export function countRequests(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (req, reply) => {
    metrics.observe(req, reply.statusCode, reply.elapsedTime / 1000);
  });
}
