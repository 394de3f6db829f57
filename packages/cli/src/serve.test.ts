import { describe, expect, it } from 'vitest';
import { configFromEnv } from '@strata/server';
import { logName } from './serve.ts';

describe('the start line of strata serve', () => {
  it('names the log on NATS by its stream and URL, without the URL\'s password', () => {
    const config = configFromEnv({ DATABASE_URL: 'postgres://x/y', STRATA_NATS_URL: 'nats://strata:s3cret@nats-1:4222,nats://nats-2:4222', STRATA_NATS_PREFIX: 'Shop_eu' });
    const line = logName({ kind: 'jetstream', partitions: 16 }, config);
    expect(line).toBe('NATS JetStream at nats://strata:***@nats-1:4222,nats://nats-2:4222, stream SHOP_EU_EVENTS, 16 partitions');
    expect(line).not.toContain('s3cret');
    expect(logName({ kind: 'sqlite', partitions: 1 }, configFromEnv({}))).toBe('embedded (a file beside the store)');
  });
});
