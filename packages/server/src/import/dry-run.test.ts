import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testBackends } from '@strata/store/testing';
import { startTestApp, type TestApp } from '../test-app.ts';
import { BATCH_ROWS, USER_BATCH_ROWS } from '@strata/engine';

const backends = await testBackends();

/**
 * A dry run reports what the import would do — would create N, update M, skip K — counted as the
 * real run of the same file then counts, including a userId or messageId met again in a later
 * batch of the file (which the real run finds already written) and rows the store already has.
 */
describe.each(backends)('import dry run counts ($name)', (backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp(await backend.open());
  });
  afterEach(async () => {
    await t.close();
  });
  const upload = async (query: string, body: string, type: string) => {
    const r = await t.upload(`/api/imports?${query}`, body, type);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.status).toBe('done');
    return r.body as { ok: number; bad: number; summary: Record<string, number>; changes: { create: number; update: number; skip: number } };
  };

  it('users: the dry run gives the real run\'s created, updated and unchanged', async () => {
    await upload('kind=users', 'userId,plan,labels\nold1,free,\nold2,pro,a\nold3,pro,\n', 'text/csv');
    const lines = ['userId,plan,labels'];
    lines.push('old1,free,', 'old2,pro,b', 'old3,vip,');
    for (let i = 0; i < USER_BATCH_ROWS + 10; i++) lines.push(`new${i},free,`);
    // Again in a later batch: one as it was created (unchanged), one with a new trait and one with a new label (updated).
    lines.push('new0,free,', 'new1,vip,', 'new2,free,x');
    // Twice in the same batch: one user.
    lines.push('new3,free,', 'late,free,', 'late,vip,');
    lines.push(',nobody,');
    const csv = `${lines.join('\n')}\n`;
    const dry = await upload('kind=users&dryRun=true', csv, 'text/csv');
    const real = await upload('kind=users', csv, 'text/csv');
    expect(dry.changes).toEqual(real.changes);
    expect(dry.changes).toEqual({ create: USER_BATCH_ROWS + 10 + 1, update: 4, skip: 3 });
    expect([dry.ok, dry.bad]).toEqual([real.ok, real.bad]);
    // Nothing was written by the dry run: the real one created the users.
    expect((await t.admin('GET', '/api/users/new1')).body.traits).toEqual({ plan: 'vip' });
    // The file again: nothing to create; new1 goes free then vip again (two updates), as the real run finds.
    const again = await upload('kind=users&dryRun=true', csv, 'text/csv');
    // Per batch, one count per user: 3 old + 5010 new + new0..new2, new3, late in the second batch = 5018.
    expect(again.changes).toEqual({ create: 0, update: 2, skip: USER_BATCH_ROWS + 18 - 2 });
    expect((await upload('kind=users', csv, 'text/csv')).changes).toEqual(again.changes);
  }, 120_000);

  it('events: the dry run gives the real run\'s stored and duplicates', async () => {
    const first = [{ type: 'track', userId: 'u1', event: 'seen', messageId: 'm-already', timestamp: '2024-06-01T00:00:00Z' }];
    await upload('kind=events&format=ndjson', `${first.map((m) => JSON.stringify(m)).join('\n')}\n`, 'application/x-ndjson');
    const lines: string[] = [JSON.stringify(first[0])];
    for (let i = 0; i < BATCH_ROWS + 5; i++) lines.push(JSON.stringify({ type: 'track', userId: `u${i % 50}`, event: 'view', messageId: `m${i}`, timestamp: '2024-06-02T00:00:00Z' }));
    // Met again in a later batch, with its id or (no messageId) as the same row.
    lines.push(JSON.stringify({ type: 'track', userId: 'u1', event: 'view', messageId: 'm0', timestamp: '2024-06-02T00:00:00Z' }));
    const noId = JSON.stringify({ type: 'track', userId: 'u2', event: 'buy', timestamp: '2024-06-03T00:00:00Z' });
    lines.push(noId, noId, '{"type":"track","event":"x"}');
    const body = `${lines.join('\n')}\n`;
    const dry = await upload('kind=events&format=ndjson&dryRun=true', body, 'application/x-ndjson');
    const real = await upload('kind=events&format=ndjson', body, 'application/x-ndjson');
    expect(dry.changes).toEqual(real.changes);
    expect(dry.changes).toEqual({ create: BATCH_ROWS + 5 + 1, update: 0, skip: 3 });
    expect(dry.bad).toBe(1);
    expect((await upload('kind=events&format=ndjson&dryRun=true', body, 'application/x-ndjson')).changes).toEqual({ create: 0, update: 0, skip: BATCH_ROWS + 5 + 4 });
  }, 120_000);

  it('segment: the dry run gives the members the real run adds', async () => {
    // A known user already a member, a known user not one, an anonymous visitor by anonymousId.
    await upload('kind=users', 'userId,plan\nmember,free\nknown,free\n', 'text/csv');
    await upload('kind=segment&segmentName=List', 'userId\nmember\n', 'text/csv');
    expect((await t.send('/v1/track', { anonymousId: 'anon-1', event: 'visit' })).status).toBe(200);
    const lines = ['userId', 'member', 'known', 'anon-1'];
    for (let i = 0; i < BATCH_ROWS + 3; i++) lines.push(`n${i}`);
    // Met again in a later batch, and twice in one batch.
    lines.push('n0', 'known', 'late', 'late', ' ');
    const csv = `${lines.join('\n')}\n`;
    for (const target of ['segmentName=List', 'segmentName=Fresh']) {
      const dry = await upload(`kind=segment&${target}&dryRun=true`, csv, 'text/csv');
      const real = await upload(`kind=segment&${target}`, csv, 'text/csv');
      expect([target, dry.changes]).toEqual([target, real.changes]);
      expect(real.summary.added).toBe(target === 'segmentName=List' ? BATCH_ROWS + 3 + 3 : BATCH_ROWS + 3 + 4);
      expect(dry.bad).toBe(1);
    }
  });
});
