import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { loaderSnippet } from './loader.ts';
import { VERSION } from './version.ts';

const SDK = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = mkdtempSync(join(tmpdir(), 'strata-sdk-build-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the build', () => {
  it('makes the script build, the ES module and its types; the script is at most 10 KB gzipped', () => {
    const log = execFileSync(process.execPath, [join(SDK, 'scripts/build.mjs'), out], { encoding: 'utf8' });
    expect(log).toMatch(/KB gzipped/);
    const gz = gzipSync(readFileSync(join(out, 'strata.min.js')), { level: 9 }).length;
    console.log(`strata.min.js: ${gz} bytes gzipped`);
    expect(gz).toBeLessThanOrEqual(10 * 1024);
    expect(readFileSync(join(out, 'index.js'), 'utf8')).toMatch(/export\s*{[^}]*createStrata/);
    const types = readFileSync(join(out, 'index.d.ts'), 'utf8');
    expect(types).toContain("from './client.js'");
    expect(types).not.toMatch(/\.ts'/);
  });

  it('sends the version of package.json', () => {
    expect(VERSION).toBe(JSON.parse(readFileSync(join(SDK, 'package.json'), 'utf8')).version);
  });

  it('documents the loader snippet the tests load', () => {
    expect(readFileSync(join(SDK, '../../docs/sdk.md'), 'utf8')).toContain(loaderSnippet('https://strata.example.com', 'YOUR_WRITE_KEY'));
  });
});
