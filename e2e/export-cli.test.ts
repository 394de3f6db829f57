import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp, createContext, ensureDefaultProject, configFromEnv } from '@strata/server';
import { openTestSqlite } from '@strata/store/testing';
import type { FastifyInstance } from 'fastify';

// `strata export` as a user runs it: the real CLI in a child process, against a served Strata.
const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const ADMIN = 'sta_e2e_export';
let app: FastifyInstance;
let base: string;
let close: () => Promise<void>;
const dir = mkdtempSync(join(tmpdir(), 'strata-export-cli-'));

beforeAll(async () => {
  const store = await openTestSqlite();
  const config = { ...configFromEnv({}), adminToken: ADMIN, writeKey: 'stw_e2e_export' };
  await ensureDefaultProject(store, config, Date.now());
  const ctx = createContext(store, config);
  await ctx.engine.start(0);
  app = await buildApp(ctx);
  base = await app.listen({ port: 0, host: '127.0.0.1' });
  close = async () => { await app.close(); await ctx.ingest.drain(); await ctx.engine.stop(); await store.close(); rmSync(dir, { recursive: true, force: true }); };
  const send = (path: string, body: object) => app.inject({ method: 'POST', url: path, headers: { 'x-write-key': 'stw_e2e_export' }, payload: body });
  await send('/v1/identify', { userId: 'ann', traits: { plan: 'pro', city: 'Paris, FR' } });
  await send('/v1/identify', { userId: 'bob', traits: { plan: 'pro' } });
  await send('/v1/identify', { userId: 'cy', traits: { plan: 'free' } });
  await app.inject({ method: 'POST', url: '/api/segments', headers: { authorization: `Bearer ${ADMIN}` }, payload: { name: 'Pro users', condition: { attr: 'traits.plan', op: 'eq', value: 'pro' } } });
});
afterAll(async () => close());

const cli = (args: string[], env: Record<string, string> = { STRATA_URL: base, STRATA_ADMIN_TOKEN: ADMIN }) =>
  run(process.execPath, ['--import', 'tsx', 'packages/cli/src/main.ts', 'export', ...args], { cwd: root, env: { ...process.env, ...env } });

it('exports a segment by name to a file, and as NDJSON to stdout', async () => {
  const out = join(dir, 'pro.csv');
  await cli(['Pro users', '--traits', 'city', '--out', out]);
  const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
  expect(lines[0]).toBe('userId,anonymousId,since,city');
  expect(lines.slice(1).map((l) => l.replace(/,[^,]*Z,/, ',T,'))).toEqual(['ann,,T,"Paris, FR"', 'bob,,T,']);
  expect(existsSync(`${out}.part`)).toBe(false);

  const { stdout } = await cli(['Pro users', '--format', 'ndjson']);
  expect(stdout.trimEnd().split('\n').map((l) => JSON.parse(l).userId)).toEqual(['ann', 'bob']);
});

it('fails with a message for an unknown segment and without a token', async () => {
  await expect(cli(['Nope'])).rejects.toMatchObject({ stderr: expect.stringContaining('no segment with id or name "Nope"') });
  await expect(cli(['Pro users'], { STRATA_URL: base, STRATA_ADMIN_TOKEN: '' })).rejects.toMatchObject({ stderr: expect.stringContaining('STRATA_ADMIN_TOKEN') });
});
