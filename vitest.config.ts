import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'e2e/**/*.test.ts', 'packages/web/e2e/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two test files at a time at least: many suites wait on PostgreSQL, NATS, child processes or a
    // browser more than they compute, and vitest's default (one fewer than the cores) runs a 2-core
    // machine's suite one file at a time, leaving a core idle for most of it.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
