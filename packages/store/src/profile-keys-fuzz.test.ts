import { describe, expect, it } from 'vitest';
import { ImportStore } from './import-store.ts';
import { ProfileRecords } from './profile-records.ts';
import { SqlStore } from './sql-store.ts';
import { openSqlite } from './sqlite.ts';
import { UserDataStore } from './user-data-store.ts';
import type { IngestItem } from './types.ts';

// The ids kept with profile records (ProfileRecords.keepId) must never change what ingest does:
// random sequences of ingest (track, identify, alias; several batches in one transaction; failed
// transactions), erasure, known profiles, user imports, labels and project deletion run on a store
// that keeps few records and few ids per profile, and on one that keeps none. Both must hold the
// same keys, events and profiles after every step, and every kept id must name what profile_keys
// says. FUZZ_SEEDS / FUZZ_STEPS run more.
const SESSION = 30 * 60_000;
const T0 = Date.UTC(2024, 5, 15, 12);

function rng(seed: number) {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

async function open(records: ProfileRecords | null) {
  const s = new SqlStore(openSqlite({ filename: ':memory:' }).db, 'sqlite', undefined, undefined, undefined, records);
  await s.migrate();
  return s;
}

async function dump(s: SqlStore) {
  const keys = await s.db.selectFrom('profile_keys').select(['project_id', 'kind', 'key', 'profile_id']).orderBy('project_id').orderBy('kind').orderBy('key').execute();
  const events = await s.db.selectFrom('events').select(['project_id', 'message_id', 'profile_id']).orderBy('id').execute();
  const profiles = await s.db.selectFrom('profiles').select(['id', 'project_id', 'user_id', 'anonymous_id', 'traits', 'labels', 'first_seen', 'last_seen']).orderBy('id').execute();
  return { keys, events, profiles };
}

describe('kept ids: a cached store does what an uncached one does', () => {
  for (let seed = 1; seed <= Number(process.env.FUZZ_SEEDS ?? 20); seed++) {
    it(`seed ${seed}`, async () => {
      const r = rng(seed);
      const pick = <T,>(a: readonly T[]) => a[Math.floor(r() * a.length)]!;
      const kept = new ProfileRecords(1 + Math.floor(r() * 6), 1 + Math.floor(r() * 4));
      const a = await open(kept), b = await open(null);
      const projects = ['p1', 'p2'];
      const users = ['u1', 'u2', 'u3', 'u4', 'x1', 'u5', 'u6'];
      const anons = ['a1', 'a2', 'a3', 'a4', 'x1', 'a5', 'a6', 'u1'];
      let msg = 0, minute = 0;
      const log: string[] = [];
      const mk = (): IngestItem => {
        const k = r();
        const base = { messageId: `m${++msg}`, properties: {}, context: { locale: 'en' }, timestamp: T0 + (minute + Math.floor(r() * 20) - 10) * 60_000, receivedAt: T0 + minute * 60_000, traits: null, previousId: null };
        if (k < 0.25) return { ...base, type: 'track', name: 'view', userId: pick(users), anonymousId: null };
        if (k < 0.5) return { ...base, type: 'track', name: 'view', userId: null, anonymousId: pick(anons) };
        if (k < 0.8) return { ...base, type: 'identify', name: '$identify', userId: pick(users), anonymousId: pick(anons), traits: { n: msg } };
        return { ...base, type: 'alias', name: '$alias', userId: pick(users), anonymousId: null, previousId: pick([...users, ...anons]) };
      };
      for (let step = 0; step < Number(process.env.FUZZ_STEPS ?? 60); step++) {
        minute += 5;
        const p = pick(projects);
        const op = r();
        let f: (s: SqlStore) => Promise<unknown>;
        if (op < 0.55) {
          const items = Array.from({ length: 1 + Math.floor(r() * 5) }, mk);
          log.push(`ingest ${p} ${JSON.stringify(items.map((i) => [i.type, i.userId, i.anonymousId, i.previousId]))}`);
          f = (s) => s.transaction((tx) => tx.ingest(p, items, SESSION));
        } else if (op < 0.65) {
          const items = Array.from({ length: 1 + Math.floor(r() * 4) }, mk);
          log.push(`ingest-fail ${p} ${JSON.stringify(items.map((i) => [i.type, i.userId, i.anonymousId, i.previousId]))}`);
          f = (s) => s.transaction(async (tx) => { await tx.ingest(p, items, SESSION); throw new Error('boom'); }).catch(() => undefined);
        } else if (op < 0.73) {
          const id = pick([...users, ...anons]);
          log.push(`erase ${p} ${id}`);
          f = (s) => s.transaction(async (tx) => { const k = await tx.profiles.key(p, id); if (k) await new UserDataStore(tx).erase(p, k.profileId, T0, { suppress: false }); });
        } else if (op < 0.8) {
          const ids = [pick(users), pick(anons)];
          log.push(`ensureKnown ${p} ${ids}`);
          f = (s) => s.transaction((tx) => tx.ensureKnownProfiles(p, ids, T0));
        } else if (op < 0.87) {
          const ids = [pick(users), pick(anons)];
          log.push(`import ${p} ${ids}`);
          f = (s) => s.transaction((tx) => new ImportStore(tx).upsertUsers(p, ids.map((userId) => ({ userId, traits: { imp: minute }, labels: [] })), T0));
        } else if (op < 0.92) {
          const id = pick([...users, ...anons]);
          log.push(`labels ${p} ${id}`);
          f = (s) => s.transaction(async (tx) => { const k = await tx.profiles.key(p, id); if (k) await tx.updateLabels(p, k.profileId, [`l${minute}`], [], T0); });
        } else if (op < 0.95) {
          log.push(`delete ${p}`);
          f = (s) => s.transaction((tx) => tx.deleteProjectData(p));
        } else if (op < 0.975) {
          const items = Array.from({ length: 1 + Math.floor(r() * 4) }, mk);
          const items2 = Array.from({ length: 1 + Math.floor(r() * 4) }, mk);
          const id = pick([...users, ...anons]), ids = [pick(users)], fail = r() < 0.4, ok = r() < 0.5;
          log.push(`mixed fail=${fail} ${p} erase ${id} known ${ids} ${JSON.stringify([...items, ...items2].map((i) => [i.type, i.userId, i.anonymousId, i.previousId]))}`);
          f = (s) => s.transaction(async (tx) => {
            await tx.ingest(p, items, SESSION);
            const k = await tx.profiles.key(p, id); if (k) await new UserDataStore(tx).erase(p, k.profileId, T0, { suppress: false });
            if (ok) await tx.ensureKnownProfiles(p, ids, T0);
            else await new ImportStore(tx).upsertUsers(p, ids.map((userId) => ({ userId, traits: { imp: minute }, labels: [] })), T0);
            await tx.ingest(p, items2, SESSION);
            if (fail) throw new Error('boom');
          }).catch((e: Error) => { if (e.message !== 'boom') throw e; });
        } else {
          const items = Array.from({ length: 1 + Math.floor(r() * 3) }, mk);
          const items2 = Array.from({ length: 1 + Math.floor(r() * 3) }, mk);
          log.push(`ingest2 ${p} ${JSON.stringify([...items, ...items2].map((i) => [i.type, i.userId, i.anonymousId, i.previousId]))}`);
          f = (s) => s.transaction(async (tx) => { await tx.ingest(p, items, SESSION); await tx.ingest(p, items2, SESSION); });
        }
        const ea = await f(a).then(() => null, (e: Error) => e.message);
        const eb = await f(b).then(() => null, (e: Error) => e.message);
        expect(ea, log.join('\n')).toBe(eb);
        const [da, db] = [await dump(a), await dump(b)];
        expect(da, log.join('\n')).toEqual(db);
        // Every id kept names what the store says.
        const ids = (kept as unknown as { ids: Map<string, number> }).ids;
        for (const [full, pid] of ids) {
          const [proj, id] = full.split('\u0000');
          const row = da.keys.find((k) => k.project_id === proj && `${k.kind}:${k.key}` === id);
          expect(row?.profile_id, `${full}\n${log.join('\n')}`).toBe(pid);
        }
      }
      await a.close(); await b.close();
    });
  }
});
