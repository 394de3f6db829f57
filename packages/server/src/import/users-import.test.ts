import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testBackends } from '@strata/store/testing';
import { startTestApp, type TestApp } from '../test-app.ts';

const backends = await testBackends();

/** What the fast paths of the users import must keep: later rows win, labels are a set, traits_at says the import's time. */
describe.each(backends.map((b) => [b.name, b] as const))('users import semantics on %s', (_name, backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp(await backend.open());
  });
  afterEach(async () => t.close());

  const upload = (query: string, body: string, type = 'text/csv') => t.upload(`/api/imports?${query}`, body, type);
  const user = async (id: string) => (await t.admin('GET', `/api/users/${id}`)).body;

  it('takes the later row of a userId met twice, unions and de-duplicates labels, and leaves out empty cells', async () => {
    const r = await upload('kind=users', 'id,plan,age,labels\na,free,30,x;x\nb,pro,,\na,gold,,y; x \n');
    expect(r.body).toMatchObject({ status: 'done', ok: 3, summary: { created: 2, updated: 0, unchanged: 0 } });
    expect(await user('a')).toMatchObject({ traits: { plan: 'gold', age: 30 }, labels: ['x', 'y'] });
    expect((await user('b')).traits).toEqual({ plan: 'pro' });
    expect((await user('b')).labels).toEqual([]);
    // Known users: only what differs is written; a label already there is no change.
    const again = await upload('kind=users', 'id,plan,labels\na,gold,y\nb,pro,z\n');
    expect(again.body.summary).toMatchObject({ created: 0, updated: 1, unchanged: 1 });
    expect((await user('b')).labels).toEqual(['z']);
  });

  it('stamps imported traits with the import time: an older identify does not overwrite them, a newer one does', async () => {
    await upload('kind=users', 'id,plan,city\nu1,gold,Berlin\n');
    const at = t.ctx.clock.now();
    const older = await t.send('/v1/identify', { userId: 'u1', traits: { plan: 'free' }, timestamp: new Date(at - 86_400_000).toISOString() });
    expect(older.status).toBe(200);
    await t.ctx.ingest.drain();
    expect((await user('u1')).traits).toMatchObject({ plan: 'gold', city: 'Berlin' });
    t.clock.advance(60_000);
    await t.send('/v1/identify', { userId: 'u1', traits: { city: 'Paris' }, timestamp: new Date(at + 30_000).toISOString() });
    await t.ctx.ingest.drain();
    expect((await user('u1')).traits).toMatchObject({ plan: 'gold', city: 'Paris' });
  });

  it('marks a job failed, with the reason, when its file stopped short of its end, though every row read was good', async () => {
    const source = {
      rows: (async function* rows() { yield [{ line: 1, cells: ['id', 'plan'] }, { line: 2, cells: ['u1', 'gold'] }]; })(),
      failure: () => 'the upload ended before the end of the file',
    };
    const job = await t.ctx.imports.run('default', source, { kind: 'users', format: 'csv', dryRun: false });
    expect(job).toMatchObject({ status: 'failed', ok: 1, error: 'the upload ended before the end of the file' });
    expect((await t.admin('GET', `/api/imports/${job.id}`)).body).toMatchObject({ status: 'failed', error: 'the upload ended before the end of the file' });
  });

  it('drops __proto__ and constructor keys of NDJSON lines, spelled out or escaped', async () => {
    const lines = [
      '{"type":"track","event":"E","userId":"p1","messageId":"m1","timestamp":"2024-06-01T10:00:00Z","properties":{"__proto__":{"x":1},"ok":1}}',
      '{"type":"track","event":"E","userId":"p1","messageId":"m2","timestamp":"2024-06-01T10:01:00Z","properties":{"\\u005f_proto__":{"x":1},"constructor":{"prototype":{}},"ok":2}}',
      '{"type":"track","event":"E","userId":"p1","messageId":"m3","timestamp":"2024-06-01T10:02:00Z","properties":{"ok":3}}',
    ].join('\n');
    const r = await upload('kind=events', lines, 'application/x-ndjson');
    expect(r.body).toMatchObject({ status: 'done', ok: 3, bad: 0, summary: { stored: 3 } });
    const events = (await t.admin('GET', '/api/users/p1/events')).body.events as { event: string; properties: Record<string, unknown> }[];
    expect(events.filter((e) => e.event === 'E').map((e) => e.properties).sort((a, b) => Number(a.ok) - Number(b.ok))).toEqual([{ ok: 1 }, { ok: 2 }, { ok: 3 }]);
  });
});
