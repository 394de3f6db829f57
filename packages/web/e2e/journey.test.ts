/**
 * One journey through Strata in a real browser (Debian's Chromium through playwright-core), against
 * one running app (the real server over HTTP on a test SQLite store, serving the built UI and the
 * built SDK):
 *
 * an admin signs in, creates a segment from the *Campaign source* template, adds a user by id and
 * finds them in the members table, creates a mission for the segment on the Missions page and
 * switches it off and on again, and copies the SDK snippet from Settings; then a page on another
 * origin loads the SDK with that snippet, a new visitor arrives from the campaign, identifies,
 * lands in the segment, sees the mission in `strata.targeting()`, completes it with `track` calls
 * and gets the points. Along the way it saves PNG screenshots of the main pages (1280 px, and
 * two at phone width) under `e2e/screenshots/` at the repository root (git-ignored).
 *
 * Skips, saying why, when Chromium, the built UI or the built SDK is missing.
 */
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { bucketOf } from '@strata/core';
import { SDK_DIST, WEB_DIST, adminClient, ingest, launchChromium, missingFor, startApp, signIn, type RunningApp } from './support.ts';

const SHOTS = fileURLToPath(new URL('../../../e2e/screenshots', import.meta.url));
const ADMIN = 'sta_journey_admin';
const WRITE = 'stw_journey_write';

const missing = missingFor({ ui: true, sdk: true });
if (missing) console.warn(`[web e2e journey] skipped: ${missing}`);

/** Every screenshot this file saves (checked at the end: each exists and is not trivially small). */
const SCREENSHOTS = [
  'segments-list-1280', 'segment-create-templates-1280', 'segment-builder-preview-1280', 'segment-detail-1280',
  'user-profile-1280', 'missions-1280', 'bonus-shop-1280', 'experiment-results-1280', 'settings-1280',
  'segments-list-375', 'segment-detail-375',
] as const;
type Shot = (typeof SCREENSHOTS)[number];

// In page callbacks: the SDK's client once the script has loaded (docs/sdk.md).
declare const strata: {
  version: string;
  identify(userId: string, traits?: Record<string, unknown>): Promise<void>;
  track(event: string, properties?: Record<string, unknown>): Promise<void>;
  flush(): Promise<void>;
  user(): { userId: string | null; anonymousId: string };
  targeting(): Promise<{ known: boolean; points: number; segments: { id: string; name: string }[] | null; missions: { id: string; name: string; points: number; progress: { current: number; target: number; completed: boolean } }[] }>;
};

describe.skipIf(missing !== null)('a journey: segment, mission, and a visitor through the SDK, in a real browser', () => {
  let running: RunningApp;
  let base: string;
  let site: Server;
  let siteUrl: string;
  /** The SDK snippet the Settings page shows, served by the site once it has been copied. */
  let snippet = '';
  let browser: Browser;
  let adminContext: BrowserContext;
  let visitorContext: BrowserContext;
  let page: Page;
  let visitor: Page;
  let segmentId = '';
  let missionId = '';

  const shot = async (name: Shot) => {
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };

  let admin: ReturnType<typeof adminClient>;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    for (const name of SCREENSHOTS) rmSync(join(SHOTS, `${name}.png`), { force: true });

    running = await startApp({ adminToken: ADMIN, writeKey: WRITE, ui: WEB_DIST, sdk: SDK_DIST });
    base = running.base;
    admin = adminClient(base, ADMIN);
    // Four known users, one of whom came from the spring newsletter, and an anonymous visitor.
    // u1's visit starts with the campaign page view (a visit's UTM come from its first event).
    const batch = [
      { type: 'page', userId: 'u1', properties: { path: '/course' }, context: { campaign: { source: 'spring-news', medium: 'email' } } },
      ...['u1', 'u2', 'u3', 'u4'].map((id, i) => ({ type: 'identify', userId: id, traits: { plan: i === 0 ? 'vip' : 'free' } })),
      ...['u2', 'u3'].map((id) => ({ type: 'page', userId: id, properties: { path: '/pricing' } })),
      { type: 'track', userId: 'u2', event: 'purchase', properties: { amount: 40 } },
      { type: 'page', anonymousId: 'anon-1', properties: { path: '/' } },
    ].map((m, i) => ({ ...m, timestamp: new Date(Date.now() - 600_000 + i * 1_000).toISOString() }));
    expect(await ingest(base, WRITE, batch)).toBe(200);

    // The customer's site: another origin (localhost, not 127.0.0.1), with the snippet in its <head>.
    site = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><html><head><title>Course</title>${snippet}</head><body><h1>Spring course</h1></body></html>`);
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    siteUrl = `http://localhost:${(site.address() as AddressInfo).port}`;

    browser = await launchChromium();
    adminContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await adminContext.newPage();
    page.setDefaultTimeout(10_000);
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (site ? site.close(resolve) : resolve(undefined)));
    await running?.close();
  });

  it('signs in and creates a segment from the Campaign source template', async () => {
    await signIn(page, `${base}/`, ADMIN);
    await page.getByRole('button', { name: 'Create Segment' }).click();
    const card = page.locator('[data-template="campaign-source"]');
    await card.waitFor();
    await shot('segment-create-templates-1280');
    await card.click();
    await page.getByLabel('Name', { exact: true }).fill('Spring newsletter visitors');
    await page.getByLabel('utm_source', { exact: true }).fill('spring-news');
    // u1 came from the newsletter.
    await expect.poll(() => page.getByTestId('preview-count').textContent()).toBe('1');
    await page.getByRole('button', { name: 'Save segment' }).click();
    await page.getByRole('heading', { name: /Spring newsletter visitors/ }).waitFor();
    expect((await page.getByTestId('segment-size').textContent())?.trim()).toMatch(/^1\b/);
    segmentId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2] ?? '');
    expect(segmentId).not.toBe('');
    const seg = await admin('GET', `/api/segments/${encodeURIComponent(segmentId)}`);
    expect(seg.body).toMatchObject({ name: 'Spring newsletter visitors', template: 'campaign-source', params: { source: 'spring-news' } });
  });

  it('adds a user by id and finds them in the members table', async () => {
    await page.getByLabel('add user by id').fill('crm-42');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    // Never seen before: the page lists it and asks before creating the profile.
    await page.getByRole('alertdialog', { name: 'new user ids' }).getByRole('button', { name: 'Create it and add' }).click();
    await expect.poll(() => page.getByTestId('segment-size').textContent()).toMatch(/^2\b/);
    await page.locator('.members-table tr', { hasText: 'crm-42' }).waitFor();
    await page.getByLabel('find user by id').fill('crm-42');
    await page.getByRole('button', { name: 'Find', exact: true }).click();
    await page.getByText(/is a member since/).waitFor();
    expect((await admin('GET', `/api/segments/${encodeURIComponent(segmentId)}`)).body.include).toEqual(['crm-42']);
  });

  it('creates a mission for the segment on the Missions page and switches it off and on', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Missions', exact: true }).click();
    await page.getByRole('heading', { name: 'Missions', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const form = page.getByRole('form', { name: 'New mission' });
    await form.getByLabel('Name', { exact: true }).fill('Finish two lessons');
    await form.getByLabel('Description').fill('Two lessons of the spring course');
    expect(await form.getByLabel('Kind of goal').inputValue()).toBe('count');
    await form.getByLabel('Event', { exact: true }).fill('Lesson Completed');
    await form.getByLabel('Times', { exact: true }).fill('2');
    await form.getByLabel('Points', { exact: true }).fill('30');
    await form.getByLabel('add to Segments').selectOption({ label: 'Spring newsletter visitors' });
    expect(await form.getByLabel('Active').isChecked()).toBe(true);
    await form.getByRole('button', { name: 'Create', exact: true }).click();
    const row = page.locator('tr', { hasText: 'Finish two lessons' });
    await row.waitFor();
    // The list names the segment (linked to its page), not its id.
    expect(await row.getByRole('link', { name: 'Spring newsletter visitors' }).getAttribute('href')).toBe(`/segments/${encodeURIComponent(segmentId)}`);
    const mission = async () => (await admin('GET', '/api/missions')).body.missions.find((m: { name: string }) => m.name === 'Finish two lessons');
    missionId = (await mission()).id;
    expect(await mission()).toMatchObject({ active: true, segmentIds: [segmentId], points: 30, description: 'Two lessons of the spring course', goal: { kind: 'count', event: 'Lesson Completed', target: 2 }, repeatable: false });
    await row.getByRole('button', { name: 'Active', exact: true }).click();
    await row.getByRole('button', { name: 'Inactive', exact: true }).waitFor();
    expect((await mission()).active).toBe(false);
    await row.getByRole('button', { name: 'Inactive', exact: true }).click();
    await row.getByRole('button', { name: 'Active', exact: true }).waitFor();
    expect((await mission()).active).toBe(true);
  });

  it('a new visitor from the campaign, on another origin, loads the SDK from the Settings snippet, enters the segment and is offered the mission', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Settings', exact: true }).click();
    snippet = (await page.getByLabel('SDK snippet').textContent()) ?? '';
    expect(snippet).toContain(JSON.stringify(base));
    expect(snippet).toContain('/sdk/strata.min.js');
    expect(snippet).toContain(WRITE);
    await shot('settings-1280');

    visitorContext = await browser.newContext({ locale: 'en-GB', viewport: { width: 1280, height: 800 } });
    visitor = await visitorContext.newPage();
    visitor.setDefaultTimeout(10_000);
    await visitor.goto(`${siteUrl}/course/spring?utm_source=spring-news&utm_medium=email&utm_campaign=spring`);
    await visitor.waitForFunction(() => typeof (window as any).strata?.version === 'string');
    const anon = await visitor.evaluate(() => strata.user().anonymousId);
    await visitor.evaluate(async () => {
      await strata.identify('learner-1', { plan: 'pro', email: 'learner@example.com' });
      await strata.track('Course Opened', { course: 'spring' });
      await strata.flush();
    });

    // The admin API: learner-1 (the anonymous visit merged in) is in the segment, by its $session's utm_source.
    const deadline = Date.now() + 10_000;
    let profile: any = null;
    while (Date.now() < deadline) {
      const r = await admin('GET', '/api/users/learner-1');
      if (r.status === 200 && r.body.segments.some((s: { id: string }) => s.id === segmentId)) { profile = r.body; break; }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(profile, 'learner-1 in the segment').not.toBeNull();
    expect(profile.anonymousIds).toContain(anon);
    expect(profile.traits).toMatchObject({ plan: 'pro' });
    const members = (await admin('GET', `/api/segments/${encodeURIComponent(segmentId)}/members?limit=100`)).body.members.map((m: { userId: string | null }) => m.userId);
    expect(members).toEqual(expect.arrayContaining(['u1', 'crm-42', 'learner-1']));

    // The page: targeting() offers the segment's mission, not started yet. It does not name the
    // segment: a write key learns no segment names unless the project allows it (docs/targeting.md).
    const t = await visitor.evaluate(() => strata.targeting());
    expect(t.known).toBe(true);
    expect(t.segments).toBeNull();
    const offered = t.missions.find((m) => m.id === missionId);
    expect(offered).toMatchObject({ name: 'Finish two lessons', points: 30 });
    expect(offered?.progress).toMatchObject({ current: 0, target: 2, completed: false });
    expect(t.points).toBe(0);

    // The admin sees them in the members table too.
    await page.goto(`${base}/segments/${encodeURIComponent(segmentId)}`);
    await page.locator('.members-table').getByRole('link', { name: 'learner-1' }).waitFor();
    expect((await page.getByTestId('segment-size').textContent())?.trim()).toMatch(/^3\b/);
  });

  it('completes the mission with two track calls and gets the points', async () => {
    for (const lesson of [1, 2]) {
      await visitor.evaluate(async (n) => { await strata.track('Lesson Completed', { lesson: n }); await strata.flush(); }, lesson);
      await new Promise((resolve) => setTimeout(resolve, 20)); // distinct timestamps (docs/missions.md, known limit)
    }
    const deadline = Date.now() + 10_000;
    let balance = 0;
    while (Date.now() < deadline) {
      balance = (await admin('GET', '/api/users/learner-1/points')).body.balance;
      if (balance === 30) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(balance).toBe(30);
    const progress = (await admin('GET', `/api/missions/${encodeURIComponent(missionId)}/progress`)).body.progress;
    expect(progress).toEqual([expect.objectContaining({ userId: 'learner-1', current: 2, target: 2, completions: 1, completed: true })]);
    const t = await visitor.evaluate(() => strata.targeting());
    expect(t.points).toBe(30);
    expect(t.missions.find((m) => m.id === missionId)?.progress).toMatchObject({ current: 2, completed: true });
    // The UI shows the completion on the Missions page and the points on the profile.
    await page.getByRole('navigation').getByRole('link', { name: 'Missions', exact: true }).click();
    await page.locator('tr', { hasText: 'Finish two lessons' }).getByRole('button', { name: 'Details' }).click();
    await page.getByText('learner-1: 2/2 (1 completions)').waitFor();
    await shot('missions-1280');
    await page.goto(`${base}/users/learner-1`);
    await page.getByRole('heading', { name: 'learner-1' }).waitFor();
    await page.getByText('Missions: Finish two lessons').waitFor();
    await page.locator('.timeline li').first().waitFor();
    await shot('user-profile-1280');
  });

  it('saves screenshots of the main pages at 1280 px and at phone width', async () => {
    await page.goto(`${base}/segments`);
    await page.locator('.segments-table svg.sparkline').first().waitFor();
    await shot('segments-list-1280');

    await page.goto(`${base}/segments/${encodeURIComponent(segmentId)}`);
    await page.locator('.members-table tbody tr').first().waitFor();
    await shot('segment-detail-1280');

    await page.goto(`${base}/segments/new`);
    await page.getByRole('tab', { name: 'Original segment' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Pricing visitors');
    await page.getByRole('button', { name: '+ where' }).click();
    await page.getByLabel('attribute path').first().fill('properties.path');
    await page.getByLabel('value', { exact: true }).first().fill('/pricing');
    await expect.poll(() => page.getByTestId('preview-count').textContent()).toBe('2');
    await shot('segment-builder-preview-1280');

    // The Bonus shop with a reward for the segment, made through its create form.
    await page.goto(`${base}/rewards`);
    await page.getByRole('heading', { name: 'Bonus shop', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const rewardForm = page.getByRole('form', { name: 'New reward' });
    await rewardForm.getByLabel('Name', { exact: true }).fill('Free lesson');
    await rewardForm.getByLabel('Type').selectOption('coupon');
    await rewardForm.getByLabel('Cost (points)').fill('20');
    await rewardForm.getByLabel('Stock').fill('10');
    await rewardForm.getByLabel('Per-user limit').fill('1');
    await rewardForm.getByLabel('add to Segments').selectOption({ label: 'Spring newsletter visitors' });
    await rewardForm.getByRole('button', { name: 'Create', exact: true }).click();
    await page.locator('tr', { hasText: 'Free lesson' }).getByRole('link', { name: 'Spring newsletter visitors' }).waitFor();
    expect((await admin('GET', '/api/rewards')).body.rewards).toMatchObject([{ name: 'Free lesson', type: 'coupon', cost: 20, stock: 10, perUserLimit: 1, segmentIds: [segmentId], active: true }]);
    await shot('bonus-shop-1280');

    // An experiment, running, with its results.
    await page.goto(`${base}/experiments`);
    await page.getByRole('heading', { name: 'Experiments', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    // A salt that puts this test's people in both arms, so that there is a lift to chart (the default, the experiment's random id, may not).
    const people = ['u1', 'u2', 'u3', 'u4', 'anon-1', 'crm-42', 'learner-1'];
    const salt = Array.from({ length: 100 }, (_, i) => `course-banner-${i}`).find((x) => new Set(people.map((id) => bucketOf(x, id) < 5000)).size === 2)!;
    const expForm = page.getByRole('form', { name: 'New experiment' });
    await expForm.getByLabel('Name', { exact: true }).fill('Course banner');
    await expForm.getByLabel('Salt (optional)').fill(salt);
    await expForm.getByLabel('Status').selectOption('running');
    expect(await expForm.getByLabel('Control arm').inputValue()).toBe('control');
    await expForm.getByRole('button', { name: 'Create', exact: true }).click();
    await page.locator('tr', { hasText: 'Course banner' }).getByRole('button', { name: 'Details' }).click();
    await page.locator('[aria-label="lift with confidence intervals"] svg.recharts-surface').waitFor();
    await shot('experiment-results-1280');

    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(`${base}/segments`);
    await page.locator('main h1').first().waitFor();
    await shot('segments-list-375');
    await page.goto(`${base}/segments/${encodeURIComponent(segmentId)}`);
    await page.locator('.members-table tbody tr').first().waitFor();
    await shot('segment-detail-375');
    await page.setViewportSize({ width: 1280, height: 900 });

    for (const name of SCREENSHOTS) {
      const file = join(SHOTS, `${name}.png`);
      expect(existsSync(file), file).toBe(true);
      expect(statSync(file).size, file).toBeGreaterThan(5_000);
    }
  });
});
