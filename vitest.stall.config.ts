import { defineConfig } from 'vitest/config';

// The stall test (`npm run test:stall`): it keeps both cores busy with hostile statements while it
// times other requests, so it runs on its own, after `npm test`, not beside other test files
// whose timings it would disturb (and which would disturb its own). No JSON report: .ci/run
// counts it as one test.
export default defineConfig({
  test: {
    include: ['tests/stall/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
