import { describe, expect, it } from 'vitest';
import { redactNatsUrl } from '@strata/store';
import { configFromEnv } from './config.ts';

const PG = 'postgres://postgres@127.0.0.1:5432/strata';
const NATS = 'nats://127.0.0.1:4222';

describe('configuration of the event log', () => {
  it('keeps the embedded log, one partition, when STRATA_NATS_URL is unset', () => {
    expect(configFromEnv({}).eventLog).toEqual({ natsUrl: null, prefix: 'strata', partitions: 1 });
    expect(configFromEnv({ DATABASE_URL: PG, STRATA_NATS_URL: '  ' }).eventLog.natsUrl).toBeNull();
  });

  it('puts it on NATS with 16 partitions and the prefix strata by default, or as set', () => {
    expect(configFromEnv({ DATABASE_URL: PG, STRATA_NATS_URL: NATS }).eventLog).toEqual({ natsUrl: NATS, prefix: 'strata', partitions: 16 });
    expect(configFromEnv({ DATABASE_URL: PG, STRATA_NATS_URL: `${NATS}, tls://user:pw@nats-2:4222`, STRATA_NATS_PREFIX: 'shop-eu_1', STRATA_PARTITIONS: '1024' }).eventLog)
      .toEqual({ natsUrl: `${NATS},tls://user:pw@nats-2:4222`, prefix: 'shop-eu_1', partitions: 1024 });
    expect(configFromEnv({ DATABASE_URL: PG, STRATA_NATS_URL: NATS, STRATA_PARTITIONS: '1' }).eventLog.partitions).toBe(1);
  });

  it('refuses each bad value with a message naming it', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ STRATA_NATS_URL: NATS }, /^STRATA_NATS_URL needs DATABASE_URL \(a postgres:\/\/ URL\): with the event log on NATS the system of record must be PostgreSQL.*SQLite store is local/],
      [{ DATABASE_URL: PG, STRATA_NATS_URL: 'http://127.0.0.1:4222' }, /^STRATA_NATS_URL must be a nats:\/\/ \(or tls:\/\/\) URL .*got "http:\/\/127\.0\.0\.1:4222"/],
      [{ DATABASE_URL: PG, STRATA_NATS_URL: '127.0.0.1:4222' }, /^STRATA_NATS_URL must be/],
      [{ DATABASE_URL: PG, STRATA_NATS_URL: `${NATS},` }, /^STRATA_NATS_URL must be/],
      [{ DATABASE_URL: PG, STRATA_NATS_URL: NATS, STRATA_NATS_PREFIX: 'a.b' }, /^STRATA_NATS_PREFIX must be 1-64 letters, digits, '-' or '_', got "a\.b"/],
      [{ DATABASE_URL: PG, STRATA_NATS_URL: NATS, STRATA_NATS_PREFIX: 'x'.repeat(65) }, /^STRATA_NATS_PREFIX must be/],
      [{ DATABASE_URL: PG, STRATA_NATS_URL: NATS, STRATA_NATS_PREFIX: 'star*' }, /^STRATA_NATS_PREFIX must be/],
      ...['0', '1025', '-1', '2.5', '16x', 'sixteen', '1e2'].map((v): [Record<string, string>, RegExp] => [{ DATABASE_URL: PG, STRATA_NATS_URL: NATS, STRATA_PARTITIONS: v }, new RegExp(`^STRATA_PARTITIONS must be a whole number from 1 to 1024, got "${v.replace('.', '\\.')}"`)]),
      [{ DATABASE_URL: PG, STRATA_NATS_URL: 'nats://h:99999' }, /^STRATA_NATS_URL must be .*"nats:\/\/h:99999" is not one: its host or port is not valid \(the port must be a number from 1 to 65535\)/],
      [{ DATABASE_URL: PG, STRATA_NATS_URL: 'nats://h:abc' }, /^STRATA_NATS_URL must be .*"nats:\/\/h:abc" is not one: its host or port/],
      [{ DATABASE_URL: PG, STRATA_NATS_URL: `${NATS},nats://h:0` }, /^STRATA_NATS_URL must be .*"nats:\/\/h:0" is not one: its port must be a number from 1 to 65535/],
      [{ DATABASE_URL: PG, STRATA_NATS_URL: 'nats://:4222' }, /^STRATA_NATS_URL must be .*"nats:\/\/:4222" is not one/],
      [{ STRATA_PARTITIONS: '4' }, /^STRATA_PARTITIONS is set \("4"\) but STRATA_NATS_URL is not: the embedded event log has one partition/],
      [{ STRATA_NATS_PREFIX: 'shop' }, /^STRATA_NATS_PREFIX is set \("shop"\) but STRATA_NATS_URL is not/],
    ];
    for (const [env, message] of bad) expect(() => configFromEnv(env), JSON.stringify(env)).toThrow(message);
  });

  it('never prints the password of a NATS URL: refused, it is shown with its user info redacted', () => {
    expect(redactNatsUrl('nats://user:s3cret@h:4222')).toBe('nats://user:***@h:4222');
    expect(redactNatsUrl('nats://tok3n@h:4222, tls://a:b@c:1,nats://h:4222')).toBe('nats://***@h:4222, tls://a:***@c:1,nats://h:4222');
    expect(redactNatsUrl('nats://h:4222')).toBe('nats://h:4222');
    let message = '';
    try {
      configFromEnv({ DATABASE_URL: PG, STRATA_NATS_URL: 'nats://user:s3cret@h:99999' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^STRATA_NATS_URL must be .*"nats:\/\/user:\*\*\*@h:99999"/);
    expect(message).not.toContain('s3cret');
  });
});

describe('STRATA_ROLE', () => {
  it('accepts all, the default, set or not', () => {
    expect(() => configFromEnv({})).not.toThrow();
    expect(() => configFromEnv({ STRATA_ROLE: 'all' })).not.toThrow();
    expect(() => configFromEnv({ STRATA_ROLE: ' ' })).not.toThrow();
  });

  it('takes api only with the log on NATS and the PostgreSQL store, naming what is missing', () => {
    expect(configFromEnv({ DATABASE_URL: PG, STRATA_NATS_URL: NATS, STRATA_ROLE: 'api' }).role).toBe('api');
    expect(configFromEnv({}).role).toBe('all');
    expect(() => configFromEnv({ STRATA_ROLE: 'api' })).toThrow(/^STRATA_ROLE=api needs DATABASE_URL and STRATA_NATS_URL: /);
    expect(() => configFromEnv({ STRATA_ROLE: 'api', DATABASE_URL: PG })).toThrow(/^STRATA_ROLE=api needs STRATA_NATS_URL: /);
    expect(() => configFromEnv({ STRATA_ROLE: 'api', STRATA_NATS_URL: NATS })).toThrow(/^STRATA_ROLE=api needs DATABASE_URL: /);
  });

  it('takes worker only with the log on NATS and the PostgreSQL store too, and refuses any other value', () => {
    expect(configFromEnv({ DATABASE_URL: PG, STRATA_NATS_URL: NATS, STRATA_ROLE: 'worker' }).role).toBe('worker');
    expect(() => configFromEnv({ STRATA_ROLE: 'worker', DATABASE_URL: PG })).toThrow(/^STRATA_ROLE=worker needs STRATA_NATS_URL: a process of the worker role applies partitions/);
    expect(() => configFromEnv({ STRATA_ROLE: 'Worker' })).toThrow(/^STRATA_ROLE must be all, api or worker, got "Worker"/);
  });
});
