import { describe, expect, it } from 'vitest';
import { PersistentQueue, type Message } from './queue.ts';
import { MemoryStorage } from './test/memory-storage.ts';

const NOW = Date.UTC(2024, 5, 15, 12);
const msg = (id: string, ageMs = 0, extra: Record<string, unknown> = {}): Message =>
  ({ type: 'track', event: 'e', messageId: id, timestamp: new Date(NOW - ageMs).toISOString(), ...extra });
const ids = (q: PersistentQueue) => q.items.map((m) => m.messageId);

describe('the persistent queue', () => {
  it('survives a reload: a new queue over the same storage holds what was not acknowledged', () => {
    const s = new MemoryStorage();
    const q = new PersistentQueue(s, 'k', undefined, () => NOW);
    q.push(msg('a'));
    q.push(msg('b'));
    q.push(msg('c'));
    q.ack(['b']);
    expect(ids(new PersistentQueue(s, 'k', undefined, () => NOW))).toEqual(['a', 'c']);
    q.ack(['a', 'c']);
    expect(s.length).toBe(0);
  });

  it('keeps what another tab stored, and does not bring back what it saw acknowledged', () => {
    const s = new MemoryStorage();
    const tab1 = new PersistentQueue(s, 'k', undefined, () => NOW);
    tab1.push(msg('a'));
    const tab2 = new PersistentQueue(s, 'k', undefined, () => NOW); // adopts 'a' (may send it too: the server de-duplicates)
    tab2.push(msg('x'));
    tab1.push(msg('b'));
    expect(ids(new PersistentQueue(s, 'k', undefined, () => NOW)).sort()).toEqual(['a', 'b', 'x']);
    tab1.ack(['a', 'b']);
    expect(ids(new PersistentQueue(s, 'k', undefined, () => NOW)).sort()).toEqual(['x']); // 'a' was stored: gone, though tab2 still holds it
    tab2.ack(['a', 'x']);
    expect(s.getItem('k')).toBeNull();
  });

  it('drops the oldest past maxItems and what is older than maxAge', () => {
    const s = new MemoryStorage();
    s.setItem('k', JSON.stringify([msg('old', 8 * 24 * 3600_000), msg('ok', 3600_000), { junk: true }]));
    const q = new PersistentQueue(s, 'k', { maxItems: 3, maxAge: 7 * 24 * 3600_000 }, () => NOW);
    expect(ids(q)).toEqual(['ok']);
    for (const id of ['1', '2', '3']) q.push(msg(id));
    expect(ids(q)).toEqual(['1', '2', '3']);
    expect(JSON.parse(s.getItem('k')!).map((m: Message) => m.messageId)).toEqual(['1', '2', '3']);
  });

  it('takes the oldest messages that fit a batch, at least one', () => {
    const q = new PersistentQueue(null, 'k', undefined, () => NOW);
    for (const id of ['a', 'b', 'c', 'd']) q.push(msg(id, 0, { properties: { pad: 'x'.repeat(100) } }));
    expect(q.take(10, 10).map((m) => m.messageId)).toEqual(['a']);
    expect(q.take(10, 450).map((m) => m.messageId)).toEqual(['a', 'b']);
    expect(q.take(3, 1e6).map((m) => m.messageId)).toEqual(['a', 'b', 'c']);
  });

  it('keeps working in memory when storage is full or corrupt', () => {
    const s = new MemoryStorage(200);
    s.setItem('k', '{not json');
    const q = new PersistentQueue(s, 'k', undefined, () => NOW);
    expect(q.size).toBe(0);
    q.push(msg('a', 0, { properties: { pad: 'x'.repeat(300) } }));
    expect(ids(q)).toEqual(['a']);
    expect(s.getItem('k')).toBe('{not json');
  });
});
