import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createStore, openJetStreamLog, UserDataStore, type EventLog, type IngestItem, type SqlStore } from '@strata/store';
import { deleteEventStreams, NATS_URL, natsUnavailable, testPrefixes } from '@strata/store/testing';
import { IngestService } from './ingest-service.ts';
import { LiveEngine } from './live-engine.ts';
import { SuppressionList } from './user-data-service.ts';

/**
 * Ingest over the event log on NATS JetStream when an append's PubAck is lost: the record is in
 * the stream but the request was refused, and the client's retry must be applied, not answered
 * with the unapplied copy's position. Skipped, saying why, without a NATS server with JetStream.
 */

const unavailable = await natsUnavailable();
if (unavailable !== null) console.warn(`skipping the ingest tests on NATS JetStream: ${unavailable}`);

const prefixes = testPrefixes('ing');
const T0 = Date.UTC(2026, 0, 1);
let seq = 0;
const item = (userId: string, messageId = `m-${++seq}`): IngestItem => ({
  messageId, type: 'track', name: 'view', userId, anonymousId: null, previousId: null,
  properties: {}, context: {}, traits: null, timestamp: T0 + seq, receivedAt: T0 + seq,
});

/** The log, except that the append after `lose()` writes its records and then fails as a lost PubAck does. */
function losingAcks(log: EventLog): EventLog & { lose(): void } {
  let lose = false;
  return {
    kind: log.kind, partitions: log.partitions,
    lose: () => { lose = true; },
    async append(records) {
      const positions = await log.append(records);
      if (lose) {
        lose = false;
        throw Object.assign(new Error('timeout waiting for the PubAck'), { code: 'TIMEOUT' });
      }
      return positions;
    },
    read: (partition, after, max, waitMs) => log.read(partition, after, max, waitMs),
    readAll: (after, max, waitMs) => log.readAll(after, max, waitMs),
    trim: (partition, position) => log.trim(partition, position),
    trimAll: (position) => log.trimAll(position),
    forgetTrimmed: () => log.forgetTrimmed(),
    head: () => log.head(),
    continueAfter: (position) => log.continueAfter(position),
    close: () => log.close(),
  };
}

describe.skipIf(unavailable !== null)('ingest over NATS JetStream', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await deleteEventStreams(prefixes.used);
  });

  async function start(dir: string, prefix: string, suppress = false) {
    const store = await createStore({ kind: 'sqlite', dataDir: dir });
    if (!(await store.getProject('p'))) await store.createProject({ id: 'p', name: 'p', writeKey: 'wk_p', adminToken: 'at_p', now: T0 });
    const engine = new LiveEngine(store, { now: () => T0 + 3_600_000 });
    const log = losingAcks(await openJetStreamLog({ url: NATS_URL, prefix, partitions: 16 }));
    const service = new IngestService(engine, { sessionTimeoutMs: 1_800_000, log, ...(suppress ? { suppressions: new SuppressionList(store) } : {}) });
    await service.drain();
    return { store, log, service };
  }

  const stored = async (store: SqlStore) => (await store.db.selectFrom('events').select('message_id').where('project_id', '=', 'p')
    .where('message_id', 'is not', null).execute()).map((e) => e.message_id!).sort();

  it('applies the retry of a request whose PubAck was lost, once, also after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-nats-ingest-'));
    dirs.push(dir);
    const prefix = prefixes.next();
    let o = await start(dir, prefix);
    const request = [item('x'), item('y')];
    const refused = [{ index: 2, message: 'bad', payload: '{}' }];
    o.log.lose();
    const lost = await o.service.submit('p', request, refused, T0).catch((e: unknown) => e);
    expect(lost).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    // Another request in between, then the client's retry of the first.
    const other = await o.service.submit('p', [item('z')], [], T0);
    const retry = await o.service.submitApplied('p', request, refused, T0);
    expect(retry.position).toBeGreaterThan(other.position);
    expect(retry).toMatchObject({ stored: 2, duplicates: 0 });
    await o.service.drain();
    expect(await stored(o.store)).toEqual([...request.map((i) => i.messageId), 'm-3'].sort());
    expect(await o.store.listRejections('p', 10)).toHaveLength(1);
    await o.service.stop(1000);
    await o.store.close();

    o = await start(dir, prefix);
    try {
      expect(await stored(o.store)).toEqual([...request.map((i) => i.messageId), 'm-3'].sort());
      expect(o.service.applied).toBeGreaterThanOrEqual(retry.position);
    } finally {
      await o.service.stop(1000);
      await o.store.close();
    }
  });

  it('gives requests whose items are all suppressed each their own record and warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-nats-ingest-'));
    dirs.push(dir);
    const o = await start(dir, prefixes.next(), true);
    try {
      await new UserDataStore(o.store).suppress('p', ['gone'], T0);
      const acks = await Promise.all([1, 2, 3].map(() => o.service.submitApplied('p', [item('gone')], [], T0)));
      expect(new Set(acks.map((a) => a.position)).size).toBe(3);
      await o.service.drain();
      expect(await stored(o.store)).toEqual([]);
      const warnings = await o.store.listRejections('p', 10);
      expect(warnings.filter((w) => /dropped: naming a user erased with suppression/.test(w.message))).toHaveLength(3);
    } finally {
      await o.service.stop(1000);
      await o.store.close();
    }
  });
});
