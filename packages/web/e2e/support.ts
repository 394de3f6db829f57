/**
 * What the real-browser tests share (packages/web/e2e/*.test.ts and packages/sdk/src/browser.test.ts):
 * the real Strata app over HTTP on an in-memory test SQLite store, and Debian's Chromium driven
 * by playwright-core. Each test file still says what it needs and checks its own things.
 *
 * It imports only what both packages declare (@strata/server, playwright-core),
 * so the SDK's test can use it by relative path without pulling the web package in.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startListeningApp, type RunningApp } from '@strata/server/testing';
import type { FastifyInstance } from 'fastify';

export const CHROMIUM = process.env.STRATA_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** The built admin UI and the built SDK (`npm install` builds both). */
export const WEB_DIST = fileURLToPath(new URL('../dist', import.meta.url));
export const SDK_DIST = fileURLToPath(new URL('../../sdk/dist', import.meta.url));

/** Why a browser test file cannot run here (Chromium, the built UI or SDK missing), or null. */
export function missingFor(needs: { ui?: boolean; sdk?: boolean } = {}): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is not installed (apt-get install chromium, or set STRATA_CHROMIUM)`;
  if (needs.ui && !existsSync(join(WEB_DIST, 'index.html'))) return `the UI is not built (${WEB_DIST}; run npm install or npm run build -w @strata/web)`;
  if (needs.sdk && !existsSync(join(SDK_DIST, 'strata.min.js'))) return `the SDK is not built (${SDK_DIST}; run npm install or npm run build -w @strata/sdk)`;
  return null;
}

export type { RunningApp };

/** The real app over HTTP (`startListeningApp`) serving the given UI and SDK folders. */
export function startApp(o: { adminToken: string; writeKey: string; rootToken?: string; ui: string; sdk: string; beforeListen?: (app: FastifyInstance) => void }): Promise<RunningApp> {
  return startListeningApp({ adminToken: o.adminToken, writeKey: o.writeKey, rootToken: o.rootToken, dirs: { ui: o.ui, sdk: o.sdk }, beforeListen: o.beforeListen });
}

/** Sends events to /v1/batch with the write key; answers the HTTP status. */
export async function ingest(base: string, writeKey: string, batch: object[]): Promise<number> {
  const r = await fetch(`${base}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-write-key': writeKey }, body: JSON.stringify({ batch }) });
  return r.status;
}

/** The admin API with a token, over HTTP: status and parsed body (null when empty). */
export function adminClient(base: string, token: string) {
  return async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  };
}

/** Chromium with a fresh browser (new contexts per visitor). */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** Chromium with one persistent context in `profileDir` (its first page is the test's page). */
export async function launchPersistent(profileDir: string, viewport = { width: 1280, height: 900 }): Promise<BrowserContext> {
  const { chromium } = await import('playwright-core');
  return chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport });
}

/** The admin UI in a real browser: the app serving the built UI (no SDK), and Chromium with a profile of its own. */
export interface UiSession {
  readonly running: RunningApp;
  readonly base: string;
  readonly browser: BrowserContext;
  /** The browser's first page, waiting up to 10 s for what a test looks for. */
  readonly page: Page;
  /** Ends the browser and the app, and removes the profile. */
  close(): Promise<void>;
}

export async function openUiSession(o: { adminToken: string; writeKey: string; rootToken?: string; profile: string }): Promise<UiSession> {
  const running = await startApp({ adminToken: o.adminToken, writeKey: o.writeKey, rootToken: o.rootToken, ui: WEB_DIST, sdk: join(WEB_DIST, 'no-sdk') });
  const profileDir = mkdtempSync(join(tmpdir(), `strata-web-${o.profile}-`));
  const browser = await launchPersistent(profileDir);
  const page = browser.pages()[0] ?? await browser.newPage();
  page.setDefaultTimeout(10_000);
  return {
    running, base: running.base, browser, page,
    async close() {
      await browser.close();
      await running.close();
      rmSync(profileDir, { recursive: true, force: true });
    },
  };
}

/** Opens `url`, signs in on the sign-in form with `token`, and waits for the heading the page then shows. */
export async function signIn(page: Page, url: string, token: string, heading = 'Segments'): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: heading }).waitFor();
}
