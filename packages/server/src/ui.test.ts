import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openTestSqlite } from '@strata/store/testing';
import { buildApp } from './app.ts';
import { createContext, ensureDefaultProject } from './bootstrap.ts';
import { configFromEnv } from './config.ts';

const root = mkdtempSync(join(tmpdir(), 'strata-ui-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function appWith(built: boolean) {
  const dirs = { ui: join(root, built ? 'ui' : 'none'), sdk: join(root, built ? 'sdk' : 'none') };
  if (built) {
    mkdirSync(dirs.ui, { recursive: true });
    mkdirSync(join(dirs.ui, 'assets'), { recursive: true });
    mkdirSync(dirs.sdk, { recursive: true });
    writeFileSync(join(dirs.ui, 'index.html'), '<!doctype html><title>Strata admin</title><div id="root"></div>');
    writeFileSync(join(dirs.ui, 'assets', 'app.js'), 'console.log("app")');
    writeFileSync(join(dirs.sdk, 'strata.min.js'), '/* sdk */');
  }
  const store = await openTestSqlite();
  const config = { ...configFromEnv({}), adminToken: 'sta_ui', writeKey: 'stw_ui' };
  await ensureDefaultProject(store, config, Date.now());
  return buildApp(createContext(store, config), { dirs });
}

describe('the admin UI and the SDK are served by the server', () => {
  it('serves the app at /, its assets, its client-side routes, and the SDK with CORS; the API keeps its 404s', async () => {
    const app = await appWith(true);
    const html = { accept: 'text/html,application/xhtml+xml' };
    const home = await app.inject({ method: 'GET', url: '/', headers: html });
    expect([home.statusCode, home.payload]).toEqual([200, expect.stringContaining('Strata admin')]);
    expect((await app.inject({ method: 'GET', url: '/assets/app.js' })).payload).toBe('console.log("app")');
    const deep = await app.inject({ method: 'GET', url: '/segments/seg_123', headers: html });
    expect([deep.statusCode, deep.headers['content-type']]).toEqual([200, expect.stringContaining('text/html')]);
    const api = await app.inject({ method: 'GET', url: '/api/nothing', headers: html });
    expect([api.statusCode, JSON.parse(api.payload).error.code]).toEqual([404, 'NOT_FOUND']);
    expect((await app.inject({ method: 'GET', url: '/segments/seg_123', headers: { accept: 'application/json' } })).statusCode).toBe(404);
    const sdk = await app.inject({ method: 'GET', url: '/sdk/strata.min.js' });
    expect([sdk.statusCode, sdk.headers['access-control-allow-origin'], sdk.payload]).toEqual([200, '*', '/* sdk */']);
    await app.close();
  });

  it('says how to build the UI when it is not built', async () => {
    const app = await appWith(false);
    const r = await app.inject({ method: 'GET', url: '/' });
    expect([r.statusCode, r.payload]).toEqual([200, expect.stringContaining('npm install')]);
    expect((await app.inject({ method: 'GET', url: '/sdk/strata.min.js' })).statusCode).toBe(404);
    await app.close();
  });
});
