import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Json } from '@strata/core';
import { createStore, openEventLog, type IngestItem, type SqlStore } from '@strata/store';
import { IngestService } from './ingest-service.ts';
import { LiveEngine } from './live-engine.ts';

/**
 * Review of the rebuilt ingest (log + membership worker): faults found by attacking its
 * promises across restarts. Each test states the promise it holds the code to.
 */

const T0 = Date.UTC(2026, 0, 1, 12);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
const item = (name: string, timestamp: number, userId = 'u1'): IngestItem => ({
  messageId: `${name}-${userId}-${timestamp}`, type: 'track', name, userId, anonymousId: null, previousId: null,
  properties: {}, context: {}, traits: null, timestamp, receivedAt: timestamp,
});

class Clock {
  constructor(public t: number) {}
  now(): number { return this.t; }
}

describe('ingest review: restarts with a backlog', () => {
  const dirs: string[] = [];
  const open: { service: IngestService; store: SqlStore; engine: LiveEngine }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) {
      await o.service.stop(0);
      await o.engine.stop();
      await o.store.close();
    }
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /** One "process": a store over `dir`, an engine, and the service over the store's log file; `fail.next` fails the store's next transactions. */
  async function start(dir: string, clock: Clock) {
    const store = await createStore({ kind: 'sqlite', dataDir: dir });
    const fail = { next: 0 };
    const transaction = store.transaction.bind(store);
    store.transaction = (async (fn: never) => {
      if (fail.next > 0) { fail.next--; throw busy(); }
      return transaction(fn);
    }) as typeof store.transaction;
    const engine = new LiveEngine(store, clock);
    const service = new IngestService(engine, { sessionTimeoutMs: 30 * 60_000, log: openEventLog(store) });
    const o = { service, store, engine };
    open.push(o);
    return { ...o, fail };
  }
  async function shutdown(p: { service: IngestService; store: SqlStore; engine: LiveEngine }) {
    await p.service.stop(0);
    await p.engine.stop();
    await p.store.close();
    open.splice(open.indexOf(open.find((o) => o.store === p.store)!), 1);
  }
  const newDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'strata-review-'));
    dirs.push(d);
    return d;
  };

  /*
   * Promise (docs/architecture.md step 3): "Each record is applied at the instant it was received
   * ..., so a late apply gives the same changes at the same instants"; brief: "restarts with a
   * backlog apply it exactly once at the instants it was received".
   *
   * Fault: at start the engine loads each project and advances its clock to *now*
   * (LiveEngine.project → advance(max(now, ps.clock))) before — or while — the ingest recovery
   * applies the backlog, so `applyInstant` = max(receivedAt, clock) = the restart time. An
   * identify (plan: vip) acknowledged at T0 and applied at a restart 2 hours later enters the
   * trait segment at the restart, 2 hours late (membership history, $segment_entered, webhooks,
   * mission windows all carry the wrong instant). (Event-window segments are not affected: their
   * entry is dated by the event.)
   */
  it('applies a backlog at the instants its records were received, not at the restart', async () => {
    const dir = newDir();
    const clock = new Clock(T0);
    const first = await start(dir, clock);
    await first.store.createProject({ id: 'p', name: 'p', writeKey: 'wk_p', adminToken: 'at_p', now: T0 - DAY });
    await first.service.drain();
    await first.engine.write(async (tx) => {
      await tx.insertSegment({ id: 'vips', projectId: 'p', name: 'vips', description: '', condition: { attr: 'traits.plan', op: 'eq', value: 'vip' } as Json, template: null, params: null, createdAt: T0, updatedAt: T0 });
      await first.engine.segmentsChanged(tx, 'p', ['vips'], T0);
    });
    // The store cannot write: the identify (plan: vip) is acknowledged (in the log) and not applied; then the process stops.
    first.fail.next = 1_000_000;
    const ack = await first.service.submit('p', [{ ...item('$identify', T0), type: 'identify', traits: { plan: 'vip' } }], [], T0);
    expect(first.service.applied).toBeLessThan(ack.position);
    await first.service.stop(0);
    first.fail.next = 0;
    expect(first.service.applied).toBeLessThan(ack.position);
    await shutdown(first);

    // Restarted two hours later: the backlog is applied at T0, its instant of receipt.
    clock.t = T0 + 2 * HOUR;
    const second = await start(dir, clock);
    await second.engine.start(0);
    await second.service.drain();
    expect(second.service.applied).toBe(ack.position);
    const history = (await second.store.history('p', { segmentId: 'vips' }, 10, null)).map((h) => `${h.kind}@${new Date(h.at).toISOString()}`);
    expect(history).toEqual([`entered@${new Date(T0).toISOString()}`]);
  });

  /*
   * Promise (brief): "project deletion with records pending"; LiveEngine.deleteProject: "nothing
   * is written for a project that is gone".
   *
   * Fault: the engine's memory of deleted projects (`deleted`) is in memory only, and
   * DELETE /api/projects/:id neither waits for nor drops the project's pending log records. A
   * record acknowledged for a project deleted before it was applied, applied at the next start
   * (kill -9 or stop() with a backlog), finds no `deleted` entry: the engine loads an empty
   * project state for the missing project and the store writes its events, profile and
   * engine_state rows — data of a deleted project, written after its deletion, that nothing
   * can reach or delete any more (there are no foreign keys to refuse it).
   */
  it('writes nothing for a project deleted while its records were pending, after a restart', async () => {
    const dir = newDir();
    const clock = new Clock(T0);
    const first = await start(dir, clock);
    await first.store.createProject({ id: 'gone', name: 'gone', writeKey: 'wk_gone', adminToken: 'at_gone', now: T0 - DAY });
    await first.service.drain();
    first.fail.next = 1_000_000;
    const ack = await first.service.submit('gone', [item('signup', T0, 'ghost-user')], [], T0);
    // The project is deleted (the route's path: engine.deleteProject) while its record waits; then the process stops.
    await first.service.stop(0);
    first.fail.next = 0;
    expect(first.service.applied).toBeLessThan(ack.position);
    await first.engine.deleteProject('gone', (tx) => tx.deleteProjectData('gone'));
    await shutdown(first);

    const second = await start(dir, clock);
    await second.engine.start(0);
    await second.service.drain();
    expect(second.service.applied).toBe(ack.position);
    const rows = async (table: 'events' | 'profiles' | 'engine_state') =>
      Number((await second.store.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).where('project_id', '=', 'gone').executeTakeFirstOrThrow()).n);
    expect({ events: await rows('events'), profiles: await rows('profiles'), engineState: await rows('engine_state') }).toEqual({ events: 0, profiles: 0, engineState: 0 });
    expect(await second.store.getProject('gone')).toBeNull();
  });
});
