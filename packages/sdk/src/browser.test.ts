// Real-browser tests: Debian's Chromium (driven by playwright-core) loads the built snippet from a
// real Strata server; what arrived is read back through the admin API.
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
// The app and Chromium start-up the admin UI's browser tests use too: it imports only what this
// package declares as well (@strata/server, @strata/store, playwright-core), so it is shared by path.
import { CHROMIUM, launchChromium, startApp, type RunningApp } from '../../web/e2e/support.ts';
import type { Strata } from './client.ts';
import { loaderSnippet } from './loader.ts';
import { VERSION } from './version.ts';

const ADMIN = 'sta_sdk_admin';
const WRITE = 'stw_sdk_write';
const SDK_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`SKIPPED: the SDK browser tests need Chromium at ${CHROMIUM} (apt-get install chromium, or set STRATA_CHROMIUM)`);

// In page callbacks: the real client once the script has loaded.
declare const strata: Strata;
declare const AnalyticsBrowser: any;

/** A TCP port in front of Strata that can go down: connections are then refused, as by a stopped server. */
class Gate {
  port = 0;
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  constructor(private readonly target: number) {}
  async up(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => { client.destroy(); upstream.destroy(); });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }
  async down(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}

let root: string;
let running: RunningApp;
let app: FastifyInstance;
let appUrl: string;
let gate: Gate;
let gateUrl: string;
let pages: Server;
let pageUrl: string;
let browser: Browser;
/** Options the next test page gives the SDK (set by each test before it loads the page). */
let options: Record<string, unknown> = {};
let ajs = '';
/** The SDK's requests as Strata saw them (`sec-fetch-mode` tells a beacon, `no-cors`, from a fetch). */
const requests: { method: string; url: string; mode: string; type: string }[] = [];

async function admin(method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await app.inject({ method, url, headers: { authorization: `Bearer ${ADMIN}` }, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: r.statusCode, body: r.payload ? JSON.parse(r.payload) : null };
}

async function eventsOf(id: string): Promise<any[]> {
  const r = await admin('GET', `/api/users/${encodeURIComponent(id)}/events?limit=1000`);
  return r.status === 200 ? r.body.events : [];
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the user's events include all of `names`, and answers them. */
const eventsWith = (id: string, ...names: string[]) =>
  until(`${names.join(', ')} of ${id}`, async () => {
    const events = await eventsOf(id);
    return names.every((n) => events.some((e) => e.event === n)) && events;
  });

async function newContext(): Promise<BrowserContext> {
  return browser.newContext({ locale: 'fr-FR', timezoneId: 'Europe/Paris', screen: { width: 1440, height: 900 }, viewport: { width: 1200, height: 800 } });
}

async function open(context: BrowserContext, path = '/shop/home'): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${pageUrl}${path}`);
  await page.waitForFunction(() => typeof (window as any).strata?.version === 'string');
  return page;
}

const anonymousIdOf = (page: Page) => page.evaluate(() => strata.user().anonymousId);
const queued = (page: Page) => page.evaluate(() => localStorage.getItem('strata_queue') ?? '');

describe.skipIf(!hasChromium)('the browser SDK in Chromium against a real Strata', () => {
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'strata-sdk-'));
    execFileSync(process.execPath, [join(SDK_ROOT, 'scripts/build.mjs'), join(root, 'sdk')], { stdio: 'pipe' });

    running = await startApp({
      adminToken: ADMIN, writeKey: WRITE, ui: join(root, 'no-ui'), sdk: join(root, 'sdk'),
      beforeListen: (a) => a.addHook('onRequest', async (req) => {
        if (req.url.startsWith('/v1/')) requests.push({ method: req.method, url: req.url, mode: String(req.headers['sec-fetch-mode']), type: String(req.headers['content-type']) });
      }),
    });
    app = running.app;
    appUrl = running.base;
    const port = Number(new URL(appUrl).port);
    gate = new Gate(port);
    await gate.up();
    gateUrl = `http://127.0.0.1:${gate.port}`;

    // @segment/analytics-next, bundled for the browser as a site would.
    const bundled = await build({
      stdin: { contents: "import { AnalyticsBrowser } from '@segment/analytics-next'; window.AnalyticsBrowser = AnalyticsBrowser;", resolveDir: SDK_ROOT, loader: 'js' },
      bundle: true, format: 'iife', platform: 'browser', target: 'es2020', write: false, logLevel: 'silent',
      define: { 'process.env.NODE_ENV': '"production"' },
    });
    ajs = bundled.outputFiles[0]!.text;

    // The site: another origin (so CORS is exercised), loading the SDK with the documented snippet.
    pages = createServer((req, res) => {
      if (req.url === '/ajs.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(ajs);
      if (req.url?.startsWith('/ajs')) return void res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Segment site</title><script src="/ajs.js"></script>');
      if (req.url?.startsWith('/tag/')) {
        return void res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>Tag</title><script async src="${appUrl}/sdk/strata.min.js" data-write-key="${WRITE}"></script>`);
      }
      if (req.url?.startsWith('/twice/')) {
        return void res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>Twice</title><script>${loaderSnippet(appUrl, WRITE)}
strata.config.flushInterval = 50;</script><script src="${appUrl}/sdk/strata.min.js" data-write-key="${WRITE}"></script>`);
      }
      if (req.url?.startsWith('/esm/')) {
        return void res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>Module</title><script type="module">
import { createStrata } from '${appUrl}/sdk/index.js';
window.strata = createStrata({ writeKey: '${WRITE}', apiHost: '${appUrl}', flushInterval: 50 });
window.strata.track('From Module', { esm: true });</script>`);
      }
      const html = `<!doctype html><html><head><title>Shop</title><script>${loaderSnippet(appUrl, WRITE)}
Object.assign(strata.config, ${JSON.stringify(options)}); window.early = strata.user();</script></head><body>shop</body></html>`;
      res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    });
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    pageUrl = `http://localhost:${(pages.address() as net.AddressInfo).port}`;

    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => pages?.close(resolve));
    await gate?.down();
    await running?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('sends page views with campaign and device context, tracks, follows History navigation, and merges on identify', async () => {
    options = { flushInterval: 50 };
    requests.length = 0;
    const context = await newContext();
    const page = await open(context, '/shop/home?utm_source=news&utm_medium=email&utm_campaign=spring&ref=1');
    const anon = await anonymousIdOf(page);
    expect(await page.evaluate(() => (window as any).early)).toEqual({ userId: null, anonymousId: anon }); // a call queued by the loader
    await page.evaluate(() => strata.track('Added to Cart', { sku: 'A1', price: 9.5 }));

    const events = await eventsWith(anon, '$pageview', 'Added to Cart', '$session');
    const view = events.find((e) => e.event === '$pageview');
    expect(view.properties).toMatchObject({ path: '/shop/home', search: '?utm_source=news&utm_medium=email&utm_campaign=spring&ref=1', title: 'Shop', url: `${pageUrl}/shop/home?utm_source=news&utm_medium=email&utm_campaign=spring&ref=1` });
    expect(view.context).toMatchObject({
      library: { name: 'strata-sdk', version: VERSION },
      campaign: { source: 'news', medium: 'email', name: 'spring' },
      page: { path: '/shop/home', title: 'Shop' },
      locale: 'fr-FR', timezone: 'Europe/Paris', screen: { width: 1440, height: 900, density: 1 },
      device: { type: 'desktop' }, os: { name: 'Linux' }, browser: { name: 'Chrome' },
      userAgent: expect.stringContaining('Chrome/'),
    });
    expect(events.find((e) => e.event === 'Added to Cart').properties).toEqual({ sku: 'A1', price: 9.5 });
    expect(events.find((e) => e.event === '$session').properties).toMatchObject({ landingPage: '/shop/home', utm_source: 'news', utm_medium: 'email', utm_campaign: 'spring', deviceType: 'desktop', os: 'Linux', locale: 'fr-FR' });
    expect(new Set(events.map((e) => e.messageId)).size).toBe(events.length);
    // Cross-origin, yet "simple" requests: text/plain with the key in the body, no preflight.
    expect(requests.filter((r) => r.url === '/v1/b').map((r) => [r.method, r.mode, r.type])).toContainEqual(['POST', 'cors', 'text/plain']);
    expect(requests.filter((r) => r.method === 'OPTIONS')).toEqual([]);

    // A single-page app navigates: a page view with the previous page as referrer.
    await page.evaluate(() => history.pushState({}, '', '/shop/cart'));
    const spa = await until('the SPA page view', async () => (await eventsOf(anon)).find((e) => e.event === '$pageview' && e.properties.path === '/shop/cart'));
    expect(spa.properties.referrer).toBe(`${pageUrl}/shop/home?utm_source=news&utm_medium=email&utm_campaign=spring&ref=1`);

    await page.evaluate(() => strata.identify('user-1', { plan: 'pro', email: 'ada@example.com' }));
    const profile = await until('the merged profile', async () => {
      const r = await admin('GET', '/api/users/user-1');
      return r.status === 200 && r.body.anonymousIds.includes(anon) && r.body;
    });
    expect(profile.traits).toMatchObject({ plan: 'pro', email: 'ada@example.com' });
    expect((await eventsOf('user-1')).map((e) => e.event)).toEqual(expect.arrayContaining(['$identify', 'Added to Cart', '$pageview']));
    expect((await admin('GET', `/api/users/${anon}`)).body.userId).toBe('user-1');
    // Later calls carry both ids.
    await page.evaluate(() => strata.track('Checked Out'));
    const later = (await eventsWith('user-1', 'Checked Out')).find((e) => e.event === 'Checked Out');
    expect(later.context.library.name).toBe('strata-sdk');

    // Sign-out: a new anonymous id, and what follows is not the user's.
    const fresh = await page.evaluate(() => { strata.reset(); strata.track('After Sign Out'); return strata.user(); });
    expect(fresh.userId).toBeNull();
    expect(fresh.anonymousId).not.toBe(anon);
    await eventsWith(fresh.anonymousId, 'After Sign Out');
    expect((await eventsOf('user-1')).some((e) => e.event === 'After Sign Out')).toBe(false);
    await context.close();
  });

  it('retries a batch the server refused, with backoff, until it is stored once', async () => {
    options = { apiHost: gateUrl, flushInterval: 50, retry: { base: 100, max: 400 } };
    await gate.down();
    const context = await newContext();
    const page = await context.newPage();
    let failed = 0;
    page.on('requestfailed', (r) => { if (r.url().includes('/v1/b')) failed++; });
    await page.goto(`${pageUrl}/shop/retry`);
    await page.waitForFunction(() => typeof (window as any).strata?.version === 'string');
    const anon = await anonymousIdOf(page);
    await page.evaluate(() => strata.track('Checkout Started', { step: 1 }));
    await until('three refused sends', async () => failed >= 3);
    expect(await queued(page)).toContain('Checkout Started');
    expect(await eventsOf(anon)).toEqual([]);

    await gate.up();
    await eventsWith(anon, 'Checkout Started', '$pageview');
    await page.waitForFunction(() => localStorage.getItem('strata_queue') === null);
    await new Promise((r) => setTimeout(r, 300));
    const names = (await eventsOf(anon)).map((e) => e.event).filter((n) => !n.startsWith('$session'));
    expect(names.sort()).toEqual(['$pageview', 'Checkout Started']);
    await context.close();
  });

  it('keeps the queue in localStorage across a reload and sends it from the next page', async () => {
    options = { apiHost: gateUrl, flushInterval: 50, retry: { base: 100, max: 400 } };
    await gate.down();
    const context = await newContext();
    const page = await open(context, '/shop/offline');
    const anon = await anonymousIdOf(page);
    await page.evaluate(() => strata.track('Saved Offline', { n: 1 }));
    await until('the persisted message', async () => (await queued(page)).includes('Saved Offline'));
    await page.reload(); // pagehide's beacon is refused too
    await page.waitForFunction(() => typeof (window as any).strata?.version === 'string');
    expect(await anonymousIdOf(page)).toBe(anon);
    expect(await queued(page)).toContain('Saved Offline');
    await page.close();

    await gate.up();
    const next = await open(context, '/shop/back');
    await eventsWith(anon, 'Saved Offline');
    await next.waitForFunction(() => localStorage.getItem('strata_queue') === null);
    const events = await eventsOf(anon);
    expect(events.filter((e) => e.event === 'Saved Offline')).toHaveLength(1);
    expect(events.filter((e) => e.event === '$pageview').map((e) => e.properties.path).sort()).toEqual(['/shop/back', '/shop/offline', '/shop/offline']);
    await context.close();
  });

  it('resends at once when the browser comes back online', async () => {
    options = { flushInterval: 50, retry: { base: 60_000, max: 60_000 } };
    const context = await newContext();
    const page = await open(context, '/shop/train');
    const anon = await anonymousIdOf(page);
    await eventsWith(anon, '$pageview');
    await context.setOffline(true);
    await page.evaluate(() => strata.track('Tunnel', {}));
    await until('the persisted message', async () => (await queued(page)).includes('Tunnel'));
    await new Promise((r) => setTimeout(r, 200)); // the send failed: the next retry is 30-60 s away
    await context.setOffline(false);
    await eventsWith(anon, 'Tunnel'); // well within the 10 s wait
    await context.close();
  });

  it('hands the queue to sendBeacon when the page goes away', async () => {
    options = { flushInterval: 60_000, flushAt: 100 };
    const context = await newContext();
    const page = await open(context, '/shop/leave');
    const anon = await anonymousIdOf(page);
    await page.evaluate(() => strata.track('Left Page', { via: 'beacon' }));
    expect(await eventsOf(anon)).toEqual([]); // nothing sent yet: the next flush is a minute away
    requests.length = 0;
    await page.goto('about:blank');
    const events = await eventsWith(anon, 'Left Page', '$pageview');
    expect(events.find((e) => e.event === 'Left Page').properties).toEqual({ via: 'beacon' });
    expect(requests.filter((r) => r.url === '/v1/b').map((r) => [r.mode, r.type])).toEqual([['no-cors', 'text/plain']]);
    await context.close();
  });

  it('keeps its ids in a first-party cookie where localStorage is unavailable', async () => {
    options = { flushInterval: 50 };
    const context = await newContext();
    await context.addInitScript(() => {
      Object.defineProperty(window, 'localStorage', { get() { throw new DOMException('denied', 'SecurityError'); } });
    });
    const page = await open(context, '/shop/cookies');
    const anon = await anonymousIdOf(page);
    expect(await page.evaluate(() => document.cookie)).toContain(`strata_anonymous_id=${anon}`);
    await page.evaluate(() => strata.identify('cookie-user'));
    await page.reload();
    await page.waitForFunction(() => typeof (window as any).strata?.version === 'string');
    expect(await page.evaluate(() => strata.user())).toEqual({ userId: 'cookie-user', anonymousId: anon });
    // Both page loads' views arrive (the second page's batch may come after the first's events are seen).
    const events = await until('$identify and two $pageviews of cookie-user', async () => {
      const all = await eventsOf('cookie-user');
      return all.some((e) => e.event === '$identify') && all.filter((e) => e.event === '$pageview').length >= 2 && all;
    });
    expect(events.filter((e) => e.event === '$pageview')).toHaveLength(2);
    await context.close();
  });

  it('serves experiences from targeting, records $experience_viewed, and sends userHash under identity verification', async () => {
    const vip = (await admin('POST', '/api/segments', { name: 'VIP', condition: null })).body;
    expect((await admin('POST', `/api/segments/${vip.id}/members`, { userIds: ['vip-1'], createMissing: true })).status).toBeLessThan(300);
    const created = await admin('POST', '/api/experiences', {
      key: 'home-banner', name: 'Home banner',
      variants: [{ key: 'vip', payload: { text: 'Welcome back' }, segmentIds: [vip.id] }],
      defaultPayload: { text: 'Hello' },
    });
    expect(created.status).toBe(201);

    options = { flushInterval: 50 };
    const context = await newContext();
    const page = await open(context, '/shop/banner');
    expect(await page.evaluate(() => strata.experience('home-banner'))).toEqual({ variant: 'default', payload: { text: 'Hello' } });
    expect(await page.evaluate(() => strata.experience('nothing-here'))).toBeNull();
    await page.evaluate(() => strata.identify('vip-1', { tier: 'gold' }));
    expect(await page.evaluate(() => strata.experience('home-banner'))).toEqual({ variant: 'vip', payload: { text: 'Welcome back' } });
    await page.evaluate(() => strata.experience('home-banner')); // shown again: recorded once

    const viewed = await until('two $experience_viewed', async () => {
      const v = (await eventsOf('vip-1')).filter((e) => e.event === '$experience_viewed');
      return v.length >= 2 && v;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect((await eventsOf('vip-1')).filter((e) => e.event === '$experience_viewed').map((e) => e.properties).sort((a, b) => a.variant.localeCompare(b.variant)))
      .toEqual([{ experience: 'home-banner', variant: 'default' }, { experience: 'home-banner', variant: 'vip' }]);
    expect(viewed).toHaveLength(2);

    // Without identity verification the page gets the VIP variant, not the name of the segment behind it.
    expect(await page.evaluate(() => strata.targeting().then((t) => t.segments))).toBeNull();

    // Identity verification: targeting needs the userHash the site's backend computes.
    const settings = await admin('PATCH', '/api/settings', { identityVerification: { enabled: true } });
    const userHash = createHmac('sha256', settings.body.identityVerification.secret).update('vip-1').digest('hex');
    try {
      expect(await page.evaluate(() => strata.targeting().then(() => 'ok', (e) => String(e)))).toContain('401');
      await page.evaluate((h) => strata.identify('vip-1', {}, { userHash: h }), userHash);
      // A verified call also learns the user's segments (without verification, a write key does not).
      expect(await page.evaluate(() => strata.targeting().then((t) => [t.known, t.experiences.map((x) => x.variant), t.segments?.map((x) => x.name)]))).toEqual([true, ['vip'], ['VIP']]);
    } finally {
      await admin('PATCH', '/api/settings', { identityVerification: { enabled: false } });
    }
    await context.close();
  });

  it('also loads from a plain script tag (data attributes) and as an ES module', async () => {
    const context = await newContext();
    const tag = await open(context, '/tag/page');
    const anon = await anonymousIdOf(tag);
    const view = (await eventsWith(anon, '$pageview')).find((e) => e.event === '$pageview');
    expect(view.properties).toMatchObject({ path: '/tag/page', title: 'Tag' });
    const esm = await open(context, '/esm/page');
    expect(await anonymousIdOf(esm)).toBe(anon); // same site, same first-party id
    const events = await eventsWith(anon, 'From Module');
    expect(events.filter((e) => e.event === '$pageview').map((e) => e.properties.path).sort()).toEqual(['/esm/page', '/tag/page']);
    // The SDK included twice (snippet and tag): one client, one page view.
    await open(context, '/twice/page');
    await until('the page view', async () => (await eventsOf(anon)).some((e) => e.properties.path === '/twice/page'));
    await new Promise((r) => setTimeout(r, 300));
    expect((await eventsOf(anon)).filter((e) => e.properties.path === '/twice/page')).toHaveLength(1);
    await context.close();
  });

  it('takes events from @segment/analytics-next pointed at Strata (cdnSettings + apiHost)', async () => {
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(`${pageUrl}/ajs.html`);
    const apiHost = `${new URL(appUrl).host}/v1`;
    const anon = await page.evaluate(async ({ writeKey, apiHost }) => {
      const [analytics] = await AnalyticsBrowser.load({
        writeKey,
        cdnSettings: { integrations: { 'Segment.io': { apiKey: writeKey, apiHost, protocol: 'http' } } },
      });
      await analytics.identify('ajs-user', { plan: 'team' });
      await analytics.track('Signed Up', { plan: 'team', seats: 3 });
      await analytics.page();
      return analytics.user().anonymousId() as string;
    }, { writeKey: WRITE, apiHost });
    const events = await eventsWith('ajs-user', 'Signed Up', '$identify', '$pageview');
    expect(events.find((e) => e.event === 'Signed Up')).toMatchObject({ type: 'track', properties: { plan: 'team', seats: 3 } });
    expect(events.find((e) => e.event === 'Signed Up').context.library.name).toBe('analytics.js');
    expect((await admin('GET', '/api/users/ajs-user')).body.anonymousIds).toContain(anon);
    await context.close();
  });

  // analytics-next adds an `X-Retry-Count` header to its retries: Strata's CORS for /v1
  // (packages/server/src/app.ts, allowedHeaders) must allow it, or the retries never arrive.
  it('stores an analytics-next event whose first send was refused (its retries carry X-Retry-Count)', async () => {
    await gate.down();
    const context = await newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${pageUrl}/ajs.html`);
      await page.evaluate(async ({ writeKey, apiHost }) => {
        const [analytics] = await AnalyticsBrowser.load({
          writeKey,
          cdnSettings: { integrations: { 'Segment.io': { apiKey: writeKey, apiHost, protocol: 'http' } } },
        });
        void analytics.identify('ajs-retry');
        void analytics.track('Retried Purchase', { total: 42 });
      }, { writeKey: WRITE, apiHost: `127.0.0.1:${gate.port}/v1` });
      await new Promise((r) => setTimeout(r, 300));
      await gate.up();
      await until('the retried analytics-next events', async () => {
        const names = (await eventsOf('ajs-retry')).map((e) => e.event);
        return names.includes('Retried Purchase') && names.includes('$identify');
      }, 6000);
    } finally {
      await gate.up().catch(() => {});
      await context.close();
    }
  });
});
