import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Tests that need root (they mount file systems) run in `npm run test:disk-full` (vitest.root.config.ts),
    // and the stall test, which needs the machine to itself, in `npm run test:stall` (vitest.stall.config.ts).
    exclude: [...configDefaults.exclude, 'tests/root/**', 'tests/stall/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // The JSON report is what .ci/run counts, so a run that executed no test shows as such.
    reporters: ['default', ['json', { outputFile: '.vitest-results.json' }]],
  },
});
