import { describe, expect, it } from 'vitest';
import { openTestSqlite } from '@strata/store/testing';
import { followDefinitions } from './definition-follower.ts';
import { LiveEngine } from './live-engine.ts';

/**
 * The segment changes a process of the api role records, applied by an engine that applies the log
 * (definition-follower.ts), on the embedded store: a user taken out by hand and added back before
 * the engine applies the removal stays in; a change the engine cannot apply is passed over, and the
 * changes after it are applied. (With workers on NATS and PostgreSQL: server/api-changes.test.ts.)
 */

const T0 = Date.UTC(2026, 0, 1);

async function setup() {
  const store = await openTestSqlite();
  const clock = { now: () => T0 };
  await store.createProject({ id: 'p', name: 'p', writeKey: 'wk_p', adminToken: 'at_p', now: T0 });
  const engine = new LiveEngine(store, clock);
  const api = new LiveEngine(store, clock, [], { holdsNoState: true });
  const ids = await store.ensureKnownProfiles('p', ['vip', 'free'], T0);
  await engine.write(async (tx) => {
    await tx.insertSegment({ id: 'seg', projectId: 'p', name: 'VIP', description: '', condition: { attr: 'userId', op: 'eq', value: 'vip' }, template: null, params: null, createdAt: T0, updatedAt: T0 });
    await engine.segmentsChanged(tx, 'p', ['seg'], T0);
  });
  const follower = followDefinitions(engine, store, [0], [], { pollMs: 10_000 });
  const members = async () => (await store.db.selectFrom('memberships').innerJoin('profiles', 'profiles.id', 'memberships.profile_id').select('profiles.user_id')
    .where('memberships.segment_id', '=', 'seg').execute()).map((r) => r.user_id).sort();
  return { store, engine, api, vip: ids.get('vip')!, free: ids.get('free')!, follower, members };
}

describe('segment changes recorded by a process of the api role', () => {
  it('keeps a user added back before the engine applied their removal, and excludes one whose condition holds', async () => {
    const { store, engine, api, vip, free, follower, members } = await setup();
    try {
      expect(await members()).toEqual(['vip']);
      // Added by hand, taken out, added back: three changes recorded before the engine applies any.
      await api.write(async (tx) => { await tx.include('p', 'seg', [free]); await api.segmentsChanged(tx, 'p', ['seg'], T0, 'manual', [free]); });
      await api.write((tx) => api.unlist(tx, 'p', 'seg', free, T0));
      await api.write(async (tx) => { await tx.include('p', 'seg', [free]); await api.segmentsChanged(tx, 'p', ['seg'], T0, 'manual', [free]); });
      // And the user whose condition holds, taken out.
      await api.write((tx) => api.unlist(tx, 'p', 'seg', vip, T0));
      await engine.write(async () => undefined);
      expect(await members()).toEqual(['free']);
      expect(engine.segmentsOf('p', free)).toEqual(['seg']);
      expect(await store.manualProfileIds('p', 'seg')).toEqual({ include: [free], exclude: [vip] });
      // Applied once: the next transaction finds nothing after the last change recorded.
      await engine.write(async () => undefined);
      expect(await members()).toEqual(['free']);
    } finally {
      await follower.stop();
      await store.close();
    }
  });

  it('passes over a change it cannot apply and applies the ones after it', async () => {
    const { store, engine, api, free, follower, members } = await setup();
    try {
      // A change naming a profile that breaks the engine's apply (a fault of Strata's, not the store's).
      const broken = engine.segmentsChanged.bind(engine);
      let fail = true;
      engine.segmentsChanged = async (tx, projectId, ids, now, reason, profileIds) => {
        if (fail && reason === 'manual') { fail = false; throw new Error('a fault while applying'); }
        return broken(tx, projectId, ids, now, reason, profileIds);
      };
      await api.write(async (tx) => { await tx.include('p', 'seg', [free]); await api.segmentsChanged(tx, 'p', ['seg'], T0, 'manual', [free]); });
      await expect(engine.write(async () => undefined)).rejects.toThrow('a fault while applying');
      await api.write(async (tx) => { await tx.insertSegment({ id: 'all', projectId: 'p', name: 'All', description: '', condition: { attr: 'userId', op: 'exists' }, template: null, params: null, createdAt: T0, updatedAt: T0 }); await api.segmentsChanged(tx, 'p', ['all'], T0); });
      await engine.write(async () => undefined);
      expect(engine.segmentsOf('p', free)).toContain('all');
      // The change passed over is not applied: its profile's membership waits for the next change of the segment.
      expect(await members()).toEqual(['vip']);
    } finally {
      await follower.stop();
      await store.close();
    }
  });
});
