import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arbCase, loadFixtureCases, oracleMembers } from '@strata/core/testing';
import type { SqlStore } from './sql-store.ts';
import { sqlMembers, testBackends } from './testing/index.ts';

const fixtures = await loadFixtureCases();
const backends = await testBackends();

describe.each(backends.map((b) => [b.name, b] as const))('compiled SQL on %s', (_name, backend) => {
  let store: SqlStore;
  beforeAll(async () => {
    store = await backend.open();
  });
  afterAll(async () => {
    await store?.close();
  });

  it.each(fixtures.cases.map((c) => [c.name, c] as const))('fixture: %s', async (_n, c) => {
    expect(await sqlMembers(store, c)).toEqual(c.expected);
  });

  it('property: agrees with the naive oracle on random conditions and data', async () => {
    await fc.assert(
      fc.asyncProperty(arbCase, async (c) => {
        expect(await sqlMembers(store, c)).toEqual(oracleMembers(c.condition, c.profiles, c.segments, c.now));
      }),
      { numRuns: Number(process.env.STRATA_SQL_PROPERTY_RUNS ?? 500) },
    );
  }, 600_000);
});
