import { describe, expect, it } from 'vitest';
import type { IngestItem } from '../types.ts';
import type { LogRecord } from './event-log.ts';
import { GZIP_FROM, appendAttempt, decodeRecord, encodeRecord, recordMsgId } from './jetstream-record.ts';

function item(messageId: string, extra: Partial<IngestItem> = {}): IngestItem {
  return {
    messageId, type: 'identify', name: 'identify', userId: 'u1', anonymousId: 'a1', previousId: null,
    properties: {}, context: { locale: 'fr' }, traits: { plan: 'pro' }, timestamp: 1, receivedAt: 2, ...extra,
  };
}

const record = (over: Partial<LogRecord> = {}): LogRecord => ({ projectId: 'p1', partition: 3, receivedAt: 5, items: [item('m1'), item('m2')], rejections: [], ...over });

describe('a log record as a JetStream message', () => {
  it('writes the properties and context the size check serialised, and reads them back as objects', async () => {
    const it1 = item('m1', { properties: { stale: true }, propertiesJson: '{"price":9.5,"tags":["a"]}', contextJson: '{"ip":"1.2.3.4"}' });
    const { body, gzipped } = await encodeRecord(record({ items: [it1] }));
    expect(gzipped).toBe(false);
    const back = await decodeRecord(body, false, 'test');
    expect(back.items[0].properties).toEqual({ price: 9.5, tags: ['a'] });
    expect(back.items[0].context).toEqual({ ip: '1.2.3.4' });
    expect(back.items[0]).not.toHaveProperty('propertiesJson');
    expect(back.items[0]).toMatchObject({ messageId: 'm1', traits: { plan: 'pro' }, anonymousId: 'a1', previousId: null });
  });

  it('gzips from the threshold on, and reads the same record back', async () => {
    const big = record({ items: Array.from({ length: 400 }, (_, i) => item(`m${i}`, { properties: { note: 'x'.repeat(100) } })) });
    const { body, gzipped } = await encodeRecord(big);
    expect(gzipped).toBe(true);
    expect(body.length).toBeLessThan(GZIP_FROM);
    expect(await decodeRecord(body, true, 'test')).toEqual(big);
  });

  it('keeps how many records of its request follow one, and writes nothing for the last', async () => {
    const first = await encodeRecord(record({ more: 2 }));
    expect(await decodeRecord(first.body, false, 'test')).toMatchObject({ more: 2 });
    const last = await encodeRecord(record());
    expect(Buffer.from(last.body).toString()).not.toContain('"more"');
    expect(await decodeRecord(last.body, false, 'test')).not.toHaveProperty('more');
    for (const more of ['-1', '1.5', '"2"']) {
      await expect(decodeRecord(Buffer.from(`{"projectId":"p","partition":0,"receivedAt":1,"more":${more},"items":[],"rejections":[]}`), false, 'message 6')).rejects.toThrow(/message 6 is not a Strata log record \(fields missing or of the wrong type\)/);
    }
  });

  it('refuses a body that is not a record, saying where it was', async () => {
    await expect(decodeRecord(Buffer.from('{"projectId":"p"}'), false, 'message 7')).rejects.toThrow(/message 7 is not a Strata log record/);
    await expect(decodeRecord(Buffer.from('not json'), false, 'message 8')).rejects.toThrow(/message 8 is not a Strata log record/);
    await expect(decodeRecord(Buffer.from('{}'), true, 'message 9')).rejects.toThrow(/message 9/);
  });

  it('gives a record the same id only within one append attempt and place, other attempts and records other ids', () => {
    const id = recordMsgId(record(), 'attempt1', 0);
    // A re-send of the same attempt (the client library's) is told to be the same message.
    expect(recordMsgId(record({ receivedAt: 999, items: [item('m1', { timestamp: 7 }), item('m2')] }), 'attempt1', 0)).toBe(id);
    // A new attempt (a client's retry, or another request of the same content) is a new message.
    expect(recordMsgId(record(), 'attempt2', 0)).not.toBe(id);
    expect(recordMsgId(record(), 'attempt1', 1)).not.toBe(id);
    expect(recordMsgId(record({ partition: 4 }), 'attempt1', 0)).not.toBe(id);
    expect(recordMsgId(record({ projectId: 'p2' }), 'attempt1', 0)).not.toBe(id);
    expect(recordMsgId(record({ items: [item('m1m2')] }), 'attempt1', 0)).not.toBe(recordMsgId(record(), 'attempt1', 0));
    const refused = (payload: string) => recordMsgId(record({ items: [], rejections: [{ index: 0, message: 'bad', payload }] }), 'a', 0);
    expect(refused('{"a":1}')).not.toBe(refused('{"a":2}'));
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(appendAttempt()).not.toBe(appendAttempt());
  });
});
