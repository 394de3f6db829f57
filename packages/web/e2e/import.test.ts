/**
 * The Import page in a real browser (Debian's Chromium through playwright-core) against the real
 * app over HTTP: upload a small users CSV with two bad rows, read the dry-run report (their line
 * numbers and reasons, nothing written), import for real and find the users through the API;
 * a file with more bad rows than the report lists, whose CSV download has them all; then a
 * segment list into a new segment, and the page at phone width.
 * Skips, saying why, when Chromium or the built UI (`npm install` builds it) is missing.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { missingFor, openUiSession, type UiSession } from './support.ts';

const ADMIN = 'sta_e2e_admin';
const WRITE = 'stw_e2e_write';

const missing = missingFor({ ui: true });
if (missing) console.warn(`[web e2e] skipped: ${missing}`);

// Line 1 is the header; line 4 has an age that is not a number (with the age:number override),
// line 5 has no userId.
const USERS_CSV = [
  'userId,name,age,labels',
  'imp-1,Ann,31,crm',
  'imp-2,Bob,45,crm;vip',
  'imp-3,Cy,thirty,crm',
  ',Dee,22,',
  'imp-4,"Eve, Jr.",28,',
].join('\n') + '\n';

describe.skipIf(missing !== null)('Import page in a real browser', () => {
  let ui: UiSession;
  let base: string;
  let page: Page;
  const get = async (path: string) => {
    const r = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    return { status: r.status, body: await r.json() as any };
  };

  beforeAll(async () => {
    ui = await openUiSession({ adminToken: ADMIN, writeKey: WRITE, profile: 'import' });
    ({ base, page } = ui);
    await page.goto(`${base}/`);
    await page.evaluate((t) => sessionStorage.setItem('strata.adminToken', t), ADMIN);
  });

  afterAll(async () => {
    await ui?.close();
  });

  it('dry-runs a users CSV, lists its 2 bad rows by line, then imports for real', async () => {
    await page.goto(`${base}/import`);
    await page.getByRole('heading', { name: 'Import', exact: true }).waitFor();
    await page.getByLabel('File (CSV or NDJSON)').setInputFiles({ name: 'users.csv', mimeType: 'text/csv', buffer: Buffer.from(USERS_CSV) });
    // The header is read in the browser: one type select per trait column.
    await page.locator('.file-info', { hasText: 'about 5 rows' }).waitFor();
    await page.getByLabel('type of age').selectOption('number');
    expect(await page.getByLabel('type of userId').count()).toBe(0);

    await page.getByRole('button', { name: 'Dry run', exact: true }).click();
    const report = page.getByTestId('import-report');
    await report.getByRole('heading', { name: /Dry run report/ }).waitFor();
    expect(await page.getByTestId('import-rows').textContent()).toBe('5');
    expect(await page.getByTestId('import-ok').textContent()).toBe('3');
    expect(await page.getByTestId('import-bad').textContent()).toBe('2');
    const rows = report.locator('table.bad-rows tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.nth(0).locator('td').first().textContent()).toBe('4');
    expect(await rows.nth(0).textContent()).toContain('"thirty" is not a number');
    expect(await rows.nth(1).locator('td').first().textContent()).toBe('5');
    expect(await rows.nth(1).textContent()).toMatch(/userId/);
    // What the import would do, counted as the real run counts; and a dry run writes nothing.
    expect(await page.getByTestId('import-changes').textContent()).toBe('Would create 3, update 0, skip 0.');
    expect((await get('/api/users/imp-1')).status).toBe(404);
    // The job is recorded with the options the page sent.
    const jobs = (await get('/api/imports')).body.imports;
    expect(jobs[0]).toMatchObject({ kind: 'users', dryRun: true, status: 'done', rows: 5, ok: 3, bad: 2 });

    await report.getByRole('button', { name: 'Import for real' }).click();
    await page.getByTestId('import-report').getByRole('heading', { name: /Import report/ }).waitFor();
    expect(await page.getByTestId('import-ok').textContent()).toBe('3');
    expect(await page.getByTestId('import-bad').textContent()).toBe('2');
    await page.getByTestId('import-report').getByText('created', { exact: true }).waitFor();
    expect(await page.getByTestId('import-changes').textContent()).toBe('Created 3, updated 0, skipped 0.');
    expect(await page.locator('table.imports-table tbody tr').count()).toBe(2);

    const ann = await get('/api/users/imp-1');
    expect(ann.status).toBe(200);
    expect(JSON.stringify(ann.body)).toContain('Ann');
    expect(JSON.stringify(ann.body)).toContain('crm');
    const eve = await get('/api/users/imp-4');
    expect(eve.status).toBe(200);
    expect(JSON.stringify(eve.body)).toContain('Eve, Jr.');
    expect((await get('/api/users/imp-3')).status).toBe(404);
  });

  it('lists the first 1000 of 1200 bad rows and downloads all 1200 as CSV', async () => {
    // Lines 2–1201 have no userId; 300 good rows follow.
    const csv = 'userId,age\n' + Array.from({ length: 1500 }, (_, i) => (i < 1200 ? `,${i}` : `many-${i},${i}`)).join('\n') + '\n';
    await page.goto(`${base}/import`);
    await page.getByLabel('File (CSV or NDJSON)').setInputFiles({ name: 'many-bad.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.locator('.file-info', { hasText: 'about 1500 rows' }).waitFor();
    await page.getByRole('button', { name: 'Dry run', exact: true }).click();
    const report = page.getByTestId('import-report');
    await report.getByRole('heading', { name: /Dry run report/ }).waitFor();
    expect(await page.getByTestId('import-bad').textContent()).toBe('1200');
    expect(await report.getByTestId('bad-rows-count').textContent()).toMatch(/^1200 bad rows \(showing the first 1000\)/);
    expect(await report.locator('table.bad-rows tbody tr').count()).toBe(1000);
    // The download is the API's CSV of every bad row, not the 1000 on the page.
    const [file] = await Promise.all([page.waitForEvent('download'), report.getByRole('button', { name: 'Download CSV' }).click()]);
    expect(file.suggestedFilename()).toBe('many-bad.csv-bad-rows.csv');
    const lines = readFileSync((await file.path())!, 'utf8').trimEnd().split(/\r?\n/);
    expect(lines[0]).toBe('line,reason');
    expect(lines).toHaveLength(1201);
    expect(lines.slice(1).map((l) => Number(l.split(',')[0]))).toEqual(Array.from({ length: 1200 }, (_, i) => i + 2));
    expect(lines[1200]).toBe('1201,"missing userId (column ""userId"" is empty)"');
  });

  it('imports a list into a new static segment, and shows an option error from the API', async () => {
    await page.goto(`${base}/import`);
    await page.getByLabel('Kind').selectOption('segment');
    await page.getByLabel('File (CSV or NDJSON)').setInputFiles({ name: 'list.csv', mimeType: 'text/csv', buffer: Buffer.from('customer,x\nimp-1,1\nimp-2,2\nimp-3,3\n') });
    await page.getByLabel('Segment name').fill('Imported VIPs');
    // No userId column in the header: the API refuses (400) and the page says so.
    await page.getByRole('button', { name: 'Dry run', exact: true }).click();
    await page.locator('.error-box', { hasText: '400' }).waitFor();
    await page.getByLabel('userId column').fill('customer');
    // Skipping the dry run of a segment list asks first: new ids would not be listed before.
    const asked: string[] = [];
    page.once('dialog', (d) => { asked.push(d.message()); void d.accept(); });
    await page.getByRole('button', { name: 'Import without a dry run' }).click();
    await page.getByTestId('import-report').getByRole('heading', { name: /Import report/ }).waitFor();
    expect(asked).toEqual([expect.stringContaining('ids never seen before')]);
    expect(await page.getByTestId('import-ok').textContent()).toBe('3');
    // The report says what was made: a profile for imp-3, the one id no earlier import made.
    await page.getByTestId('new-ids').getByText('1 id was never seen').waitFor();
    expect(await page.getByTestId('new-ids').locator('li').allTextContents()).toEqual(['imp-3']);
    const seg = (await get('/api/segments')).body.segments.find((s: { name: string }) => s.name === 'Imported VIPs');
    expect(seg).toBeTruthy();
  });

  it('shows the upload and the job progress while a larger file goes up slowly', async () => {
    // 20,000 users (~370 KB) through a throttled upload (~150 KB/s): the bars have time to move.
    const csv = 'userId,plan,score\n' + Array.from({ length: 20_000 }, (_, i) => `bulk-${i},p${i % 7},${i}`).join('\n') + '\n';
    await page.goto(`${base}/import`);
    await page.getByLabel('File (CSV or NDJSON)').setInputFiles({ name: 'bulk.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.locator('.file-info', { hasText: 'about 20000 rows' }).waitFor();
    const cdp = await ui.browser.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 150 * 1024 });
    try {
      await page.getByRole('button', { name: 'Dry run', exact: true }).click();
      const uploadBar = page.getByRole('progressbar', { name: 'Upload' });
      await uploadBar.waitFor();
      const seen = new Set<number>();
      let jobText = '';
      while (await page.getByTestId('import-report').count() === 0) {
        const v = await uploadBar.getAttribute('aria-valuenow').catch(() => null);
        if (v !== null) seen.add(Number(v));
        const t = await page.locator('.import-progress .progress-label', { hasText: 'Rows processed' }).textContent().catch(() => null);
        if (t && /ok \d+ · bad \d+/.test(t)) jobText = t;
        await page.waitForTimeout(50);
      }
      expect([...seen].some((v) => v > 0 && v < 100), `upload values seen: ${[...seen].join(',')}`).toBe(true);
      expect(jobText).toMatch(/Rows processed\d+ of ≈20000 · ok \d+ · bad 0/);
    } finally {
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await cdp.detach();
    }
    expect(await page.getByTestId('import-rows').textContent()).toBe('20000');
    expect(await page.getByTestId('import-bad').textContent()).toBe('0');
  });

  it('fits a phone-width screen with a report shown', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(`${base}/import`);
    await page.getByLabel('File (CSV or NDJSON)').setInputFiles({ name: 'users-with-a-long-name-for-a-phone-screen.csv', mimeType: 'text/csv', buffer: Buffer.from(USERS_CSV) });
    await page.getByLabel('type of age').selectOption('number');
    await page.getByRole('button', { name: 'Dry run', exact: true }).click();
    await page.getByTestId('import-report').waitFor();
    await page.waitForLoadState('networkidle');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  });
});
