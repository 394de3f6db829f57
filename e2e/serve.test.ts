import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { postgresReachable } from '@strata/store';
import { NATS_URL, natsUnavailable, TEST_PG_URL, testPrefixes, withTestPgSchema } from '@strata/store/testing';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';

// The real CLI, as `npm start` runs it, on each store.
const root = join(import.meta.dirname, '..');
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGTERM');
});

async function start(env: Record<string, string>): Promise<{ base: string; output: () => string }> {
  const port = String(20000 + Math.floor(Math.random() * 20000));
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'packages/cli/src/main.ts'), 'serve'], {
    cwd: root, env: { ...process.env, PORT: port, HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (out.includes('Strata is serving')) return { base, output: () => out };
    if (child.exitCode !== null) throw new Error(`strata exited: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`strata did not start: ${out}`);
}

async function roundTrip(base: string, admin: string, write: string): Promise<void> {
  expect(await (await fetch(`${base}/api/health`)).json()).toEqual({ status: 'ok' });
  const ready = await fetch(`${base}/api/health/ready`);
  expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready' }]);
  const t = await fetch(`${base}/v1/track`, { method: 'POST', headers: { 'content-type': 'text/plain', authorization: `Basic ${Buffer.from(`${write}:`).toString('base64')}` }, body: JSON.stringify({ userId: 'cli-user', event: 'opened' }) });
  expect(t.status).toBe(200);
  const u = await fetch(`${base}/api/users/cli-user`, { headers: { authorization: `Bearer ${admin}` } });
  expect(u.status).toBe(200);
  const spec = await (await fetch(`${base}/openapi.json`)).json() as { openapi: string; paths: Record<string, unknown> };
  expect(spec.openapi).toBe('3.1.0');
  for (const p of ['/v1/batch', '/v1/track', '/api/segments', '/api/segments/preview', '/api/segments/{id}/members', '/api/users/{id}', '/api/users/{id}/segments']) expect(Object.keys(spec.paths)).toContain(p);
  const docs = await fetch(`${base}/docs/`);
  expect(docs.status).toBe(200);
  expect(await docs.text()).toMatch(/swagger/i);
}

describe('strata serve', () => {
  it('starts on the embedded store, prints the admin token it generated once (later starts only its prefix), and serves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-serve-'));
    try {
      const first = await start({ STRATA_DATA_DIR: dir });
      // It listens first (health answers during the load), says when the engine is loaded (a JSON log line), then serves.
      const out = first.output();
      expect(out.indexOf('Strata is listening on')).toBeGreaterThan(-1);
      expect(out.indexOf('Strata is listening on')).toBeLessThan(out.indexOf('Strata is serving'));
      const loaded = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((l) => l.msg === 'engine loaded: ready');
      expect(loaded).toMatchObject({ level: 'info', projects: 1, loadMs: expect.any(Number) });
      const admin = /admin token: (\S+)/.exec(first.output())![1]!;
      const write = /write key: +(\S+)/.exec(first.output())![1]!;
      await roundTrip(first.base, admin, write);
      // The next start waits for this one's exit: until then it holds the data dir's writer lease.
      const stopping = children.pop()!;
      const exited = new Promise((r) => stopping.once('exit', r));
      stopping.kill('SIGTERM');
      await exited;
      const second = await start({ STRATA_DATA_DIR: dir });
      // A later start keeps the stored credentials: the write key in full, the token by its prefix only.
      expect(second.output()).not.toContain(admin);
      expect(second.output()).toMatch(/admin token: +\S+ \(stored; set STRATA_ADMIN_TOKEN to replace it\)/);
      expect(second.output()).toContain(write);
      const u = await fetch(`${second.base}/api/users/cli-user`, { headers: { authorization: `Bearer ${admin}` } });
      expect(u.status).toBe(200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts on PostgreSQL when DATABASE_URL is set', async (ctx) => {
    if (!(await postgresReachable(TEST_PG_URL))) {
      console.warn(`[strata tests] skipped: no PostgreSQL server at ${TEST_PG_URL} for the DATABASE_URL start test`);
      ctx.skip();
    }
    await withTestPgSchema('strata_cli', async ({ url, schema, client }) => {
      try {
        const s = await start({ DATABASE_URL: url, STRATA_ADMIN_TOKEN: 'sta_pg_cli', STRATA_WRITE_KEY: 'stw_pg_cli' });
        expect(s.output()).toMatch(/store: PostgreSQL/);
        await roundTrip(s.base, 'sta_pg_cli', 'stw_pg_cli');
        const n = await client.query(`SELECT count(*)::int AS n FROM ${schema}.events`);
        expect(n.rows[0].n).toBeGreaterThan(0);
      } finally {
        for (const c of children.splice(0)) c.kill('SIGTERM');
        await new Promise((r) => setTimeout(r, 300));
      }
    });
  });

  it('keeps its event log on NATS JetStream when STRATA_NATS_URL is set, and refuses to start when NATS does not answer', async (ctx) => {
    const why = (await natsUnavailable()) ?? ((await postgresReachable(TEST_PG_URL)) ? null : `no PostgreSQL server at ${TEST_PG_URL}`);
    if (why !== null) {
      console.warn(`[strata tests] skipped: the STRATA_NATS_URL start test needs NATS with JetStream and PostgreSQL: ${why}`);
      ctx.skip();
    }
    const prefix = testPrefixes('cli').next();
    await withTestPgSchema('strata_cli_nats', async ({ url }) => {
      try {
        const env = { DATABASE_URL: url, STRATA_ADMIN_TOKEN: 'sta_nats_cli', STRATA_WRITE_KEY: 'stw_nats_cli', STRATA_NATS_URL: NATS_URL, STRATA_NATS_PREFIX: prefix };
        const s = await start(env);
        expect(s.output()).toContain(`event log: NATS JetStream at ${NATS_URL}, stream ${prefix.toUpperCase()}_EVENTS, 16 partitions`);
        await roundTrip(s.base, 'sta_nats_cli', 'stw_nats_cli');
        const metrics = await (await fetch(`${s.base}/metrics`)).text();
        expect(metrics).toMatch(/^strata_event_log_partitions\{log="jetstream"\} 16$/m);
        for (const c of children.splice(0)) c.kill('SIGTERM');
        await new Promise((r) => setTimeout(r, 500));
        // NATS not there: the start fails within seconds, saying why, before it listens.
        const began = Date.now();
        const down = spawn(process.execPath, ['--import', 'tsx', join(root, 'packages/cli/src/main.ts'), 'serve'], {
          cwd: root, env: { ...process.env, PORT: '0', ...env, STRATA_NATS_URL: 'nats://127.0.0.1:1' }, stdio: ['ignore', 'pipe', 'pipe'],
        });
        let err = '';
        down.stderr!.on('data', (d) => (err += d));
        const code = await new Promise((r) => down.once('exit', r));
        expect(code).toBe(1);
        expect(err).toMatch(/strata: the event log on NATS JetStream at nats:\/\/127\.0\.0\.1:1 \(prefix "cli\w+", 16 partitions\) could not be opened/);
        expect(Date.now() - began).toBeLessThan(20_000);
      } finally {
        for (const c of children.splice(0)) c.kill('SIGTERM');
        await new Promise((r) => setTimeout(r, 300));
        const nc = await connect({ servers: NATS_URL });
        await (await jetstreamManager(nc)).streams.delete(`${prefix.toUpperCase()}_EVENTS`).catch(() => false);
        await nc.close();
      }
    });
  }, 60_000);
});
