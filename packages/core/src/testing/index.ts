/** Test support shared by the packages: the naive oracle, fast-check arbitraries, fixtures. */
export * from './oracle.ts';
export * from './arbitraries.ts';
export * from './fixtures.ts';
export * from './evaluate-case.ts';
export * from './bucket-vectors.ts';
