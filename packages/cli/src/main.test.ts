import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runStrata, startStrata, STRATA_BIN } from './run-cli.ts';

const ROOT_BIN = fileURLToPath(new URL('../../../node_modules/.bin/strata', import.meta.url));

/** `strata` as a process: where its usage goes and how it exits. */
describe('the strata command', () => {
  it('is linked at the repository root by npm install (npx strata)', async () => {
    expect(existsSync(ROOT_BIN)).toBe(true);
    expect(realpathSync(ROOT_BIN)).toBe(realpathSync(STRATA_BIN));
    const r = await runStrata(['--help'], {}, ROOT_BIN);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: strata <command>/);
  }, 60_000);

  it('prints usage on stdout and exits 0 for --help, -h and help', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = await runStrata(args);
      expect([args, r.code, r.stderr]).toEqual([args, 0, '']);
      expect(r.stdout).toContain('usage: strata <command>');
      for (const c of ['serve', 'demo', 'import', 'export']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    }
  }, 60_000);

  it('exits 2 with usage on stderr for no command or an unknown one', async () => {
    const none = await runStrata([]);
    expect([none.code, none.stdout]).toEqual([2, '']);
    expect(none.stderr).toContain('usage: strata <command>');
    const unknown = await runStrata(['frobnicate']);
    expect([unknown.code, unknown.stdout]).toEqual([2, '']);
    expect(unknown.stderr).toMatch(/^strata: unknown command "frobnicate"\n/);
    expect(unknown.stderr).toContain('usage: strata <command>');
  }, 60_000);

  it('gives each command its own --help on stdout, exit 0', async () => {
    const calls = [...['serve', 'demo', 'import', 'export'].map((c) => [c, '--help']), ['import', '-h'], ['help', 'demo'], ['export', 'vip', '--help']];
    for (const args of calls) {
      const r = await runStrata(args);
      expect([args, r.code, r.stderr]).toEqual([args, 0, '']);
      expect(r.stdout).toMatch(new RegExp(`^usage: strata ${args[0] === 'help' ? args[1] : args[0]}\\b`));
    }
  }, 120_000);

  it('exits 2 with the command usage on stderr for a command line that cannot run', async () => {
    const cases: [string[], RegExp][] = [
      [['serve', 'extra'], /^strata serve: serve takes no arguments/],
      [['demo', 'many'], /^strata demo: USERS is a whole number/],
      [['import'], /^strata import: give the FILE to import/],
      [['import', 'users.csv'], /^strata import: give the --kind/],
      [['import', 'users.csv', '--kind', 'users', '--nope'], /^strata import: Unknown option '--nope'/],
      [['export'], /^strata export: give the SEGMENT/],
      [['export', 'vip', '--format', 'xml'], /^strata export: --format is csv or ndjson/],
    ];
    for (const [args, message] of cases) {
      const r = await runStrata(args, { STRATA_ADMIN_TOKEN: 'sta_x' });
      expect([args, r.code, r.stdout]).toEqual([args, 2, '']);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain(`usage: strata ${args[0]}`);
    }
  }, 120_000);

  it('exits 1 when a run fails (no server to export from)', async () => {
    const r = await runStrata(['export', 'vip'], { STRATA_URL: 'http://127.0.0.1:9', STRATA_ADMIN_TOKEN: 'sta_x' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^strata: /);
  }, 60_000);
});

/**
 * The token rule (README "Run it"): the first start of a data dir creates and prints both
 * credentials; later starts keep them and print the write key and the token's prefix only; an
 * environment value that differs replaces the stored one and the start says so.
 */
describe('credentials across starts of one data dir', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-tokens-'));
  const base = { PORT: '0', STRATA_DATA_DIR: dir, STRATA_ADMIN_TOKEN: '', STRATA_WRITE_KEY: '', DATABASE_URL: '' };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const status = async (url: string, token: string) => (await fetch(`${url}/api/segments`, { headers: { authorization: `Bearer ${token}` } })).status;
  const lines = (stdout: string) => stdout.split('\n').filter((l) => /^ {2}(admin token|write key):/.test(l));

  it('creates and prints, keeps without printing the token, replaces with a line saying so', async () => {
    // 1. First start: both generated, both printed in full.
    const first = await startStrata(['serve'], base);
    expect(first.stdout).toMatch(/^Strata created the default project \(first start of this store\)/m);
    const token = /admin token: (sta_\S+) \(generated; shown only now, keep it\)/.exec(first.stdout)?.[1];
    const key = /write key: {3}(stw_\S+) \(generated\)/.exec(first.stdout)?.[1];
    expect(token).toBeDefined();
    expect(key).toBeDefined();
    expect(await status(first.url, token!)).toBe(200);
    expect(await first.stop()).toMatchObject({ code: 0, signal: null });

    // 2. Later start without the env vars: kept; the write key in full, the token by its prefix only.
    const second = await startStrata(['serve'], base);
    expect(second.stdout).not.toContain(token!);
    expect(lines(second.stdout)).toEqual([
      `  admin token: ${token!.slice(0, 10)}… (stored; set STRATA_ADMIN_TOKEN to replace it)`,
      `  write key:   ${key} (stored; set STRATA_WRITE_KEY to replace it)`,
    ]);
    expect(await status(second.url, token!)).toBe(200);
    expect(await second.stop()).toMatchObject({ code: 0, signal: null });

    // 3. A different token in the environment replaces the stored one, and the start says so.
    const mine = 'sta_operator_chosen_token_0123456789';
    const third = await startStrata(['serve'], { ...base, STRATA_ADMIN_TOKEN: mine });
    expect(third.stdout).not.toContain(mine);
    expect(lines(third.stdout)).toEqual([
      `  admin token: sta_operat… REPLACED by STRATA_ADMIN_TOKEN: the previous one (${token!.slice(0, 10)}…) no longer works`,
      `  write key:   ${key} (stored; set STRATA_WRITE_KEY to replace it)`,
    ]);
    expect(await status(third.url, token!)).toBe(401);
    expect(await status(third.url, mine)).toBe(200);
    expect(await third.stop()).toMatchObject({ code: 0, signal: null });

    // 4. The same value again changes nothing; without it the replaced token stays in force.
    const fourth = await startStrata(['serve'], { ...base, STRATA_ADMIN_TOKEN: mine });
    expect(lines(fourth.stdout)[0]).toBe('  admin token: sta_operat… (from STRATA_ADMIN_TOKEN, as stored)');
    expect(await fourth.stop()).toMatchObject({ code: 0, signal: null });
    const fifth = await startStrata(['serve'], base);
    expect(lines(fifth.stdout)[0]).toBe('  admin token: sta_operat… (stored; set STRATA_ADMIN_TOKEN to replace it)');
    expect(await status(fifth.url, mine)).toBe(200);
    expect(await fifth.stop()).toMatchObject({ code: 0, signal: null });
  }, 240_000);

  it('replaces a write key the same way', async () => {
    const start = await startStrata(['serve'], { ...base, STRATA_WRITE_KEY: 'stw_chosen_key' });
    const [, keyLine] = lines(start.stdout);
    expect(keyLine).toMatch(/^ {2}write key: {3}stw_chosen_key REPLACED by STRATA_WRITE_KEY: the previous one \(stw_\S{6}…\) no longer works$/);
    expect(await start.stop()).toMatchObject({ code: 0, signal: null });
  }, 120_000);
});

/** `strata import` as a process against a running `strata serve`: a dry run's counts, then the real run's. */
describe('strata import --dry-run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-import-cli-'));
  const token = 'sta_import_cli_test_token';
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says what it would do, counted as the real run of the same file then counts', async () => {
    const server = await startStrata(['serve'], { PORT: '0', STRATA_DATA_DIR: join(dir, 'data'), STRATA_ADMIN_TOKEN: token, STRATA_WRITE_KEY: '', DATABASE_URL: '' });
    try {
      const env = { STRATA_URL: server.url, STRATA_ADMIN_TOKEN: token };
      const seed = join(dir, 'seed.csv');
      writeFileSync(seed, 'userId,plan\nkept,free\nchanged,free\n');
      expect((await runStrata(['import', seed, '--kind', 'users'], env)).code).toBe(0);
      const file = join(dir, 'users.csv');
      writeFileSync(file, 'userId,plan\nkept,free\nchanged,pro\nnew1,free\nnew2,free\nnew1,free\n,nobody\n');

      const dry = await runStrata(['import', file, '--kind', 'users', '--dry-run'], env);
      expect(dry.code).toBe(0);
      // The progress line goes to stderr, the report to stdout.
      expect(dry.stderr).toContain('100%');
      expect(dry.stdout).toMatch(/: done \(dry run\) — 6 rows, 5 ok, 1 bad/);
      expect(dry.stdout).toContain('  would create 2, update 1, skip 1 (nothing was written)\n');

      const real = await runStrata(['import', file, '--kind', 'users'], env);
      expect(real.code).toBe(0);
      expect(real.stdout).toContain('  created 2, updated 1, skipped 1\n');
      const again = await runStrata(['import', file, '--kind', 'users', '--dry-run'], env);
      expect(again.stdout).toContain('  would create 0, update 0, skip 4 (nothing was written)\n');
    } finally {
      expect(await server.stop()).toMatchObject({ code: 0, signal: null });
    }
  }, 180_000);
});
