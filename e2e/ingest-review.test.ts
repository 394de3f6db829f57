import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { startStrata, type StrataProcess } from './strata-process.ts';

// Review of the rebuilt ingest on the real server process: an identify acknowledged while the
// store is locked by another connection (the log takes it, the worker cannot apply it), then
// kill -9, then a start a few seconds later. The backlog must be applied at the instant it was
// received (docs/architecture.md § The path of one event, step 3: "a late apply gives the same
// changes at the same instants").
//
// Fault: the restarted engine loads the project and moves its clock to the start time before the
// backlog is applied, so `applyInstant` answers the restart time: the segment entry the identify
// caused is dated at the restart, not at its receipt (membership history, $segment_entered,
// webhooks and mission windows all follow that date).

const ADMIN = 'sta_review_admin';
const WRITE = 'stw_review_write';

/** Starts `strata serve` on the embedded store in `dataDir` (`startStrata`). */
const start = (dataDir: string, children: Set<ChildProcess>): Promise<StrataProcess> => startStrata({ STRATA_ADMIN_TOKEN: ADMIN, STRATA_WRITE_KEY: WRITE, STRATA_DATA_DIR: dataDir, DATABASE_URL: '' }, children, 60);

describe('ingest review: kill -9 with a backlog, then a later start', () => {
  it('dates the segment entry of a backlogged identify at its receipt, not at the restart', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-review-e2e-'));
    const children = new Set<ChildProcess>();
    try {
      const first = await start(dir, children);
      const admin = (base: string, method: string, path: string, body?: unknown) => fetch(`${base}${path}`, {
        method, headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      expect((await admin(first.base, 'POST', '/api/segments', { name: 'VIPs', condition: { attr: 'traits.plan', op: 'eq', value: 'vip' } })).status).toBe(201);

      // Another connection holds the store's write lock: the event log (a file of its own) still takes ingest.
      const lock = new BetterSqlite3(join(dir, 'strata.db'));
      lock.pragma('busy_timeout = 10000');
      lock.exec('BEGIN EXCLUSIVE');
      const sent = Date.now();
      const r = await fetch(`${first.base}/v1/identify`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-write-key': WRITE }, body: JSON.stringify({ userId: 'vip-1', traits: { plan: 'vip' } }) });
      const acked = Date.now();
      expect(r.status).toBe(200);
      const exited = new Promise((res) => first.child.once('exit', res));
      first.child.kill('SIGKILL');
      await exited;
      lock.exec('ROLLBACK');
      lock.close();

      // Down for a few seconds: the instant of receipt and the restart are far enough apart to tell.
      await new Promise((res) => setTimeout(res, 4_000));
      const restartedAt = Date.now();
      const second = await start(dir, children);
      const h = await admin(second.base, 'GET', '/api/users/vip-1/history');
      expect(h.status).toBe(200);
      const history = ((await h.json()) as { history: { segmentName: string; kind: string; at: string }[] }).history;
      expect(history.map((x) => `${x.segmentName}:${x.kind}`)).toEqual(['VIPs:entered']);
      const at = Date.parse(history[0]!.at);
      console.log(`[ingest review] identify sent ${new Date(sent).toISOString()}, acknowledged ${new Date(acked).toISOString()}, restart ${new Date(restartedAt).toISOString()}, entry dated ${history[0]!.at}`);
      expect(at).toBeGreaterThanOrEqual(sent);
      expect(at).toBeLessThanOrEqual(acked);
    } finally {
      for (const c of children) c.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
