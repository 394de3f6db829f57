/**
 * The admin UI speaks in names and says things in words, in a real browser (Debian's Chromium
 * through playwright-core) against the real app: experiment results picked by mission, reward and
 * event name; the Insights tab with its figures, top events and a comparison; sparklines with a gap
 * before a segment existed; a `not` explained as the negation that held, in a neutral box; a
 * template's taken name flagged at the Name field; a refused delete under an intact header; names
 * instead of seg_/exp_ ids. Saves PNG screenshots to `e2e/screenshots/` (git-ignored).
 * Skips, saying why, when Chromium or the built UI is missing.
 */
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { adminClient, ingest, missingFor, openUiSession, signIn, type UiSession } from './support.ts';

const ADMIN = 'sta_e2e_names';
const WRITE = 'stw_e2e_names';
const SHOTS = fileURLToPath(new URL('../../../e2e/screenshots', import.meta.url));

const missing = missingFor({ ui: true });
if (missing) console.warn(`[web e2e] skipped: ${missing}`);

describe.skipIf(missing !== null)('names, insights and explanations in a real browser', () => {
  let ui: UiSession;
  let base: string;
  let page: Page;
  let admin: ReturnType<typeof adminClient>;
  const ids: Record<string, string> = {};

  const shot = async (name: string) => {
    mkdirSync(SHOTS, { recursive: true });
    const path = join(SHOTS, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    expect(statSync(path).size).toBeGreaterThan(5000);
  };
  const open = async (path: string) => {
    await page.goto(`${base}${path}`);
  };

  beforeAll(async () => {
    ui = await openUiSession({ adminToken: ADMIN, writeKey: WRITE, profile: 'names' });
    ({ base, page } = ui);
    admin = adminClient(base, ADMIN);
    // Four known users; u1 is a vip; u1 and u2 buy; everyone views a page.
    expect(await ingest(base, WRITE, [
      ...['u1', 'u2', 'u3', 'u4'].map((id, i) => ({ type: 'identify', userId: id, traits: { plan: i === 0 ? 'vip' : 'free' } })),
      ...['u1', 'u2'].map((id) => ({ type: 'track', userId: id, event: 'purchase', properties: { revenue: 10 } })),
      ...['u1', 'u2', 'u3', 'u4'].map((id) => ({ type: 'page', userId: id, properties: { path: '/' } })),
    ])).toBe(200);
    const make = async (body: object) => {
      const r = await admin('POST', '/api/segments', body);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body as { id: string; condition: unknown };
    };
    const known = await make({ template: 'known' });
    ids.known = known.id;
    ids.buyers = (await make({ name: 'Buyers', condition: { event: 'purchase' } })).id;
    ids.vip = (await make({ name: 'VIP', condition: { attr: 'traits.plan', op: 'eq', value: 'vip' } })).id;
    ids.copy = (await make({ name: 'Known again', condition: known.condition })).id;
    const mission = await admin('POST', '/api/missions', { name: 'Welcome purchase', segmentIds: [ids.vip], goal: { kind: 'count', event: 'purchase', target: 1 }, points: 10 });
    expect(mission.status, JSON.stringify(mission.body)).toBe(201);
    ids.mission = mission.body.id;
    const reward = await admin('POST', '/api/rewards', { name: 'Coffee voucher', type: 'digital', cost: 10 });
    expect(reward.status).toBe(201);
    const exp = await admin('POST', '/api/experiments', { name: 'Checkout test', audienceSegmentId: ids.buyers, status: 'running', arms: [{ key: 'control', name: 'Control', weight: 1 }, { key: 'onepage', name: 'One page', weight: 1 }] });
    expect(exp.status, JSON.stringify(exp.body)).toBe(201);
    ids.experiment = exp.body.id;
    ids.arm = exp.body.arms[0].segmentId;
    await signIn(page, `${base}/`, ADMIN);
  });

  afterAll(async () => {
    await ui?.close();
  });

  it('the list names each warning\'s target once, shows arms by key and starts sparklines when the segment did', async () => {
    await open('/segments');
    const row = page.locator('.segments-table tbody tr', { has: page.getByRole('link', { name: 'Known users', exact: true }) });
    await expect.poll(() => row.getByTestId('segment-warnings').locator('.badge').allTextContents()).toEqual(expect.arrayContaining(['SUBSET of Buyers', 'SUBSET of VIP']));
    // A gallery template's badge is its name.
    expect((await row.locator('td').nth(3).textContent())?.trim()).toBe('Known users');
    const badges = await row.getByTestId('segment-warnings').locator('.badge').allTextContents();
    expect(new Set(badges).size).toBe(badges.length);
    expect(badges.join(' ')).not.toMatch(/seg_/);
    // An arm's template badge names the arm, not the experiment's id.
    const arm = page.locator('.segments-table tbody tr', { has: page.getByRole('link', { name: 'Experiment Checkout test: Control' }) });
    expect((await arm.locator('.badge').first().textContent())?.trim()).toBe('experiment arm control');
    expect(await page.locator('.segments-table').textContent()).not.toMatch(/exp_|seg_/);
    // Every segment was made today: the 29 days before are a gap, today a dot — no line from 0.
    const spark = row.locator('svg.sparkline');
    await spark.waitFor();
    expect(await spark.locator('polyline').count()).toBe(0);
    expect(await spark.locator('circle').count()).toBe(1);
    await shot('names-segment-list');
  });

  it('links a DUPLICATE warning by the segment\'s name, and an arm\'s page speaks in names', async () => {
    await open(`/segments/${ids.copy}`);
    const warnings = page.getByRole('list', { name: 'warnings' });
    await warnings.getByRole('link', { name: 'Known users' }).waitFor();
    expect(await warnings.textContent()).not.toMatch(/seg_/);
    await open(`/segments/${ids.arm}`);
    await page.getByRole('heading', { name: /Experiment Checkout test: Control/ }).waitFor();
    const head = await page.locator('.page-head').first().textContent();
    expect(head).toContain('experiment arm control');
    expect(head).toContain('of experiment "Checkout test"');
    expect(head).toContain('within segment "Buyers"');
    expect(head).not.toMatch(/exp_|seg_/);
    await page.getByRole('tab', { name: 'Definition' }).click();
    await page.getByRole('link', { name: 'see it in Experiments' }).waitFor();
    expect(await page.locator('.card').filter({ hasText: 'Definition' }).locator('p').first().textContent()).not.toMatch(/exp_/);
  });

  it('refuses to delete a segment a mission targets with a message under an intact header', async () => {
    await open(`/segments/${ids.vip}`);
    await page.getByRole('heading', { name: 'VIP' }).waitFor();
    const head = page.locator('.page-head').first();
    const before = (await head.boundingBox())!;
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete' }).click();
    const alert = page.locator('.delete-error');
    await alert.waitFor();
    const text = await alert.textContent();
    expect(text).toContain('“VIP” cannot be deleted');
    expect(text).toContain('segment "VIP" is targeted by mission "Welcome purchase"');
    // The header is as it was: same height, the Delete button its own size, the message below it.
    const after = (await head.boundingBox())!;
    expect(Math.abs(after.height - before.height)).toBeLessThan(2);
    const del = (await page.getByRole('button', { name: 'Delete' }).boundingBox())!;
    expect(del.width).toBeLessThan(150);
    expect((await alert.boundingBox())!.y).toBeGreaterThanOrEqual(after.y + after.height - 1);
    await shot('names-delete-refused');
    expect((await admin('GET', `/api/segments/${ids.vip}`)).status).toBe(200);
  });

  it('shows the Insights tab: figures, top events, and a comparison of two segments', async () => {
    await open(`/segments/${ids.buyers}`);
    await page.getByRole('tab', { name: 'Insights' }).click();
    const figures = page.getByRole('definition').first();
    await figures.waitFor();
    const list = page.locator('dl.figures');
    expect(await list.textContent()).toContain('Mission participants');
    expect(await list.textContent()).toContain('Points earned');
    await expect.poll(() => page.locator('table.top-events tbody tr').allTextContents()).toEqual(expect.arrayContaining([expect.stringMatching(/^purchase\s*2\s*2$/)]));
    // Made today: one day of values, drawn as a dot (the days before are a gap, not a line at 0).
    await page.locator('[aria-label="size over time"] .recharts-line-dots circle').waitFor();
    expect(await page.locator('[aria-label="size over time"] .recharts-line-dots circle').count()).toBe(1);
    await page.getByLabel('add to Compare with').selectOption({ label: 'Known users' });
    // The segment itself is not among the choices.
    expect(await page.getByLabel('add to Compare with').locator('option').allTextContents()).not.toContain('Buyers');
    const table = page.locator('table.compare-table');
    await table.waitFor();
    expect(await table.locator('thead th').allTextContents()).toEqual(['', 'Buyers', 'Known users']);
    const members = await table.locator('tbody tr', { hasText: 'Members now' }).locator('td').allTextContents();
    expect(members).toEqual(['2', '4']);
    await page.locator('[aria-label="sizes compared"] .recharts-line-dots circle').first().waitFor();
    expect(await page.locator('[aria-label="sizes compared"] .recharts-line-dots circle').count()).toBe(2);
    expect(await page.locator('[aria-label="sizes compared"] .recharts-legend-item').allTextContents()).toEqual(['Buyers', 'Known users']);
    await shot('names-insights');
    // The tab with a comparison fits a phone-width screen (tables scroll in their own box).
    await page.setViewportSize({ width: 375, height: 800 });
    await page.waitForTimeout(200);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
    await shot('names-insights-375');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('picks an experiment\'s metric target by name: events with counts, missions, rewards', async () => {
    await open('/experiments');
    await page.getByRole('button', { name: 'Details' }).click();
    const event = page.getByLabel('event', { exact: true });
    await expect.poll(() => event.locator('option').allTextContents()).toEqual(expect.arrayContaining(['any event (*)', 'purchase (2)', '$pageview (4)']));
    await event.selectOption({ label: 'purchase (2)' });
    await page.getByRole('button', { name: 'Compute' }).click();
    await page.locator('.card table tbody tr').first().waitFor();
    await page.getByLabel('metric').selectOption({ label: 'Mission completion' });
    const mission = page.getByLabel('mission', { exact: true });
    await expect.poll(() => mission.locator('option').allTextContents()).toEqual(['choose a mission…', 'Welcome purchase']);
    // Nothing chosen: said in the browser, nothing sent.
    await page.getByRole('button', { name: 'Compute' }).click();
    await page.locator('.metric-form .field-error', { hasText: 'choose a mission' }).waitFor();
    const seen: string[] = [];
    page.on('request', (r) => { if (r.url().includes('/results')) seen.push(r.url()); });
    await mission.selectOption({ label: 'Welcome purchase' });
    await page.getByRole('button', { name: 'Compute' }).click();
    await expect.poll(() => seen.length).toBe(1);
    expect(seen[0]).toContain(`missionId=${ids.mission}`);
    await page.getByLabel('metric').selectOption({ label: 'Reward redemption' });
    await expect.poll(() => page.getByLabel('reward', { exact: true }).locator('option').allTextContents()).toEqual(['choose a reward…', 'Coffee voucher']);
    await shot('names-experiment-metric');
  });

  it('explains a member matched through a not as the negation that held, in a neutral box', async () => {
    await open('/segments/new');
    await page.getByRole('tab', { name: 'Original segment' }).click();
    await page.locator('input[name="name"]').fill('Never bought');
    await page.getByRole('tab', { name: 'JSON' }).click();
    await page.getByLabel('condition JSON').fill(JSON.stringify({ not: { event: 'purchase' } }));
    await expect.poll(() => page.getByTestId('preview-count').textContent()).toBe('2');
    const why = page.locator('.sample .why li').first();
    await why.waitFor();
    expect(await why.textContent()).toBe("✓ not: purchase count is 0 all time, so 'purchase count ≥ 1 all time' does not hold");
    await page.getByRole('tab', { name: 'Builder' }).click();
    const box = page.locator('.node-not').first();
    await box.waitFor();
    expect(await box.locator('.negation-hint').textContent()).toContain('does not hold');
    const color = await box.evaluate((el) => getComputedStyle(el).borderLeftColor);
    // Neutral grey, not the red (#ff8787) that read as an error.
    expect(color).toBe('rgb(134, 142, 150)');
    await shot('names-not-explained');
  });

  it('flags the Name field of a template whose segment exists, in words, scrolled into view', async () => {
    await page.setViewportSize({ width: 1280, height: 600 });
    await open('/segments/new');
    await page.locator('[data-template="known"]').click();
    await page.getByTestId('preview-count').waitFor();
    await page.getByRole('button', { name: 'Save segment' }).click();
    const fault = page.locator('#segment-name-fault');
    await fault.waitFor();
    expect(await fault.textContent()).toBe('A segment from this template already exists — choose another name');
    const input = page.locator('#segment-name');
    expect(await input.getAttribute('aria-invalid')).toBe('true');
    expect(await input.evaluate((el) => el === document.activeElement)).toBe(true);
    const boxes = [(await input.boundingBox())!, (await fault.boundingBox())!];
    for (const b of boxes) expect(b.y >= 0 && b.y + b.height <= 600).toBe(true);
    expect(await page.locator('.error-box').count()).toBe(0);
    await shot('names-template-conflict');
    // A new name clears the fault and saves.
    await input.fill('Known users (2)');
    expect(await fault.count()).toBe(0);
    await page.getByRole('button', { name: 'Save segment' }).click();
    await page.getByRole('heading', { name: /Known users \(2\)/ }).waitFor();
    await page.setViewportSize({ width: 1280, height: 900 });
  });
});
