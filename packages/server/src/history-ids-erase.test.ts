import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createStore } from '@strata/store';
import { expectStatus, startTestApp, type TestApp } from './test-app.ts';

const T0 = Date.UTC(2024, 5, 15, 12);

describe('webhook message ids across an erasure (SQLite file store)', () => {
  let t: TestApp | undefined;
  let dir = '';
  afterEach(async () => {
    await t?.close();
    t = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // As `npm start` opens it: the database and its event log in one folder, migrated.
  const open = () => createStore({ kind: 'sqlite', dataDir: dir });

  it('never repeats a webhook-id for one webhook, across an erasure and a restart', async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-hid-'));
    let store = await open();
    t = await startTestApp(store, T0);
    await expectStatus(t.admin('POST', '/api/segments', { name: 'Browsers', condition: { event: '$pageview' } }), 201);
    const hook = await expectStatus(t.admin('POST', '/api/webhooks', { url: 'http://127.0.0.1:9/in' }), 201);
    const seen = new Set<string>();
    const collect = async () => {
      const ds = (await expectStatus(t!.admin('GET', `/api/webhooks/${hook.id}/deliveries?limit=1000`))).deliveries as { messageId: string }[];
      for (const d of ds) seen.add(d.messageId);
      return ds.map((d) => d.messageId);
    };
    await expectStatus(t.send('/v1/page', { userId: 'u_keep', name: 'Home' }));
    await expectStatus(t.send('/v1/page', { userId: 'u_erase', name: 'Home' }));
    await expectStatus(t.send('/v1/page', { userId: 'u_erase2', name: 'Home' }));
    const before = await collect();
    expect(before).toHaveLength(3);
    await expectStatus(t.admin('DELETE', '/api/users/u_erase2'));
    await expectStatus(t.admin('DELETE', '/api/users/u_erase'));
    await expectStatus(t.send('/v1/page', { userId: 'u_new', name: 'Home' }));
    const after = await collect();
    // The erased users' messages left the outbox with them; the new change's id is none of the three sent before.
    const fresh = after.filter((m) => !before.includes(m));
    expect(fresh).toHaveLength(1);
    // Restart on the same file, erase the newest, a new change again.
    await t.close();
    store = await open();
    t = await startTestApp(store, T0 + 1000);
    await expectStatus(t.admin('DELETE', '/api/users/u_new'));
    await expectStatus(t.send('/v1/page', { userId: 'u_newer', name: 'Home' }));
    const last = await collect();
    const newest = last.filter((m) => !before.includes(m) && !after.includes(m));
    expect(newest).toHaveLength(1);
    const num = (m: string) => Number(m.split('_')[1]);
    expect(num(newest[0]!)).toBe(5);
  });
});
