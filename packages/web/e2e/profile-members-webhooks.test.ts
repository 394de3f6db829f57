/**
 * The admin UI's small faults and the pages they were on, in a real browser: one error for a
 * wrong token, a favicon and a title per page, an unknown user answered once ("No user with id"),
 * the profile page's readable timeline, adding members by id (length check, new ids confirmed,
 * the hand-added marker), a webhook's test event, secret rotation and payloads, and a segment
 * import's dry run listing never-seen ids. Screenshots go to STRATA_SCREENSHOTS when it is set.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { adminClient, ingest, missingFor, openUiSession, type UiSession } from './support.ts';

const ADMIN = 'sta_e2e_uib_admin';
const WRITE = 'stw_e2e_uib_write';
const SHOTS = process.env.STRATA_SCREENSHOTS;

const missing = missingFor({ ui: true });
if (missing) console.warn(`[web e2e] skipped: ${missing}`);

describe.skipIf(missing !== null)('profile, members by id, webhooks and small faults in a real browser', () => {
  let ui: UiSession;
  let base: string;
  let page: Page;
  let admin: ReturnType<typeof adminClient>;
  let receiver: Server;
  let hookUrl: string;
  const received: string[] = [];
  /** Every response of the page: method, path and status. */
  const responses: { method: string; path: string; status: number }[] = [];
  const shot = async (name: string) => { if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true }); };

  beforeAll(async () => {
    ui = await openUiSession({ adminToken: ADMIN, writeKey: WRITE, profile: 'uib' });
    ({ base, page } = ui);
    admin = adminClient(base, ADMIN);
    const context = { page: { path: '/pricing', title: 'Pricing', url: 'https://shop.example/pricing' }, locale: 'fr-FR', campaign: { source: 'newsletter', medium: 'email' } };
    const batch = [
      { type: 'identify', userId: 'u1', traits: { plan: 'pro', address: { city: 'Lyon' } }, context },
      ...Array.from({ length: 60 }, (_, i) => ({ type: 'page', userId: 'u1', properties: { path: `/p/${i}`, title: `Page ${i}`, referrer: 'https://search.example/?q=strata' }, context })),
      { type: 'track', userId: 'u1', event: 'Order Completed', properties: { total: 42.5, currency: 'EUR', products: [{ sku: 'A-1' }] }, context },
      { type: 'identify', userId: 'u2' },
    ];
    expect(await ingest(base, WRITE, batch)).toBe(200);
    receiver = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => { received.push(Buffer.concat(parts).toString('utf8')); res.writeHead(204).end(); });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    page.on('response', (r) => { const u = new URL(r.url()); responses.push({ method: r.request().method(), path: u.pathname, status: r.status() }); });
  });

  afterAll(async () => {
    await ui?.close();
    receiver?.closeAllConnections();
    await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  });

  it('shows a wrong token\'s error once, has a favicon, and titles each page', async () => {
    await page.goto(`${base}/`);
    expect(await page.title()).toBe('Sign in · Strata');
    await page.getByLabel('Admin token').fill('wrong-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    await page.waitForLoadState('networkidle');
    // One message: no "Signed out: …" notice beside the form's own error.
    const message = (await page.getByRole('alert').textContent())!;
    expect(message.length).toBeGreaterThan(5);
    const text = await page.locator('main').innerText();
    expect(text.split(message).length - 1).toBe(1);
    expect(await page.locator('[role="status"]').count()).toBe(0);
    await shot('sign-in-wrong-token');
    await page.getByLabel('Admin token').fill(ADMIN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Segments' }).waitFor();
    expect(await page.title()).toBe('Segments · Strata');
    for (const [name, title] of [['Webhooks', 'Webhooks · Strata'], ['Bonus shop', 'Bonus shop · Strata'], ['Users', 'Users · Strata']] as const) {
      await page.getByRole('navigation').getByRole('link', { name, exact: true }).click();
      await page.getByRole('heading', { name, exact: true }).waitFor();
      expect(await page.title()).toBe(title);
    }
    const icon = responses.find((r) => r.path.startsWith('/favicon'));
    expect(icon?.status).toBe(200);
    expect(responses.filter((r) => r.status === 404)).toEqual([]);
  });

  it('says "No user with id …" for an unknown user after one request, with no Retry', async () => {
    const before = responses.length;
    await page.goto(`${base}/users/nobody-here`);
    await page.getByRole('heading', { name: 'User not found' }).waitFor();
    await page.getByText('No user with id').waitFor();
    await page.waitForLoadState('networkidle');
    expect(await page.getByRole('button', { name: 'Retry' }).count()).toBe(0);
    expect(await page.locator('.error-box').count()).toBe(0);
    expect(responses.slice(before).filter((r) => r.path.startsWith('/api/users/nobody-here'))).toEqual([{ method: 'GET', path: '/api/users/nobody-here', status: 404 }]);
    expect(await page.title()).toBe('nobody-here · Users · Strata');
    await shot('user-not-found');
  });

  it('shows the profile\'s events as readable rows and its context as plain values', async () => {
    await page.goto(`${base}/users/u1`);
    await page.getByRole('heading', { name: 'u1' }).waitFor();
    const rows = page.locator('.timeline-row');
    await rows.first().waitFor();
    // 20 rows at first, newest first; the rest a click away.
    expect(await rows.count()).toBe(20);
    const order = rows.filter({ hasText: 'Order Completed' });
    expect(await order.locator('.prop').allTextContents()).toEqual(['total 42.5', 'currency EUR', 'products [{"sku":"A-1"}]']);
    expect(await rows.first().locator('pre').isVisible()).toBe(false);
    await order.getByText('JSON').click();
    expect(JSON.parse((await order.locator('pre').textContent())!)).toMatchObject({ properties: { total: 42.5 } });
    // Context: nested values as dotted keys with plain text, not JSON strings.
    const ctx = page.locator('.card', { has: page.getByRole('heading', { name: 'Context' }) });
    expect(await ctx.locator('dt', { hasText: 'page.path' }).locator('xpath=following-sibling::dd').textContent()).toBe('/pricing');
    expect(await ctx.locator('dt', { hasText: 'campaign.source' }).locator('xpath=following-sibling::dd').textContent()).toBe('newsletter');
    expect(await ctx.locator('code').count()).toBe(0);
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    console.log(`[uib] profile page height with 62 events: ${height} px`);
    expect(height).toBeLessThan(2600);
    await shot('user-profile');
    // 62 events of the user's own, and the derived ones ($session visits, segment entries).
    const more = page.getByRole('button', { name: /^Show all \d+$/ });
    const n = Number((await more.textContent())!.replace(/\D/g, ''));
    expect(n).toBeGreaterThanOrEqual(62);
    await more.click();
    expect(await rows.count()).toBe(n);
  });

  it('adds members by id: an over-long id is refused in the page, new ids are confirmed first, hand-added rows are marked', async () => {
    const seg = (await admin('POST', '/api/segments', { name: 'Pro', condition: { attr: 'traits.plan', op: 'eq', value: 'pro' } })).body;
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/segments/${seg.id}`);
    await page.getByRole('heading', { name: /Pro/ }).waitFor();
    const box = page.getByLabel('add user by id');
    await box.fill('x'.repeat(300));
    await page.getByRole('alert').filter({ hasText: 'at most 256 characters' }).waitFor();
    expect(await page.getByRole('button', { name: 'Add', exact: true }).isDisabled()).toBe(true);
    // A known id and a typo: nothing is added until the new id is confirmed.
    await box.fill('u2, u2-typo');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    const confirm = page.getByRole('alertdialog', { name: 'new user ids' });
    await confirm.getByText('u2-typo').waitFor();
    expect(await confirm.locator('li').allTextContents()).toEqual(['u2-typo']);
    await shot('members-confirm-new-ids');
    expect((await admin('GET', `/api/segments/${seg.id}`)).body.include).toEqual([]);
    expect((await admin('GET', '/api/users/u2-typo')).status).toBe(404);
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    // Only the known one: added at once, with a success message and the marker.
    await box.fill('u2');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Added u2 to Pro by hand.' }).waitFor();
    const row = (id: string) => page.locator('.members-table tbody tr', { has: page.getByRole('link', { name: id, exact: true }) });
    await row('u2').getByText('added by hand').waitFor();
    expect(await row('u1').getByText('condition').count()).toBe(1);
    // A new id, confirmed.
    await box.fill('crm-9');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await confirm.getByRole('button', { name: 'Create it and add' }).click();
    await page.getByRole('status').filter({ hasText: 'New profile created for crm-9.' }).waitFor();
    await row('crm-9').getByText('added by hand').waitFor();
    await shot('members-added-by-hand');
    expect(errors).toEqual([]);
  });

  it('sends a webhook test event, shows its payload in the log, and rotates the secret (GET never shows it)', async () => {
    const hook = (await admin('POST', '/api/webhooks', { url: hookUrl })).body;
    expect((await admin('GET', `/api/webhooks/${hook.id}`)).body).not.toHaveProperty('secret');
    await page.goto(`${base}/webhooks`);
    const hookRow = page.locator('tr', { hasText: '127.0.0.1' });
    await hookRow.getByRole('button', { name: 'Details' }).click();
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByRole('status').filter({ hasText: /Test message msg_test_\w+ queued/ }).waitFor();
    await page.locator('table.deliveries tbody tr', { hasText: 'webhook.test' }).waitFor();
    await ui.running.ctx.dispatcher.runOnce();
    await page.getByRole('button', { name: 'Refresh log' }).click();
    const delivered = page.locator('table.deliveries tbody tr', { hasText: 'webhook.test' }).filter({ hasText: 'delivered' });
    await delivered.waitFor();
    expect(JSON.parse(received[0]!)).toMatchObject({ type: 'webhook.test', data: { webhookId: hook.id } });
    await delivered.getByText('Show').click();
    expect(JSON.parse((await delivered.locator('pre').textContent())!)).toMatchObject({ type: 'webhook.test', data: { webhookId: hook.id } });
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const fresh = await page.getByRole('status').filter({ hasText: 'New signing secret' }).locator('code').textContent();
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(hook.secret);
    await shot('webhook-test-event');
  });

  it('lists the never-seen ids in a segment import\'s dry run', async () => {
    await page.goto(`${base}/import`);
    await page.getByLabel('Kind').selectOption('segment');
    await page.getByLabel('File (CSV or NDJSON)').setInputFiles({ name: 'list.csv', mimeType: 'text/csv', buffer: Buffer.from('userId\nu1\nnew-a\nnew-b\n') });
    await page.getByLabel('Segment name').fill('Imported');
    await page.getByRole('button', { name: 'Dry run', exact: true }).click();
    const ids = page.getByTestId('new-ids');
    await ids.getByText('2 ids were never seen').waitFor();
    expect(await ids.locator('li').allTextContents()).toEqual(['new-a', 'new-b']);
    await page.getByRole('button', { name: 'Import for real and create 2 new users' }).waitFor();
    await shot('import-dry-run-new-ids');
  });
});
