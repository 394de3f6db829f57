/**
 * Settings → Keys in a real browser (Debian's Chromium through playwright-core) against the real
 * app over HTTP: create a server key (its value shown once, and working), find it listed by its
 * prefix only, revoke it (it stops working at once), see the last admin token refused, and
 * rotate the session's own token without being signed out; and, with the root token, create and
 * delete a project from the Projects card.
 * Skips, saying why, when Chromium or the built UI (`npm install` builds it) is missing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { adminClient, ingest, missingFor, openUiSession, signIn, type UiSession } from './support.ts';

const ADMIN = 'sta_e2e_keys_admin';
const WRITE = 'stw_e2e_keys_write';
const ROOT = 'str_e2e_keys_root';

const missing = missingFor({ ui: true });
if (missing) console.warn(`[web e2e] skipped: ${missing}`);

describe.skipIf(missing !== null)('keys on the Settings page in a real browser', () => {
  let ui: UiSession;
  let base: string;
  let page: Page;

  beforeAll(async () => {
    ui = await openUiSession({ adminToken: ADMIN, writeKey: WRITE, rootToken: ROOT, profile: 'keys' });
    ({ base, page } = ui);
    expect(await ingest(base, WRITE, [{ type: 'identify', userId: 'u1' }])).toBe(200);
    await signIn(page, `${base}/`, ADMIN);
  });

  afterAll(async () => {
    await ui?.close();
  });

  it('creates a server key (shown once, with a copy button), lists it by prefix, and revokes it', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Settings' }).click();
    const table = page.locator('.keys-table');
    await expect.poll(() => table.locator('tbody tr').count()).toBe(2);
    expect(await table.textContent()).not.toContain(ADMIN);

    await page.getByLabel('Kind').selectOption('server');
    await page.getByLabel('Label').fill('Checkout back end');
    await page.getByRole('button', { name: 'Create key' }).click();
    const shown = page.getByRole('status', { name: 'New key value' });
    await shown.waitFor();
    expect(await shown.textContent()).toContain('not shown again');
    await shown.getByRole('button', { name: 'Copy' }).waitFor();
    const value = (await page.getByTestId('key-value').textContent())!;
    expect(value).toMatch(/^sts_/);
    const row = table.locator('tbody tr', { hasText: 'Checkout back end' });
    await row.waitFor();
    expect(await row.textContent()).toContain(`Server key`);
    expect(await row.textContent()).toContain(`${value.slice(0, 10)}…`);
    expect(await row.textContent()).not.toContain(value);
    // The key works: a back end adjusts points with it.
    const server = adminClient(base, value);
    expect((await server('POST', '/api/users/u1/points', { amount: 5, reason: 'e2e' })).status).toBe(200);
    await shown.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'detached' });

    page.once('dialog', (d) => void d.accept());
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.waitFor({ state: 'detached' });
    expect(await table.locator('tbody tr').count()).toBe(2);
    expect((await server('POST', '/api/users/u1/points', { amount: 5, reason: 'e2e' })).status).toBe(401);
  });

  it('refuses to revoke the last admin token, saying why', async () => {
    const row = page.locator('.keys-table tbody tr', { hasText: 'Admin token' });
    page.once('dialog', (d) => void d.accept());
    await row.getByRole('button', { name: 'Revoke' }).click();
    const alert = row.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('last admin token');
    expect((await adminClient(base, ADMIN)('GET', '/api/keys')).status).toBe(200);
  });

  it('creates and deletes a project with the root token, which a wrong one cannot, and the admin session stays', async () => {
    await page.getByLabel('Root token').fill('str_wrong');
    await page.getByRole('button', { name: 'Manage projects' }).click();
    await expect.poll(async () => (await page.locator('.card', { hasText: 'Projects' }).getByRole('alert').textContent()) ?? '').toContain('unknown root token');
    expect(await page.evaluate(() => sessionStorage.getItem('strata.adminToken'))).toBe(ADMIN);

    await page.getByLabel('Root token').fill(ROOT);
    await page.getByRole('button', { name: 'Manage projects' }).click();
    const table = page.locator('.projects-table');
    await expect.poll(() => table.locator('tbody tr').count()).toBe(1);
    await page.getByLabel('New project').fill('Shop');
    await page.getByRole('button', { name: 'Create project' }).click();
    const shown = page.getByRole('status', { name: 'New project credentials' });
    await shown.waitFor();
    const text = (await shown.textContent())!;
    const token = /Admin token: (sta_\S+?)Write key/.exec(text)?.[1];
    expect(token, text).toMatch(/^sta_[\w-]{32}$/);
    await expect.poll(() => table.locator('tbody tr').count()).toBe(2);
    const shop = adminClient(base, token!);
    expect((await shop('GET', '/api/segments')).body).toEqual({ segments: [] });

    page.once('dialog', (d) => void d.accept());
    await table.locator('tbody tr', { hasText: 'Shop' }).getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => table.locator('tbody tr').count()).toBe(1);
    expect((await shop('GET', '/api/segments')).status).toBe(401);
    await page.getByRole('button', { name: 'Close' }).click();
    await page.getByLabel('Root token').waitFor();
  });

  it('rotates the token this session signed in with, and the session goes on with the new value', async () => {
    const row = page.locator('.keys-table tbody tr', { hasText: 'this session' });
    expect(await row.textContent()).toContain('Admin token');
    page.once('dialog', (d) => void d.accept());
    await row.getByRole('button', { name: 'Rotate' }).click();
    const shown = page.getByRole('status', { name: 'New key value' });
    await shown.waitFor();
    const value = (await page.getByTestId('key-value').textContent())!;
    expect(value).toMatch(/^sta_/);
    expect((await adminClient(base, ADMIN)('GET', '/api/keys')).status).toBe(401);
    expect(await page.evaluate(() => sessionStorage.getItem('strata.adminToken'))).toBe(value);
    // Still signed in: the list reloads with the new token.
    await page.locator('.keys-table tbody tr', { hasText: 'this session' }).waitFor();
    await page.getByRole('navigation').getByRole('link', { name: 'Segments' }).click();
    await page.getByRole('heading', { name: 'Segments' }).waitFor();
  });
});
