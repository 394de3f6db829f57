/**
 * The audit log page and the Erase user button in a real browser: a label added on a profile
 * shows in the audit log (filtered, and paged), and erasing a user (with suppression) leaves the
 * user gone and one "erase" entry that names the user only by a hash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { tokenPrefix } from '@strata/store';
import { adminClient, ingest, missingFor, openUiSession, signIn, type UiSession } from './support.ts';

const ADMIN = 'sta_e2e_audit_admin';
const WRITE = 'stw_e2e_audit_write';

const missing = missingFor({ ui: true });
if (missing) console.warn(`[web e2e] skipped: ${missing}`);

describe.skipIf(missing !== null)('audit log and erasure in a real browser', () => {
  let ui: UiSession;
  let base: string;
  let page: Page;
  let admin: ReturnType<typeof adminClient>;

  beforeAll(async () => {
    ui = await openUiSession({ adminToken: ADMIN, writeKey: WRITE, profile: 'audit' });
    ({ base, page } = ui);
    admin = adminClient(base, ADMIN);
    expect(await ingest(base, WRITE, [{ type: 'identify', userId: 'u_keep', traits: { plan: 'pro' } }, { type: 'identify', userId: 'u_gone', traits: { plan: 'free' } }])).toBe(200);
  });

  afterAll(async () => {
    await ui?.close();
  });

  const rows = () => page.locator('tr.audit-row');

  it('a change made in the UI shows in the audit log, with filters and paging', async () => {
    await signIn(page, `${base}/users/u_keep`, ADMIN, 'u_keep');
    await page.getByLabel('add label').fill('vip');
    const added = page.waitForResponse((r) => r.url().endsWith('/api/users/u_keep/labels') && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Add label' }).click();
    expect((await added).status()).toBe(200);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    await rows().first().waitFor();
    expect(await rows().count()).toBe(1);
    const row = rows().first();
    expect(await row.textContent()).toContain('update-labels');
    expect(await row.getByRole('link', { name: 'u_keep' }).getAttribute('href')).toBe('/users/u_keep');
    expect(await row.textContent()).toContain('labels changed');
    expect(await row.textContent()).toContain(tokenPrefix(ADMIN));
    expect(await row.textContent()).not.toContain(ADMIN);
    await row.getByText('Before / after').click();
    expect(await row.locator('pre.json').nth(1).textContent()).toContain('"vip"');

    // Filter by type: segments have no entry yet.
    await page.getByLabel('resource type').selectOption('segment');
    await page.getByText('No changes recorded for this filter.').waitFor();
    expect(page.url()).toContain('resourceType=segment');

    // Thirty segment creations page by 25, newest first.
    for (let i = 0; i < 30; i++) expect((await admin('POST', '/api/segments', { name: `S${String(i).padStart(2, '0')}`, condition: null })).status).toBe(201);
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll('tr.audit-row').length === 30);
    await page.getByLabel('page size').selectOption('25');
    await page.waitForFunction(() => document.querySelectorAll('tr.audit-row').length === 25);
    expect(await rows().first().locator('pre.json').nth(1).textContent()).toContain('"S29"');
    await page.getByRole('button', { name: 'Older →' }).click();
    await page.getByText('Page 2').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('tr.audit-row').length === 5);
    expect(await rows().last().locator('pre.json').nth(1).textContent()).toContain('"S00"');
    expect(await page.getByRole('button', { name: 'Older →' }).isDisabled()).toBe(true);

    // By resource id.
    await page.getByLabel('resource type').selectOption('');
    await page.getByLabel('resource id').fill('u_keep');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForFunction(() => document.querySelectorAll('tr.audit-row').length === 1);
    expect(await rows().first().textContent()).toContain('update-labels');
  });

  it('erases a user from the profile after a confirmation, with suppression; the log keeps only a hash', async () => {
    await page.goto(`${base}/users/u_gone`);
    await page.getByRole('heading', { name: 'u_gone' }).waitFor();
    await page.getByRole('button', { name: 'Erase user…' }).click();
    const dialog = page.getByRole('alertdialog', { name: 'erase user' });
    await dialog.waitFor();
    // Cancel changes nothing.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await admin('GET', '/api/users/u_gone')).status).toBe(200);

    await page.getByRole('button', { name: 'Erase user…' }).click();
    await dialog.getByRole('checkbox').check();
    const erased = page.waitForResponse((r) => r.url().includes('/api/users/u_gone') && r.request().method() === 'DELETE');
    await dialog.getByRole('button', { name: 'Erase u_gone' }).click();
    const res = await erased;
    expect(res.status()).toBe(200);
    expect(new URL(res.url()).search).toBe('?suppress=true');
    await page.getByRole('heading', { name: 'User erased' }).waitFor();
    expect(await page.getByRole('status').textContent()).toContain('u_gone was erased');
    expect((await admin('GET', '/api/users/u_gone')).status).toBe(404);

    await page.goto(`${base}/audit?resourceType=user`);
    await rows().first().waitFor();
    const top = rows().first();
    expect(await top.textContent()).toContain('erase');
    expect(await top.textContent()).toContain('user erased');
    expect(await top.textContent()).toContain('sha256:');
    expect(await top.getByRole('link').count()).toBe(0);
    expect(await page.locator('main').textContent()).not.toContain('u_gone');
  });

  it('fits a phone: the audit log (entries unfolded) and the erase confirmation scroll inside their boxes', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    try {
      const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      await page.goto(`${base}/audit`);
      await rows().first().waitFor();
      await rows().first().getByText('Before / after').click();
      expect(await overflow()).toBeLessThanOrEqual(0);
      await page.goto(`${base}/users/u_keep`);
      await page.getByRole('button', { name: 'Erase user…' }).click();
      await page.getByRole('alertdialog', { name: 'erase user' }).waitFor();
      expect(await overflow()).toBeLessThanOrEqual(0);
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });
});
