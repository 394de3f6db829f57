import { afterEach, describe, expect, it } from 'vitest';
import { UserDataStore, type IngestItem, type SqlStore } from '@strata/store';
import { openTestSqlite } from '@strata/store/testing';
import { SuppressionList } from './user-data-service.ts';

const item = (userId: string): IngestItem => ({
  messageId: `m-${userId}`, type: 'track', name: 'view', userId, anonymousId: null, previousId: null, properties: {}, context: {}, traits: null, timestamp: 1, receivedAt: 1,
});

/**
 * Whether a project has suppressed ids is cached. The process that erases invalidates it; a
 * process of the api role never erases, and must see another process's erasure within its TTL
 * (an erased user's events are then no longer appended to the log).
 */
describe('the suppression list ingest screens with', () => {
  let store: SqlStore;
  afterEach(async () => store?.close());

  it('reads "no suppressed ids" again once its TTL is over, and at once after an invalidation', async () => {
    store = await openTestSqlite();
    await store.createProject({ id: 'p', name: 'p', writeKey: 'wk', adminToken: 'at', now: 1 });
    const shared = new SuppressionList(store, 50);
    const writer = new SuppressionList(store);
    expect((await shared.screen('p', [item('victim'), item('other')])).dropped).toBe(0);
    expect((await writer.screen('p', [item('victim')])).dropped).toBe(0);
    // Another process erases the user with suppression: neither list knows yet.
    await new UserDataStore(store).suppress('p', ['victim'], 2);
    expect((await shared.screen('p', [item('victim')])).dropped).toBe(0);
    expect((await writer.screen('p', [item('victim')])).dropped).toBe(0);
    await new Promise((r) => setTimeout(r, 60));
    const after = await shared.screen('p', [item('victim'), item('other')]);
    expect(after.dropped).toBe(1);
    expect(after.kept.map((i) => i.userId)).toEqual(['other']);
    // Without a TTL, only an invalidation (the erasing process's own) makes it read again.
    expect((await writer.screen('p', [item('victim')])).dropped).toBe(0);
    writer.invalidate('p');
    expect((await writer.screen('p', [item('victim')])).dropped).toBe(1);
  });
});
