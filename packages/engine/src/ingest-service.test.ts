import { describe, expect, it } from 'vitest';
import type { IngestItem } from '@strata/store';
import { IngestService, ingestSteps } from './ingest-service.ts';
import type { LiveEngine } from './live-engine.ts';

const item = (name: string, timestamp: number, ids: Partial<Pick<IngestItem, 'userId' | 'anonymousId' | 'previousId'>> = {}): IngestItem => ({
  messageId: `${name}-${timestamp}`, type: 'track', name, userId: 'u1', anonymousId: null, previousId: null,
  properties: {}, context: {}, traits: null, timestamp, receivedAt: 1000, ...ids,
});
const names = (steps: (readonly IngestItem[])[]) => steps.map((s) => s.map((i) => i.name));
const purchases = (i: IngestItem) => i.name === 'purchase';

describe('ingestSteps', () => {
  it('keeps a request whole when nothing must be applied alone', () => {
    const items = [item('view', 3), item('add_to_cart', 1)];
    expect(ingestSteps(items, null)).toEqual([items]);
    expect(ingestSteps(items, purchases)).toEqual([items]);
    expect(ingestSteps([item('purchase', 1)], purchases)).toEqual([[item('purchase', 1)]]);
  });

  it('applies in time order, each picked item alone, the items between them together', () => {
    const items = [item('purchase', 5), item('view', 1), item('add_to_cart', 2), item('purchase', 3), item('view', 6), item('view', 7)];
    expect(names(ingestSteps(items, purchases))).toEqual([['view', 'add_to_cart'], ['purchase'], ['purchase'], ['view', 'view']]);
    expect(ingestSteps(items, purchases).map((s) => s.map((i) => i.timestamp))).toEqual([[1, 2], [3], [5], [6, 7]]);
  });

  it('breaks ties in time by the order sent', () => {
    const items = [item('add_to_cart', 1), item('purchase', 1), item('view', 1)];
    expect(names(ingestSteps(items, purchases))).toEqual([['add_to_cart'], ['purchase'], ['view']]);
  });

  it('lets different people share steps: the k-th step of each is one step', () => {
    const items = [
      item('purchase', 1, { userId: 'a' }), item('view', 2, { userId: 'a' }), item('purchase', 3, { userId: 'a' }),
      item('view', 1, { userId: 'b' }), item('purchase', 2, { userId: 'b' }),
    ];
    expect(ingestSteps(items, purchases).map((s) => s.map((i) => `${i.userId}:${i.name}@${i.timestamp}`))).toEqual([
      ['a:purchase@1', 'b:view@1'], ['a:view@2', 'b:purchase@2'], ['a:purchase@3'],
    ]);
  });

  it('treats items linked by a shared id as one person (an anonymous visitor who identifies)', () => {
    const items = [
      item('purchase', 1, { userId: null, anonymousId: 'anon' }),
      item('identify', 2, { userId: 'u9', anonymousId: 'anon' }),
      item('purchase', 3, { userId: 'u9' }),
      item('purchase', 1, { userId: 'other' }),
    ];
    expect(ingestSteps(items, purchases).map((s) => s.map((i) => `${i.userId ?? i.anonymousId}:${i.name}`))).toEqual([
      ['anon:purchase', 'other:purchase'], ['u9:identify'], ['u9:purchase'],
    ]);
  });
});

describe('IngestService when the store fails', () => {
  /** An engine whose store fails every write with `err`; counts the transactions tried. */
  const failing = (err: Error) => {
    const engine = { tries: 0, async write() { this.tries++; throw err; } };
    return { engine, service: new IngestService(engine as unknown as LiveEngine, { now: () => 1000 }, { sessionTimeoutMs: 1_800_000 }) };
  };
  const submitThree = (service: IngestService) => Promise.allSettled([1, 2, 3].map((n) => service.submit('p', [item(`e${n}`, n)], [], 1000)));

  it('refuses a whole group commit at once when the store is unavailable, each request with STORE_UNAVAILABLE', async () => {
    const { engine, service } = failing(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }));
    const out = await submitThree(service);
    // One transaction for the group; not one more per request, each waiting on the lock again.
    expect(engine.tries).toBe(1);
    for (const r of out) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringMatching(/\(SQLITE_BUSY\).*send them again/) });
    }
  });

  it('tries each request alone after any other failure, and passes that failure on as it is', async () => {
    const bug = new TypeError('a bug');
    const { engine, service } = failing(bug);
    const out = await submitThree(service);
    expect(engine.tries).toBe(4);
    for (const r of out) expect((r as PromiseRejectedResult).reason).toBe(bug);
  });
});
