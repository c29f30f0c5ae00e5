import { configDefaults, defineConfig } from 'vitest/config';

/** What every test file shares. */
const shared = {
  testTimeout: 30_000,
  hookTimeout: 30_000,
  pool: 'forks' as const,
};

export default defineConfig({
  test: {
    // The JSON report is what .ci/run counts, so a run that executed no test shows as such.
    reporters: ['default', ['json', { outputFile: '.vitest-results.json' }]],
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          include: ['tests/**/*.test.ts'],
          // Tests that need root (they mount file systems) run in `npm run test:disk-full` (vitest.root.config.ts),
          // and the stall test, which needs the machine to itself, in `npm run test:stall` (vitest.stall.config.ts).
          exclude: [...configDefaults.exclude, 'tests/root/**', 'tests/stall/**', 'tests/cluster/**'],
        },
      },
      {
        // Real NATS and Quiver processes, timed by JetStream's elections: after the rest, one file at a time.
        test: {
          ...shared,
          name: 'cluster',
          include: ['tests/cluster/**/*.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
