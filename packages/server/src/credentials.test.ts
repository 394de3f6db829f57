import { describe, expect, it } from 'vitest';
import { testBackends } from '@strata/store/testing';
import { configFromEnv } from './config.ts';
import { credentialLines, ensureDefaultProject } from './credentials.ts';
import { Credentials } from './auth.ts';

/** The start-up token rule on both stores (the printed lines of real starts: packages/cli/src/main.test.ts). */
describe.each(await testBackends())('ensureDefaultProject ($name)', (backend) => {
  it('creates once, then keeps, and replaces only on a different environment value', async () => {
    const store = await backend.open();
    try {
      const first = await ensureDefaultProject(store, configFromEnv({ STRATA_WRITE_KEY: 'stw_given_key' }), 1);
      expect(first.adminToken).toMatchObject({ change: 'created', fromEnv: false });
      const token = first.adminToken.value!;
      expect(token).toMatch(/^sta_/);
      expect(credentialLines(first)).toEqual([
        'Strata created the default project (first start of this store). Its credentials:',
        `  admin token: ${token} (generated; shown only now, keep it)`,
        '  write key:   stw_given_key (from STRATA_WRITE_KEY)',
        `  root token:  ${first.rootToken.value} (generated; shown only now, keep it)`,
      ]);
      expect(first.rootToken.value).toMatch(/^str_/);

      const kept = await ensureDefaultProject(store, configFromEnv({}), 2);
      expect(kept.adminToken.value).toBeNull();
      expect(credentialLines(kept).slice(1)).toEqual([
        `  admin token: ${token.slice(0, 10)}… (stored; set STRATA_ADMIN_TOKEN to replace it)`,
        '  write key:   stw_given_key (stored; set STRATA_WRITE_KEY to replace it)',
        `  root token:  ${first.rootToken.value!.slice(0, 10)}… (stored; set STRATA_ROOT_TOKEN to replace it)`,
      ]);
      expect((await store.keys.find(token))).toMatchObject({ projectId: 'default', kind: 'admin' });

      const replaced = await ensureDefaultProject(store, configFromEnv({ STRATA_ADMIN_TOKEN: 'sta_new_token_from_env', STRATA_WRITE_KEY: 'stw_given_key' }), 3);
      expect(credentialLines(replaced).slice(1)).toEqual([
        `  admin token: sta_new… REPLACED by STRATA_ADMIN_TOKEN: the previous one (${token.slice(0, 10)}…) no longer works`,
        '  write key:   stw_given_key (from STRATA_WRITE_KEY, as stored)',
        `  root token:  ${first.rootToken.value!.slice(0, 10)}… (stored; set STRATA_ROOT_TOKEN to replace it)`,
      ]);
      expect(await store.keys.find(token)).toBeNull();
      expect(await store.keys.find('sta_new_token_from_env')).toMatchObject({ projectId: 'default', kind: 'admin' });
    } finally {
      await store.close();
    }
  });

  it('a start that makes the start-up admin token again (revoked through the API, still in the environment) says so, and not that it created the project', async () => {
    const store = await backend.open();
    try {
      await ensureDefaultProject(store, configFromEnv({ STRATA_ADMIN_TOKEN: 'sta_leaked_token' }), 1);
      await store.keys.insert({ projectId: 'default', kind: 'admin', label: 'replacement', value: 'sta_replacement', now: 2 });
      await store.keys.delete((await store.keys.find('sta_leaked_token'))!.id);
      const again = await ensureDefaultProject(store, configFromEnv({ STRATA_ADMIN_TOKEN: 'sta_leaked_token' }), 3);
      const lines = credentialLines(again);
      expect(lines[0]).toBe('Default project credentials (kept from earlier starts unless said otherwise):');
      expect(lines[1]).toBe('  admin token: sta_l… (from STRATA_ADMIN_TOKEN) MADE AGAIN: the start-up admin token had been revoked through the API; unset STRATA_ADMIN_TOKEN to keep it revoked');
    } finally {
      await store.close();
    }
  });
});

describe.each(await testBackends())('the credential cache ($name)', (backend) => {
  it('keeps a key for hot requests, forgets everything on clear, and never caches a look-up that began before a clear', async () => {
    const store = await backend.open();
    try {
      await ensureDefaultProject(store, configFromEnv({ STRATA_ADMIN_TOKEN: 'sta_cache_test' }), 1);
      const creds = new Credentials(store);
      const key = (await creds.find('sta_cache_test'))!.key;
      // Cached: deleting the row behind the cache's back changes nothing until a clear.
      await store.keys.delete(key.id);
      expect((await creds.find('sta_cache_test'))?.key.id).toBe(key.id);
      creds.clear();
      expect(await creds.find('sta_cache_test')).toBeNull();

      // A look-up under way when a change lands (a clear) answers what it read, but is not kept: once
      // the row is gone, the next look-up reads the store again. (The row goes only after the
      // look-up has answered, so the test does not depend on which pooled connection runs first.)
      const again = await store.keys.insert({ projectId: 'default', kind: 'admin', label: 'x', value: 'sta_cache_race', now: 2 });
      const pending = creds.find('sta_cache_race');
      creds.clear();
      expect((await pending)?.key.id).toBe(again.id);
      await store.keys.delete(again.id);
      expect(await creds.find('sta_cache_race')).toBeNull();
    } finally {
      await store.close();
    }
  });
});
