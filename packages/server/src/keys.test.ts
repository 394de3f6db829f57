import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql, type Kysely } from 'kysely';
import { KeyStore, PROJECT_TABLES, SqlStore, hashToken, type Database } from '@strata/store';
import { testBackends } from '@strata/store/testing';
import { ADMIN, ROOT, WRITE, startTestApp, type TestApp } from './test-app.ts';
import { configFromEnv } from './config.ts';
import { ensureDefaultProject } from './credentials.ts';

/** Keys, server keys and projects (docs/security.md) on both stores. */
const backends = await testBackends();
const T0 = Date.UTC(2024, 5, 15, 12);

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** Every table of the store with a project_id column. */
async function tablesWithProject(store: SqlStore): Promise<string[]> {
  if (store.dialect === 'sqlite') {
    const tables = await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`.execute(store.db);
    const out: string[] = [];
    for (const { name } of tables.rows) {
      const cols = await sql<{ name: string }>`SELECT name FROM pragma_table_info(${name})`.execute(store.db);
      if (cols.rows.some((c) => c.name === 'project_id')) out.push(name);
    }
    return out.sort();
  }
  const r = await sql<{ t: string }>`SELECT table_name AS t FROM information_schema.columns WHERE table_schema = current_schema() AND column_name = 'project_id'`.execute(store.db);
  return r.rows.map((x) => x.t).sort();
}

/** Rows per table for a project (tables with any only). */
async function rowsOf(store: SqlStore, projectId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of await tablesWithProject(store)) {
    const r = await sql<{ n: number | string }>`SELECT count(*) AS n FROM ${sql.table(t)} WHERE project_id = ${projectId}`.execute(store.db);
    const n = Number(r.rows[0]!.n);
    if (n > 0) out[t] = n;
  }
  return out;
}

describe.each(backends.map((b) => [b.name, b] as const))('keys and projects on %s', (_n, backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp(await backend.open(), T0);
    expect((await t.send('/v1/batch', { batch: [{ type: 'identify', userId: 'u1', traits: { plan: 'pro' } }] })).status).toBe(200);
  });
  afterEach(async () => t.close());

  const call = async (method: Method, url: string, token: string | null, body?: unknown) => {
    const r = await t.app.inject({ method, url, headers: token === null ? {} : { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
    return { status: r.statusCode, body: r.payload ? r.json() : null };
  };
  const ingest = async (key: string) => (await t.app.inject({ method: 'POST', url: '/v1/track', headers: { 'x-write-key': key }, payload: { userId: 'u1', event: 'ping' } })).statusCode;

  it('lists the start-up keys by prefix only, and creates a key whose value works and is shown once', async () => {
    const list = (await t.admin('GET', '/api/keys')).body.keys;
    expect(list.map((k: any) => [k.kind, k.label, k.prefix])).toEqual([['admin', 'start-up admin token', `${ADMIN.slice(0, 6)}…`], ['write', 'start-up write key', `${WRITE.slice(0, 6)}…`]]);
    expect(JSON.stringify(list)).not.toContain(ADMIN);
    expect(JSON.stringify(list)).not.toContain(WRITE);

    const made = await t.admin('POST', '/api/keys', { kind: 'admin', label: 'CI deploys' });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ kind: 'admin', label: 'CI deploys', rotatedAt: null, createdAt: new Date(T0).toISOString(), value: expect.stringMatching(/^sta_[\w-]{32}$/) });
    expect(made.body.prefix).toBe(`${made.body.value.slice(0, 10)}…`);
    expect((await call('GET', '/api/segments', made.body.value)).status).toBe(200);
    // Listed without the value, and the store holds its hash only.
    const again = (await t.admin('GET', '/api/keys')).body.keys.find((k: any) => k.id === made.body.id);
    expect(again).toEqual({ id: made.body.id, kind: 'admin', label: 'CI deploys', prefix: made.body.prefix, createdAt: made.body.createdAt, rotatedAt: null, current: false });
    // The list marks the key the request was made with.
    expect((await call('GET', '/api/keys', made.body.value)).body.keys.filter((k: any) => k.current).map((k: any) => k.id)).toEqual([made.body.id]);
    const stored = await t.ctx.store.db.selectFrom('api_keys').selectAll().where('id', '=', made.body.id).executeTakeFirstOrThrow();
    expect(stored.hash).toBe(hashToken(made.body.value));
    expect(JSON.stringify(stored)).not.toContain(made.body.value);

    const write = await t.admin('POST', '/api/keys', { kind: 'write' });
    expect(write.body).toMatchObject({ kind: 'write', label: '' });
    expect(await ingest(write.body.value)).toBe(200);
    expect((await t.admin('POST', '/api/keys', { kind: 'root' })).status).toBe(400);
    expect((await t.admin('POST', '/api/keys', { kind: 'admin', extra: 1 })).body.error.issues).toEqual([{ path: '/extra', message: 'unknown field "extra"' }]);
  });

  it('revokes and rotates with effect at once (the credential cache forgets), and never revokes the last admin token', async () => {
    const keys = (await t.admin('GET', '/api/keys')).body.keys;
    const startupAdmin = keys.find((k: any) => k.kind === 'admin').id;
    const startupWrite = keys.find((k: any) => k.kind === 'write').id;
    const last = await t.admin('DELETE', `/api/keys/${startupAdmin}`);
    expect(last.status).toBe(409);
    expect(last.body.error).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('last admin token') });

    const second = (await t.admin('POST', '/api/keys', { kind: 'admin', label: 'second' })).body;
    // Warm the cache with the key, then revoke it: the very next request is refused.
    expect((await call('GET', '/api/keys', second.value)).status).toBe(200);
    expect((await call('DELETE', `/api/keys/${second.id}`, ADMIN)).status).toBe(204);
    expect((await call('GET', '/api/keys', second.value)).status).toBe(401);
    expect((await t.admin('DELETE', `/api/keys/${second.id}`)).status).toBe(404);

    // The write key: warm, rotate, the old value is refused at once and the new one works.
    expect(await ingest(WRITE)).toBe(200);
    const rotated = await t.admin('POST', `/api/keys/${startupWrite}/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ id: startupWrite, kind: 'write', label: 'start-up write key', rotatedAt: new Date(T0).toISOString(), value: expect.stringMatching(/^stw_/) });
    expect(await ingest(WRITE)).toBe(401);
    expect(await ingest(rotated.body.value)).toBe(200);
    // The SDK snippet follows the write key in force.
    expect((await t.admin('GET', '/api/settings')).body.writeKey).toBe(rotated.body.value);

    // An admin token can revoke itself when another remains; the other one then is the last.
    const other = (await t.admin('POST', '/api/keys', { kind: 'admin' })).body;
    expect((await call('DELETE', `/api/keys/${startupAdmin}`, ADMIN)).status).toBe(204);
    expect((await call('GET', '/api/keys', ADMIN)).status).toBe(401);
    expect((await call('DELETE', `/api/keys/${other.id}`, other.value)).status).toBe(409);
  });

  it('lets a server key adjust points and complete missions, and nothing else', async () => {
    const server = (await t.admin('POST', '/api/keys', { kind: 'server', label: 'shop back end' })).body;
    expect(server.value).toMatch(/^sts_/);
    const adjust = await call('POST', '/api/users/u1/points', server.value, { amount: 10, reason: 'support gesture', ref: 'ticket-1' });
    expect(adjust.status).toBe(200);
    expect(adjust.body).toMatchObject({ balance: 10, duplicate: false });
    const mission = (await t.admin('POST', '/api/missions', { name: 'Review', points: 25, goal: { kind: 'count', event: 'review', target: 3 } })).body;
    const done = await call('POST', `/api/users/u1/missions/${mission.id}/complete`, server.value, { ref: 'order-7' });
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ missionId: mission.id, completion: 1, points: 25, at: new Date(T0).toISOString(), duplicate: false });
    expect((await call('POST', `/api/users/u1/missions/${mission.id}/complete`, server.value, { ref: 'order-7' })).body).toMatchObject({ completion: 1, duplicate: true });
    const twice = await call('POST', `/api/users/u1/missions/${mission.id}/complete`, server.value, {});
    expect(twice.status).toBe(409);
    expect(twice.body.error.message).toContain('can be completed once');
    expect((await t.admin('GET', '/api/users/u1/points')).body.balance).toBe(35);
    const [m] = (await t.admin('GET', '/api/users/u1/missions')).body.missions;
    expect(m.progress).toMatchObject({ completions: 1, completed: true, current: 3, target: 3 });
    // The completion is an event like any other: $mission_completed is stored.
    const events = (await t.admin('GET', '/api/users/u1/events')).body;
    expect(JSON.stringify(events)).toContain('$mission_completed');

    for (const [method, url] of [['GET', '/api/users/u1/points'], ['GET', '/api/segments'], ['POST', '/api/keys'], ['GET', '/api/settings'], ['DELETE', `/api/missions/${mission.id}`]] as const) {
      const r = await call(method, url, server.value, method === 'POST' ? { kind: 'admin' } : undefined);
      expect(r.status, `${method} ${url}`).toBe(403);
      expect(r.body.error.message).toContain('a server key may only adjust points');
    }
    // Nor is it a write key.
    expect(await ingest(server.value)).toBe(403);
    // A write key can never act as a server key.
    const w = await call('POST', '/api/users/u1/points', WRITE, { amount: 10, reason: 'x' });
    expect(w.status).toBe(403);
    expect(w.body.error.message).toContain('can never act as an admin token or a server key');
    expect((await call('POST', `/api/users/u1/missions/${mission.id}/complete`, WRITE, {})).status).toBe(403);
  });

  it('refuses a completion the mission does not allow, naming why', async () => {
    const pro = (await t.admin('POST', '/api/segments', { name: 'Free', condition: { attr: 'traits.plan', op: 'eq', value: 'free' } })).body;
    const targeted = (await t.admin('POST', '/api/missions', { name: 'Upgrade', points: 5, segmentIds: [pro.id], goal: { kind: 'count', event: 'upgrade', target: 1 } })).body;
    const r = await t.admin('POST', `/api/users/u1/missions/${targeted.id}/complete`);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('NOT_IN_SEGMENT');
    const off = (await t.admin('POST', '/api/missions', { name: 'Off', points: 5, active: false, goal: { kind: 'count', event: 'x', target: 1 } })).body;
    expect((await t.admin('POST', `/api/users/u1/missions/${off.id}/complete`)).body.error.message).toContain('switched off');
    expect((await t.admin('POST', '/api/users/nobody/missions/x/complete')).status).toBe(404);
    expect((await t.admin('POST', `/api/users/nobody/missions/${off.id}/complete`)).body.error.message).toContain('no user');
    const repeat = (await t.admin('POST', '/api/missions', { name: 'Daily', points: 1, repeatable: true, cooldown: '1d', goal: { kind: 'count', event: 'x', target: 1 } })).body;
    expect((await t.admin('POST', `/api/users/u1/missions/${repeat.id}/complete`)).body.completion).toBe(1);
    expect((await t.admin('POST', `/api/users/u1/missions/${repeat.id}/complete`)).body.error.message).toContain('cooldown');
    t.clock.advance(86_400_000);
    expect((await t.admin('POST', `/api/users/u1/missions/${repeat.id}/complete`)).body.completion).toBe(2);
  });

  it('creates, lists and deletes projects with the root token only; a deletion leaves no row of the project in any table', async () => {
    for (const token of [null, 'str_wrong']) expect((await call('GET', '/api/projects', token)).status).toBe(401);
    for (const token of [ADMIN, WRITE]) {
      const r = await call('GET', '/api/projects', token);
      expect(r.status).toBe(403);
      expect(r.body.error.message).toContain('root token');
    }
    // The root token reaches no project's data.
    expect((await call('GET', '/api/segments', ROOT)).status).toBe(403);
    expect((await call('POST', '/api/projects', ROOT, { name: '' })).status).toBe(400);
    expect((await call('POST', '/api/projects', ROOT, { name: '   ' })).body.error.issues[0].path).toBe('/name');

    const made = await call('POST', '/api/projects', ROOT, { name: 'Shop' });
    expect(made.status).toBe(201);
    const { project, adminToken, writeKey } = made.body;
    expect(project).toEqual({ id: expect.stringMatching(/^prj_[0-9a-f]{16}$/), name: 'Shop', createdAt: new Date(T0).toISOString() });
    expect(adminToken).toMatchObject({ kind: 'admin', value: expect.stringMatching(/^sta_/) });
    expect(writeKey).toMatchObject({ kind: 'write', value: expect.stringMatching(/^stw_/) });
    expect((await call('GET', '/api/projects', ROOT)).body.projects.map((p: any) => p.id)).toEqual(['default', project.id]);

    // Fill the new project through its own keys: people, events, segments, missions, points, webhooks, keys.
    expect(await ingest(writeKey.value)).toBe(200);
    const send = async (batch: unknown[]) => (await t.app.inject({ method: 'POST', url: '/v1/batch', headers: { 'x-write-key': writeKey.value }, payload: { batch } })).statusCode;
    expect(await send([{ type: 'identify', userId: 'u1', anonymousId: 'a1', traits: { plan: 'pro' }, context: { locale: 'de' } }, { type: 'track', userId: 'u1', event: 'buy' }, { type: 'track', userId: 'u1', event: '' }])).toBe(200);
    const a = adminToken.value;
    const seg = (await call('POST', '/api/segments', a, { name: 'Pro', condition: { attr: 'traits.plan', op: 'eq', value: 'pro' } })).body;
    expect((await call('POST', `/api/segments/${seg.id}/members`, a, { userIds: ['u1'] })).status).toBeLessThan(300);
    await call('POST', '/api/missions', a, { name: 'Buy', points: 5, goal: { kind: 'count', event: 'buy', target: 1 } });
    expect((await call('POST', '/api/users/u1/points', a, { amount: 5, reason: 'x' })).status).toBe(200);
    expect((await call('POST', '/api/webhooks', a, { url: 'https://example.com/hook' })).status).toBe(201);
    await call('POST', '/api/keys', a, { kind: 'server' });
    const before = await rowsOf(t.ctx.store, project.id);
    for (const table of ['profiles', 'events', 'profile_keys', 'memberships', 'segments', 'missions', 'points_ledger', 'webhooks', 'api_keys', 'contexts']) {
      expect(before[table], table).toBeGreaterThan(0);
    }
    const defaultBefore = await rowsOf(t.ctx.store, 'default');

    expect((await call('DELETE', `/api/projects/${project.id}`, a)).status).toBe(403);
    const del = await call('DELETE', `/api/projects/${project.id}`, ROOT);
    expect(del.status).toBe(200);
    expect(del.body.deleted).toMatchObject({ profiles: before.profiles, events: before.events, projects: 1 });
    expect(await rowsOf(t.ctx.store, project.id)).toEqual({});
    expect(await t.ctx.store.getProject(project.id)).toBeNull();
    // The other project is untouched, and the deleted one's keys stop working at once.
    expect(await rowsOf(t.ctx.store, 'default')).toEqual(defaultBefore);
    expect((await call('GET', '/api/segments', a)).status).toBe(401);
    expect(await ingest(writeKey.value)).toBe(401);
    expect((await call('DELETE', `/api/projects/${project.id}`, ROOT)).status).toBe(404);
    const dflt = await call('DELETE', '/api/projects/default', ROOT);
    expect(dflt.status).toBe(409);
    // The engine's clock keeps running without writing anything for the deleted project.
    t.clock.advance(60_000);
    await t.ctx.engine.tick();
    expect(await rowsOf(t.ctx.store, project.id)).toEqual({});
  });

  it('a deletion the store refuses (503) leaves the project whole and working: the engine does not take it for deleted', async () => {
    const { project, adminToken, writeKey } = (await call('POST', '/api/projects', ROOT, { name: 'Shop' })).body;
    expect(await ingest(writeKey.value)).toBe(200);
    // Applied first: the next transaction is then the deletion's.
    await t.ctx.ingest.drain();
    // The store fails the deletion's transaction at its end (as a full disk or a lost connection would).
    let fail = true;
    t.ctx.engine.beforeCommit(async () => {
      if (fail) { fail = false; throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' }); }
    });
    const del = await call('DELETE', `/api/projects/${project.id}`, ROOT);
    expect(del.status).toBe(503);
    expect(await t.ctx.store.getProject(project.id)).not.toBeNull();
    // Nothing was deleted: its keys and its data answer as before, and its writes are stored.
    expect(await ingest(writeKey.value)).toBe(200);
    expect((await call('POST', '/api/segments', adminToken.value, { name: 'Pro', condition: { attr: 'traits.plan', op: 'eq', value: 'pro' } })).status).toBe(201);
    // Deleting it again works.
    expect((await call('DELETE', `/api/projects/${project.id}`, ROOT)).status).toBe(200);
    expect(await rowsOf(t.ctx.store, project.id)).toEqual({});
  });

  it('deletes from every table that holds a project_id (a table added later must join PROJECT_TABLES)', async () => {
    expect(await tablesWithProject(t.ctx.store)).toEqual([...PROJECT_TABLES, 'api_keys'].sort());
  });
});

/** Takes a migrated store back to before 0017: the old projects table (credentials in it), and 0017 not applied. */
async function backTo0016(store: SqlStore): Promise<Kysely<Database>> {
  const db = store.db as unknown as Kysely<Database>;
  await sql`DROP TABLE api_keys`.execute(db);
  await sql`DROP TABLE projects`.execute(db);
  await sql`DELETE FROM strata_migrations WHERE name = '0017_keys'`.execute(db);
  await sql.raw(`CREATE TABLE projects (id TEXT PRIMARY KEY, name TEXT NOT NULL, write_key TEXT NOT NULL UNIQUE, admin_token_hash TEXT NOT NULL UNIQUE,
    settings ${store.dialect === 'postgres' ? 'JSONB' : 'TEXT'} NOT NULL DEFAULT '{}', created_at BIGINT NOT NULL, admin_token_prefix TEXT)`).execute(db);
  return db;
}

describe.each(backends.map((b) => [b.name, b] as const))('migration 0017 on %s', (_n, backend) => {
  it("moves each project's admin token and write key into api_keys: they keep working", async () => {
    // A store as 0016 left it: the schema up to 0016, with a project holding its credentials in `projects`.
    const store = await backend.open();
    try {
      const db = await backTo0016(store);
      await sql`INSERT INTO projects (id, name, write_key, admin_token_hash, settings, created_at, admin_token_prefix) VALUES
        ('p_old', 'Old', 'stw_old_write_key', ${hashToken('sta_old_admin_token')}, '{}', ${T0}, 'sta_old…'),
        ('p_older', 'Older', 'stw_older_key', ${hashToken('sta_older_admin')}, '{}', ${T0}, NULL)`.execute(db);

      await store.migrate();
      const keys = new KeyStore(store.db);
      expect(await keys.find('sta_old_admin_token')).toMatchObject({ projectId: 'p_old', kind: 'admin', label: 'start-up admin token', prefix: 'sta_old…', createdAt: T0 });
      expect(await keys.find('stw_old_write_key')).toMatchObject({ projectId: 'p_old', kind: 'write', label: 'start-up write key' });
      expect(await keys.find('sta_older_admin')).toMatchObject({ projectId: 'p_older', kind: 'admin' });
      expect(await keys.firstWriteKey('p_older')).toBe('stw_older_key');
      expect(await store.getProject('p_old')).toEqual({ id: 'p_old', name: 'Old', createdAt: T0, settings: {} });
      const cols = store.dialect === 'postgres'
        ? (await sql<{ c: string }>`SELECT column_name AS c FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'projects'`.execute(db)).rows.map((r) => r.c)
        : (await sql<{ c: string }>`SELECT name AS c FROM pragma_table_info('projects')`.execute(db)).rows.map((r) => r.c);
      expect(cols.sort()).toEqual(['created_at', 'id', 'name', 'settings']);
    } finally {
      await store.close();
    }
  });

  it('upgrades a store whose admin token is its write key (the previous version allowed it): the public value stays a write key only, and the next start makes an admin token', async () => {
    const store = await backend.open();
    try {
      const db = await backTo0016(store);
      // STRATA_ADMIN_TOKEN=STRATA_WRITE_KEY=devdevdevdev on the previous version.
      await sql`INSERT INTO projects (id, name, write_key, admin_token_hash, settings, created_at, admin_token_prefix) VALUES
        ('default', 'Default project', 'devdevdevdev', ${hashToken('devdevdevdev')}, '{}', ${T0}, 'deve…')`.execute(db);
      await store.migrate();
      expect(await new KeyStore(store.db).find('devdevdevdev')).toMatchObject({ projectId: 'default', kind: 'write' });
      // A start with the same value in STRATA_ADMIN_TOKEN stops, naming the write key it is.
      await expect(ensureDefaultProject(store, configFromEnv({ STRATA_ADMIN_TOKEN: 'devdevdevdev' }), T0 + 1)).rejects.toThrow(/is the value of another key \(devd…, "start-up write key"\)/);
      // Without it: nobody could manage the project without an admin token, so the start makes one and prints it.
      const started = await ensureDefaultProject(store, configFromEnv({}), T0 + 2);
      expect(started.adminToken).toMatchObject({ change: 'created', fromEnv: false, value: expect.stringMatching(/^sta_/) });
      expect(await new KeyStore(store.db).find(started.adminToken.value!)).toMatchObject({ projectId: 'default', kind: 'admin' });
      await expect(ensureDefaultProject(store, configFromEnv({ STRATA_ADMIN_TOKEN: 'devdevdevdev' }), T0 + 3)).rejects.toThrow(/start-up write key/);
    } finally {
      await store.close();
    }
  });

  it('a migration that fails changes nothing (SQLite too): once the cause is gone, the next start migrates', async () => {
    const store = await backend.open();
    try {
      const db = await backTo0016(store);
      // Two projects with the same admin token hash cannot both move into api_keys (hash is unique): 0017 fails half way.
      await sql`INSERT INTO projects (id, name, write_key, admin_token_hash, settings, created_at, admin_token_prefix) VALUES
        ('p_a', 'A', 'stw_a', ${hashToken('sta_twice')}, '{}', ${T0}, NULL),
        ('p_b', 'B', 'stw_b', ${hashToken('sta_other')}, '{}', ${T0}, NULL)`.execute(db);
      await sql`UPDATE projects SET write_key = 'sta_twice' WHERE id = 'p_b'`.execute(db);
      await expect(store.migrate()).rejects.toThrow(/0017_keys/);
      // As before the attempt: no api_keys table, 0017 not recorded, projects untouched.
      const tables = store.dialect === 'postgres'
        ? (await sql<{ t: string }>`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema()`.execute(db)).rows.map((r) => r.t)
        : (await sql<{ t: string }>`SELECT name AS t FROM sqlite_master WHERE type = 'table'`.execute(db)).rows.map((r) => r.t);
      expect(tables).not.toContain('api_keys');
      expect(tables).not.toContain('projects_v2');
      expect((await sql<{ n: number }>`SELECT count(*) AS n FROM projects WHERE write_key IS NOT NULL`.execute(db)).rows.map((r) => Number(r.n))).toEqual([2]);

      await sql`UPDATE projects SET write_key = 'stw_b' WHERE id = 'p_b'`.execute(db);
      await store.migrate();
      expect(await new KeyStore(store.db).find('sta_twice')).toMatchObject({ projectId: 'p_a', kind: 'admin' });
      expect(await new KeyStore(store.db).find('stw_b')).toMatchObject({ projectId: 'p_b', kind: 'write' });
    } finally {
      await store.close();
    }
  });
});
