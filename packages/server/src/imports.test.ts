import { parse } from 'csv-parse/sync';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ImportStore, type BadRow, type ImportRow } from '@strata/store';
import { testBackends } from '@strata/store/testing';
import { ADMIN, DEFAULT_PROJECT, startTestApp, type TestApp } from './test-app.ts';
import { BATCH_ROWS, MAX_NEW_IDS_LISTED } from '@strata/engine';

const backends = await testBackends();
const P = DEFAULT_PROJECT;

/** A CRM export: users with traits and labels, and the bad rows it holds (line → reason). */
function crm(n: number): { csv: string; bad: Map<number, string>; good: number; vip: Set<string> } {
  const lines = ['userId,name,email,age,vip,signup,zip,labels'];
  const bad = new Map<number, string>();
  const vip = new Set<string>();
  let good = 0;
  for (let i = 0; i < n; i++) {
    const line = lines.length + 1;
    if (i % 10_007 === 5) { lines.push(`,Nobody ${i},n${i}@example.com,30,false,2024-01-01,00000,`); bad.set(line, 'missing userId (column "userId" is empty)'); continue; }
    if (i % 10_007 === 6) { lines.push(`u${i},Age ${i},a${i}@example.com,thirty,false,2024-01-01,00000,`); bad.set(line, 'column "age": "thirty" is not a number'); continue; }
    if (i % 10_007 === 7) { lines.push(`u${i},"Quote"d ${i},q${i}@example.com,30,false,2024-01-01,00000,`); bad.set(line, 'malformed quotes: a closing quote must end the field (found "d" after it)'); continue; }
    if (i % 10_007 === 8) { lines.push(`u${i},Wide ${i},w${i}@example.com,30,false,2024-01-01,00000,,extra`); bad.set(line, '9 columns; the header has 8'); continue; }
    const isVip = i % 7 === 0;
    if (isVip) vip.add(`u${i}`);
    // Names with commas and quotes, quoted as CSV does; zip codes keep their leading zeros (typed string).
    const name = i % 13 === 0 ? `"Smith, ""Jr"" ${i}"` : `User ${i}`;
    lines.push(`u${i},${name},u${i}@example.com,${20 + (i % 50)},${isVip},2024-0${1 + (i % 9)}-15,0${i % 10}123,${i % 3 === 0 ? 'beta;newsletter' : i % 3 === 1 ? 'newsletter' : ''}`);
    good++;
  }
  return { csv: `${lines.join('\r\n')}\r\n`, bad, good, vip };
}

/**
 * Users with many bad rows: every third row is bad (age not a number — one with a comma and quotes
 * in its reason —, no userId, a column too many), 2,500 bad among 5,000 good for n = 7,500.
 */
function manyBad(n: number): { csv: string; bad: { line: number; reason: string }[] } {
  const lines = ['userId,age'];
  const bad: { line: number; reason: string }[] = [];
  for (let i = 0; i < n; i++) {
    const line = lines.length + 1;
    if (i % 3 !== 1) { lines.push(`m${i},${i % 90}`); continue; }
    const k = (i - 1) / 3;
    if (k % 3 === 0) { lines.push(`m${i},"${k},5"`); bad.push({ line, reason: `column "age": "${k},5" is not a number` }); }
    else if (k % 3 === 1) { lines.push(`,${i % 90}`); bad.push({ line, reason: 'missing userId (column "userId" is empty)' }); }
    else { lines.push(`m${i},1,x`); bad.push({ line, reason: '3 columns; the header has 2' }); }
  }
  return { csv: `${lines.join('\n')}\n`, bad };
}

describe.each(backends.map((b) => [b.name, b] as const))('imports on %s', (name, backend) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp(await backend.open());
  });
  afterEach(async () => t.close());

  const upload = (query: string, body: string, type = 'text/csv') => t.upload(`/api/imports?${query}`, body, type);
  const count = async (table: 'events' | 'membership_history' | 'profiles') =>
    Number((await t.ctx.store.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('project_id', '=', P).executeTakeFirstOrThrow()).n);

  // PostgreSQL takes a smaller file: the same rows, a tenth as many (the suite runs both).
  const N = name === 'sqlite' ? 100_000 : 10_000;

  it(`imports ${N} CRM users: a dry run reports exactly the bad rows, the real run stores the rest, and again changes nothing`, async () => {
    const { csv, bad, good, vip } = crm(N);
    const seg = await t.admin('POST', '/api/segments', { name: 'VIP', condition: { attr: 'traits.vip', op: 'eq', value: true } });
    expect(seg.status).toBe(201);
    const q = 'kind=users&types=age:number,zip:string';

    const dry = await upload(`${q}&dryRun=true`, csv);
    expect(dry.status).toBe(201);
    expect(dry.body).toMatchObject({ kind: 'users', status: 'done', dryRun: true, rows: N, ok: good, bad: bad.size, badRowsOmitted: 0 });
    expect(dry.body.badRows).toEqual([...bad].map(([line, reason]) => ({ line, reason })));
    expect(await count('profiles')).toBe(0);

    const real = await upload(q, csv);
    expect(real.status).toBe(201);
    expect(real.body).toMatchObject({ status: 'done', dryRun: false, rows: N, ok: good, bad: bad.size, summary: { created: good, updated: 0, unchanged: 0 } });
    expect(real.body.badRows).toEqual(dry.body.badRows);
    expect(await count('profiles')).toBe(good);
    // No events of the users' own: only the derived $segment_entered of those who entered VIP.
    expect(await count('events')).toBe(vip.size);
    const u13 = (await t.admin('GET', '/api/users/u13')).body;
    expect(u13.traits).toEqual({ name: 'Smith, "Jr" 13', email: 'u13@example.com', age: 33, vip: false, signup: '2024-05-15', zip: '03123' });
    expect(u13.labels).toEqual(['newsletter']);
    expect((await t.admin('GET', '/api/users/u0')).body).toMatchObject({ traits: { vip: true, age: 20, zip: '00123' }, labels: ['beta', 'newsletter'] });
    expect((await t.admin('GET', '/api/users/u6')).status).toBe(404);

    // The segment on a trait holds exactly the VIP users, live (no recomputation asked for).
    expect(await t.ctx.store.segmentSize(P, seg.body.id)).toBe(vip.size);
    const members = await t.ctx.store.listMembers(P, seg.body.id, vip.size + 10, null);
    const ids = new Set((await t.ctx.store.getProfiles(P, members.map((m) => m.profileId))).map((p) => p.userId));
    expect(ids).toEqual(vip);
    const history = await count('membership_history');
    expect(history).toBe(vip.size);

    const again = await upload(q, csv);
    expect(again.body).toMatchObject({ status: 'done', ok: good, bad: bad.size, summary: { created: 0, updated: 0, unchanged: good, membershipChanges: 0 } });
    expect(await count('profiles')).toBe(good);
    expect(await count('events')).toBe(vip.size);
    expect(await count('membership_history')).toBe(history);

    // The job is on record with its report.
    const got = await t.admin('GET', `/api/imports/${real.body.id}`);
    expect(got.body).toEqual(real.body);
    expect((await t.admin('GET', '/api/imports')).body.imports.map((j: { id: string }) => j.id)).toEqual([again.body.id, real.body.id, dry.body.id]);
  }, 120_000);

  /** Every bad row of a job through the paged endpoint, following nextCursor; the number of pages too. */
  const allPages = async (id: string, limit: number) => {
    const rows: { line: number; reason: string }[] = [];
    let cursor: string | null = null, pages = 0;
    do {
      const r = await t.admin('GET', `/api/imports/${id}/bad-rows?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(r.status).toBe(200);
      expect(r.body.badRows.length).toBeLessThanOrEqual(limit);
      rows.push(...r.body.badRows);
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor !== null);
    return { rows, pages };
  };
  const csvOf = async (id: string, auth = ADMIN) => {
    const r = await t.app.inject({ method: 'GET', url: `/api/imports/${id}/bad-rows?format=csv`, headers: { authorization: `Bearer ${auth}` } });
    return { status: r.statusCode, headers: r.headers, text: r.payload };
  };
  const stored = async (id: string) =>
    Number((await t.ctx.store.db.selectFrom('import_bad_rows').select((eb) => eb.fn.countAll<number>().as('n')).where('project_id', '=', P).where('import_id', '=', id).executeTakeFirstOrThrow()).n);

  it('keeps every bad row past the first 1000: paged in line order and as CSV, for a dry run too, each job its own', async () => {
    const { csv, bad } = manyBad(7500);
    expect(bad.length).toBe(2500);
    const q = 'kind=users&types=age:number';
    const dry = await upload(`${q}&dryRun=true`, csv);
    const real = await upload(q, csv);
    for (const job of [dry.body, real.body]) {
      expect(job).toMatchObject({ status: 'done', rows: 7500, ok: 5000, bad: 2500, badRowsOmitted: 1500 });
      // The inline list is the first 1000, as before.
      expect(job.badRows).toEqual(bad.slice(0, 1000));
      const paged = await allPages(job.id, 1000);
      expect(paged.pages).toBe(3);
      expect(paged.rows.length).toBe(job.bad);
      expect(paged.rows).toEqual(bad);
      // Another page size gives the same rows; the default is 100 a page.
      expect((await allPages(job.id, 7)).rows.slice(0, 60)).toEqual(bad.slice(0, 60));
      const first = await t.admin('GET', `/api/imports/${job.id}/bad-rows`);
      expect(first.body.badRows).toEqual(bad.slice(0, 100));
      const after = await t.admin('GET', `/api/imports/${job.id}/bad-rows?limit=1000&cursor=${encodeURIComponent(first.body.nextCursor)}`);
      expect(after.body.badRows).toEqual(bad.slice(100, 1100));
      const file = await csvOf(job.id);
      expect(file.status).toBe(200);
      expect(file.headers['content-type']).toMatch(/^text\/csv/);
      expect(file.headers['content-disposition']).toBe(`attachment; filename="${job.id}-bad-rows.csv"`);
      const cells = parse(file.text) as string[][];
      expect(cells[0]).toEqual(['line', 'reason']);
      expect(cells.slice(1)).toEqual(bad.map((b) => [String(b.line), b.reason]));
    }
    expect(await count('profiles')).toBe(5000);
    // Importing the same file again: a new job with its own 2,500; the earlier jobs keep theirs.
    const again = await upload(q, csv);
    expect(again.body).toMatchObject({ bad: 2500, summary: { created: 0, unchanged: 5000 } });
    expect((await allPages(again.body.id, 1000)).rows).toEqual(bad);
    for (const id of [dry.body.id, real.body.id, again.body.id]) expect(await stored(id)).toBe(2500);
    expect((await allPages(real.body.id, 1000)).rows).toEqual(bad);
  }, 60_000);

  it('saves bad rows with the progress that counts them, at most about 5000 at a time', async () => {
    const { csv, bad } = manyBad(36_000);
    expect(bad.length).toBe(12_000);
    const saves: { bad: number; stored: number; written: number }[] = [];
    const save = ImportStore.prototype.save;
    const spy = vi.spyOn(ImportStore.prototype, 'save').mockImplementation(async function (this: ImportStore, j: ImportRow, rows: readonly BadRow[]) {
      await save.call(this, j, rows);
      saves.push({ bad: j.bad, stored: await stored(j.id), written: rows.length });
    });
    try {
      const dry = await upload('kind=users&types=age:number&dryRun=true', csv);
      expect(dry.body).toMatchObject({ status: 'done', bad: 12_000, badRowsOmitted: 11_000 });
    } finally {
      spy.mockRestore();
    }
    // After every save the job's count is exactly what is stored: durable, never ahead or behind.
    for (const s of saves) expect(s.stored).toBe(s.bad);
    expect(saves[saves.length - 1]!.stored).toBe(12_000);
    // Bounded: saved in the middle of the file, never more than 5000 waiting plus one group of 1000 rows.
    expect(saves.filter((s) => s.written > 0).length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...saves.map((s) => s.written))).toBeLessThanOrEqual(6000);
  }, 60_000);

  it('answers 400 for a bad limit, cursor or format, and 404 for an unknown import or another project\'s', async () => {
    const job = (await upload('kind=users', 'userId,x\na,1\n,2\nb,3,4\n')).body;
    expect(job.bad).toBe(2);
    const issuePaths = (body: { error: { issues?: { path: string }[] } }) => (body.error.issues ?? []).map((i) => i.path);
    for (const [query, path] of [['limit=0', '/querystring/limit'], ['limit=1001', '/querystring/limit'], ['limit=ten', '/querystring/limit'], ['format=xml', '/querystring/format'], ['page=2', '/querystring/page']] as const) {
      const r = await t.admin('GET', `/api/imports/${job.id}/bad-rows?${query}`);
      expect([r.status, r.body.error.code], query).toEqual([400, 'VALIDATION_FAILED']);
      expect(issuePaths(r.body), query).toEqual([path]);
      expect(r.body.error.message, query).toContain(path);
    }
    for (const cursor of ['%25%25', 'bm90LWEtbGluZQ', 'LTE']) {
      for (const format of ['json', 'csv']) {
        const r = await t.admin('GET', `/api/imports/${job.id}/bad-rows?cursor=${cursor}&format=${format}`);
        expect([r.status, issuePaths(r.body)], `${cursor} ${format}`).toEqual([400, ['/cursor']]);
      }
    }
    const one = await t.admin('GET', `/api/imports/${job.id}/bad-rows?limit=1`);
    expect(one.body).toEqual({ badRows: [{ line: 3, reason: 'missing userId (column "userId" is empty)' }], nextCursor: expect.any(String) });
    expect((await t.admin('GET', `/api/imports/${job.id}/bad-rows?limit=1&cursor=${one.body.nextCursor}`)).body).toEqual({ badRows: [{ line: 4, reason: '3 columns; the header has 2' }], nextCursor: null });
    // The CSV after a cursor holds the rows after it.
    expect((await t.app.inject({ method: 'GET', url: `/api/imports/${job.id}/bad-rows?format=csv&cursor=${one.body.nextCursor}`, headers: { authorization: `Bearer ${ADMIN}` } })).payload).toBe('line,reason\n4,3 columns; the header has 2\n');
    const none = await upload('kind=users', 'userId\na\n');
    expect(await t.admin('GET', `/api/imports/${none.body.id}/bad-rows`)).toMatchObject({ status: 200, body: { badRows: [], nextCursor: null } });
    expect((await csvOf(none.body.id)).text).toBe('line,reason\n');

    for (const url of ['/api/imports/imp_nope/bad-rows', '/api/imports/imp_nope/bad-rows?format=csv']) {
      const r = await t.admin('GET', url);
      expect([r.status, r.body.error.code], url).toEqual([404, 'NOT_FOUND']);
    }
    expect((await t.app.inject({ method: 'GET', url: `/api/imports/${job.id}/bad-rows` })).statusCode).toBe(401);
    await t.ctx.store.createProject({ id: 'other', name: 'Other', writeKey: 'stw_other', adminToken: 'sta_other', now: t.clock.now() });
    for (const url of [`/api/imports/${job.id}/bad-rows`, `/api/imports/${job.id}/bad-rows?format=csv`, `/api/imports/${job.id}`]) {
      const r = await t.app.inject({ method: 'GET', url, headers: { authorization: 'Bearer sta_other' } });
      expect(r.statusCode, url).toBe(404);
    }
    expect((await csvOf(job.id, 'sta_other')).status).toBe(404);
  });

  it('changes what differs on a re-import, and membership follows', async () => {
    const seg = await t.admin('POST', '/api/segments', { name: 'Gold', condition: { attr: 'traits.plan', op: 'eq', value: 'gold' } });
    await upload('kind=users', 'id,plan,labels\na,gold,x\nb,free,\n');
    expect(await t.ctx.store.segmentSize(P, seg.body.id)).toBe(1);
    const r = await upload('kind=users', 'id,plan,labels\na,free,x\nb,gold,y\n');
    expect(r.body.summary).toMatchObject({ created: 0, updated: 2, unchanged: 0, membershipChanges: 2 });
    expect((await t.admin('GET', '/api/users/b')).body).toMatchObject({ traits: { plan: 'gold' }, labels: ['y'] });
    const same = await upload('kind=users', 'id,plan,labels\na,free,x\nb,gold,y\n');
    expect(same.body.summary).toEqual({ created: 0, updated: 0, unchanged: 2, membershipChanges: 0 });
    const members = await t.ctx.store.listMembers(P, seg.body.id, 10, null);
    expect((await t.ctx.store.getProfiles(P, members.map((m) => m.profileId))).map((p) => p.userId)).toEqual(['b']);
  });

  it('refuses a file without a userId column, and a body of another type', async () => {
    const r = await upload('kind=users', 'name,age\nA,1\n');
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/no userId column/);
    expect((await upload('kind=users', '{}', 'application/json')).status).toBe(400);
    expect((await upload('kind=users&types=age:integer', 'id,age\na,1\n')).status).toBe(400);
    expect((await upload('kind=users', 'id,__proto__\na,{}\n')).body.error.message).toMatch(/cannot be a trait/);
    expect((await upload('kind=events', 'event,userId,properties.constructor\nX,a,1\n')).status).toBe(400);
    // A header that is not valid CSV is a 400 too (the next line must not be taken for the header).
    for (const kind of ['users', 'events', 'segment&segmentName=S']) {
      const bad = await upload(`kind=${kind}`, '"a"b,userId\nu1,x\n');
      expect([bad.status, bad.body.error.message], kind).toEqual([400, expect.stringMatching(/header line is not valid CSV/)]);
    }
    expect(await count('profiles')).toBe(0);
  });

  it('imports Segment-shaped NDJSON events, reports the bad line, and de-duplicates a re-import', async () => {
    const seg = await t.admin('POST', '/api/segments', { name: 'Buyers', condition: { event: 'Order Completed', cmp: { op: 'gte', value: 1 } } });
    const ndjson = [
      JSON.stringify({ type: 'track', event: 'Order Completed', userId: 'e1', properties: { total: 10 }, timestamp: '2024-06-01T10:00:00Z' }),
      JSON.stringify({ type: 'identify', userId: 'e1', traits: { plan: 'pro' }, timestamp: '2024-06-01T09:00:00Z' }),
      '{"type": "track", "event": "Broken"',
      '',
      JSON.stringify({ event: 'Page Viewed', anonymousId: 'anon-1', timestamp: '2024-06-01T11:00:00Z' }),
      JSON.stringify({ type: 'track', userId: 'e2', timestamp: '2024-06-01T11:00:00Z' }),
      JSON.stringify({ type: 'track', event: 'Order Completed', userId: 'e3', messageId: 'm-3', timestamp: '2024-06-02T10:00:00Z' }),
    ].join('\n');
    const first = await upload('kind=events', ndjson, 'application/x-ndjson');
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ status: 'done', rows: 6, ok: 4, bad: 2, summary: { stored: 4, duplicates: 0 } });
    expect(first.body.badRows.map((b: { line: number }) => b.line)).toEqual([3, 6]);
    expect(first.body.badRows[0].reason).toMatch(/not valid JSON/);
    expect(first.body.badRows[1].reason).toMatch(/\/event track needs "event"/);
    expect((await t.admin('GET', '/api/users/e1')).body.traits).toEqual({ plan: 'pro' });
    expect(seg.status).toBe(201);
    expect(await t.ctx.store.segmentSize(P, seg.body.id)).toBe(2);
    const events = await count('events');
    const history = await count('membership_history');
    const again = await upload('kind=events', ndjson, 'application/x-ndjson');
    expect(again.body.summary).toEqual({ stored: 0, duplicates: 4 });
    expect(await count('events')).toBe(events);
    expect(await count('membership_history')).toBe(history);
  });

  it('imports events from CSV with properties.* columns', async () => {
    const csv = 'event,userId,timestamp,properties.total,properties.sku\nOrder Completed,c1,2024-06-01T10:00:00Z,12.5,A-1\nOrder Completed,,2024-06-01T10:00:00Z,3,B\nOrder Completed,c2,yesterday,1,C\n';
    const r = await upload('kind=events&types=properties.sku:string', csv);
    expect(r.body).toMatchObject({ rows: 3, ok: 1, bad: 2, summary: { stored: 1 } });
    expect(r.body.badRows.map((b: { line: number }) => b.line)).toEqual([3, 4]);
    const ev = await t.admin('GET', '/api/users/c1/events');
    expect(ev.status).toBe(200);
    expect(ev.body.events.find((e: { event: string }) => e.event === 'Order Completed').properties).toEqual({ total: 12.5, sku: 'A-1' });
    expect((await upload('kind=events&types=properties.sku:string', csv)).body.summary).toMatchObject({ stored: 0, duplicates: 1 });
  });

  it('turns a list of ids into a static segment by name, and adds ids to an existing segment', async () => {
    const r = await upload('kind=segment&segmentName=Beta%20testers', 'userId\ns1\ns2\n\ns3\n,\n');
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ status: 'done', rows: 4, ok: 3, bad: 1, summary: { created: true, added: 3, size: 3 } });
    const id = r.body.summary.segmentId as string;
    const seg = (await t.admin('GET', `/api/segments/${id}`)).body;
    expect(seg).toMatchObject({ name: 'Beta testers', condition: null, size: 3 });
    expect([...seg.include].sort()).toEqual(['s1', 's2', 's3']);
    // The same name again: the ids go into the same segment; nothing changes.
    const history = await count('membership_history');
    const again = await upload('kind=segment&segmentName=Beta%20testers', 'userId\ns1\ns2\n\ns3\n,\n');
    expect(again.body.summary).toMatchObject({ segmentId: id, created: false, added: 0, size: 3 });
    expect(await count('membership_history')).toBe(history);
    // Into an existing segment by id (its condition stays; the ids join its includes).
    const vip = await t.admin('POST', '/api/segments', { name: 'VIP', condition: { attr: 'traits.vip', op: 'eq', value: true } });
    const into = await upload(`kind=segment&segmentId=${vip.body.id}`, '{"userId":"s1"}\n{"userId":"s9"}\n{"user":"x"}\n', 'application/x-ndjson');
    expect(into.body).toMatchObject({ ok: 2, bad: 1, summary: { added: 2, size: 2 } });
    expect((await t.admin('GET', `/api/segments/${vip.body.id}`)).body.include.sort()).toEqual(['s1', 's9']);
    // A dry run writes nothing; an unknown segment id is refused before reading.
    const dry = await upload('kind=segment&segmentName=Other&dryRun=true', 'userId\nz1\n');
    expect(dry.body).toMatchObject({ ok: 1, summary: { segmentId: null, created: false } });
    expect((await t.admin('GET', '/api/segments')).body.segments.map((s: { name: string }) => s.name)).not.toContain('Other');
    expect((await upload('kind=segment&segmentId=seg_nope', 'userId\nz1\n')).status).toBe(404);
  });

  it('counts and lists the ids never seen in a segment import: the dry run warns, the import creates them', async () => {
    await t.send('/v1/batch', { batch: [{ type: 'identify', userId: 'k1' }, { type: 'page', anonymousId: 'a1', name: 'Home' }] });
    // More rows than one batch, with a new id in both batches: counted once.
    const ids = ['k1', 'typo-1', 'a1', ...Array.from({ length: BATCH_ROWS }, (_, i) => `n${i}`), 'typo-1', 'k1'];
    const csv = `userId\n${ids.join('\n')}\n`;
    const dry = await upload('kind=segment&segmentName=Hand-picked&dryRun=true', csv);
    expect(dry.status).toBe(201);
    expect(dry.body.summary.newUsers).toBe(BATCH_ROWS + 1);
    expect(dry.body.summary.newUserIds).toHaveLength(MAX_NEW_IDS_LISTED);
    expect(dry.body.summary.newUserIds.slice(0, 3)).toEqual(['typo-1', 'n0', 'n1']);
    expect(dry.body.summary.newUserIds).not.toContain('k1');
    expect(dry.body.summary.newUserIds).not.toContain('a1');
    expect((await t.admin('GET', '/api/users/typo-1')).status).toBe(404);
    // The import itself creates them (the dry run was the warning) and says how many it made.
    const real = await upload('kind=segment&segmentName=Hand-picked', csv);
    expect(real.body.summary).toMatchObject({ newUsers: BATCH_ROWS + 1, added: BATCH_ROWS + 3 });
    expect((await t.admin('GET', '/api/users/typo-1')).body).toMatchObject({ userId: 'typo-1', firstSeen: null });
    // Again: nothing is new any more.
    const again = await upload('kind=segment&segmentName=Hand-picked&dryRun=true', csv);
    expect(again.body.summary).toMatchObject({ newUsers: 0, newUserIds: [] });
  });
});
