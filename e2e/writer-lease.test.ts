import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { postgresReachable } from '@strata/store';
import { TEST_PG_URL, withTestPgSchema } from '@strata/store/testing';

// Two real `strata serve` processes on one database: the second is refused before it listens,
// naming the first, and the first keeps serving (docs/operations.md, "One writer per database").

const root = join(import.meta.dirname, '..');
const ADMIN = 'sta_lease_admin';
const WRITE = 'stw_lease_write';
const children = new Set<ChildProcess>();
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
});

interface Run { readonly child: ChildProcess; readonly output: () => string; readonly stderr: () => string; readonly exited: Promise<number | null> }

function run(env: Record<string, string>): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'packages/cli/src/main.ts'), 'serve'], {
    cwd: root, env: { ...process.env, HOST: '127.0.0.1', STRATA_ADMIN_TOKEN: ADMIN, STRATA_WRITE_KEY: WRITE, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '', err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => { out += d; err += d; });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => { children.delete(child); r(code); }));
  return { child, output: () => out, stderr: () => err, exited };
}

/** Starts `strata serve` on a port the system picks; resolves with its address once it serves. */
async function serving(env: Record<string, string>): Promise<Run & { base: string }> {
  const r = run({ PORT: '0', ...env });
  for (let i = 0; i < 300; i++) {
    const m = /Strata is serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(r.output());
    if (m) return { ...r, base: m[1]! };
    if (r.child.exitCode !== null) throw new Error(`strata exited: ${r.output()}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`strata did not start: ${r.output()}`);
}

async function track(base: string, userId: string): Promise<number> {
  const r = await fetch(`${base}/v1/track`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-write-key': WRITE }, body: JSON.stringify({ userId, event: 'opened' }) });
  await r.arrayBuffer();
  return r.status;
}

/** A second start on the same database: exit 1 with the refusal on stderr, having never listened on its port. */
async function refusedSecond(env: Record<string, string>, first: Run, target: string): Promise<void> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const second = run({ PORT: String(port), ...env });
  const code = await Promise.race([second.exited, new Promise((r) => setTimeout(() => r('still running'), 30_000))]);
  expect(code).toBe(1);
  expect(second.stderr()).toContain(`strata: another Strata process already writes to ${target}: pid ${first.child.pid} on host ${hostname()}, since `);
  expect(second.stderr()).toMatch(/one writer per database/);
  expect(second.output()).not.toMatch(/listening|serving/);
  await expect(fetch(`http://127.0.0.1:${port}/api/health`)).rejects.toThrow();
}

/** The first process still serves: ready, ingest acknowledged, the user readable. */
async function stillServes(base: string, userId: string): Promise<void> {
  const ready = await fetch(`${base}/api/health/ready`);
  expect(ready.status).toBe(200);
  expect(await track(base, userId)).toBe(200);
  const u = await fetch(`${base}/api/users/${userId}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(u.status).toBe(200);
}

async function stop(r: Run): Promise<number | null> {
  r.child.kill('SIGTERM');
  return r.exited;
}

describe('two strata serve on one database', () => {
  it('SQLite data dir: the second exits 1 naming the first, which keeps serving; once the first stops, a start succeeds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-lease-e2e-'));
    try {
      const env = { STRATA_DATA_DIR: dir };
      const first = await serving(env);
      expect(await track(first.base, 'before')).toBe(200);
      await refusedSecond(env, first, `SQLite data dir ${resolve(dir)}`);
      await stillServes(first.base, 'after-refusal');
      expect(await stop(first)).toBe(0);
      const next = await serving(env);
      await stillServes(next.base, 'next');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL schema: the second exits 1 naming the first and its session, which keeps serving', async (ctx) => {
    if (!(await postgresReachable(TEST_PG_URL))) {
      console.warn(`[strata tests] skipped: no PostgreSQL server at ${TEST_PG_URL} for the two-writers test`);
      ctx.skip();
    }
    await withTestPgSchema('strata_lease_e2e', async ({ url, schema }) => {
      const env = { DATABASE_URL: url };
      const first = await serving(env);
      const u = new URL(TEST_PG_URL);
      await refusedSecond(env, first, `PostgreSQL database "${u.pathname.slice(1)}", schema "${schema}" on ${u.hostname}:${u.port || '5432'}`);
      await stillServes(first.base, 'after-refusal');
      expect(await stop(first)).toBe(0);
      const next = await serving(env);
      await stillServes(next.base, 'next');
      expect(await stop(next)).toBe(0);
    });
  });
});
