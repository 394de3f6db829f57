import { describe, expect, it } from 'vitest';
import { storedContext, storedMessage } from './client-ip.ts';

describe('storedContext / storedMessage', () => {
  it('drop context.ip unless it is to be kept, never changing what they are given', () => {
    const context = { ip: '8.8.8.8', locale: 'en-US', location: { country: 'US' } };
    expect(storedContext(context, false)).toEqual({ locale: 'en-US', location: { country: 'US' } });
    expect(context.ip).toBe('8.8.8.8');
    expect(storedContext(context, true)).toBe(context);
    const plain = { locale: 'de' };
    expect(storedContext(plain, false)).toBe(plain);

    const message = { type: 'track', event: 'a', properties: { ip: 'a property, not the client' }, context };
    expect(storedMessage(message, false)).toEqual({ type: 'track', event: 'a', properties: { ip: 'a property, not the client' }, context: { locale: 'en-US', location: { country: 'US' } } });
    expect(message.context).toBe(context);
    expect(storedMessage(message, true)).toBe(message);
    for (const other of [null, 'text', [1], { context: 'not an object' }, { event: 'no context' }]) expect(storedMessage(other, false)).toBe(other);
  });
});
