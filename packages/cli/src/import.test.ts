import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ADMIN, startTestApp, type TestApp } from '@strata/server/testing';
import { createStore } from '@strata/store';
import { badRowsReport, progressLine, runImport } from './import.ts';

describe('progressLine', () => {
  it('shows the share sent, rows, rows/s and the ETA from the byte rate', () => {
    expect(progressLine(25, 100, 50_000, 2, 8)).toBe('██░░░░░░  25%  50.0k rows  25.0k rows/s  ETA 00:06');
    expect(progressLine(0, 100, 0, 0, 4)).toBe('░░░░   0%  0 rows  0 rows/s  ETA --:--');
    expect(progressLine(100, 100, 1_200_000, 60, 4)).toBe('████ 100%  1.20M rows  20.0k rows/s  ETA 00:00');
  });
});

describe('badRowsReport', () => {
  const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ line: i + 2, reason: `r${i}` }));
  it('prints the first 50, then how many more and the command that downloads them all', () => {
    const out = badRowsReport({ id: 'imp_1', bad: 2500, badRows: rows(1000) }, 'http://127.0.0.1:4000');
    expect(out.slice(0, 50)).toEqual(rows(50).map((b) => `  line ${b.line}: ${b.reason}`));
    expect(out.slice(50)).toEqual([
      '  … and 2450 more bad rows. All 2500 as CSV (line,reason):',
      `  curl -fsS -H "authorization: Bearer $STRATA_ADMIN_TOKEN" -o imp_1-bad-rows.csv 'http://127.0.0.1:4000/api/imports/imp_1/bad-rows?format=csv'`,
    ]);
    expect(badRowsReport({ id: 'imp_2', bad: 3, badRows: rows(3) }, 'http://x')).toHaveLength(3);
    expect(badRowsReport({ id: 'imp_3', bad: 51, badRows: rows(51) }, 'http://x')[50]).toBe('  … and 1 more bad row. All 51 as CSV (line,reason):');
  });
});

/** `strata import` against a running server: the printed command fetches every bad row. */
describe('strata import', () => {
  let t: TestApp;
  let dir: string;
  let base: string;
  const env = { url: process.env.STRATA_URL, token: process.env.STRATA_ADMIN_TOKEN };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-cli-import-'));
    t = await startTestApp(await createStore({ kind: 'sqlite', dataDir: dir }));
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    process.env.STRATA_URL = base;
    process.env.STRATA_ADMIN_TOKEN = ADMIN;
  });
  afterAll(async () => {
    for (const [k, v] of [['STRATA_URL', env.url], ['STRATA_ADMIN_TOKEN', env.token]] as const) {
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports 1,200 bad rows: the first 50, the count of the rest, and a URL that gives all 1,200', async () => {
    const lines = ['userId,age'];
    for (let i = 0; i < 2400; i++) lines.push(i % 2 ? `c${i},${i}` : `c${i},old`);
    const file = join(dir, 'users.csv');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let code: number, out: string[];
    try {
      code = await runImport([file, '--kind', 'users', '--types', 'age:number']);
      out = log.mock.calls.map((c) => String(c[0]));
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    expect(code).toBe(0);
    expect(out[0]).toMatch(/: done — 2400 rows, 1200 ok, 1200 bad/);
    const bad = out.filter((l) => l.startsWith('  line '));
    expect(bad).toHaveLength(50);
    expect(bad[0]).toBe('  line 2: column "age": "old" is not a number');
    expect(out).toContain('  … and 1150 more bad rows. All 1200 as CSV (line,reason):');
    const url = /'(http[^']+)'$/.exec(out[out.length - 1]!)![1]!;
    expect(url).toMatch(new RegExp(`^${base}/api/imports/imp_\\w+/bad-rows\\?format=csv$`));
    const csv = await (await fetch(url, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
    const rows = csv.trimEnd().split('\n');
    expect(rows[0]).toBe('line,reason');
    expect(rows.slice(1)).toEqual(Array.from({ length: 1200 }, (_, k) => `${2 * k + 2},"column ""age"": ""old"" is not a number"`));
  }, 60_000);
});
