import { defineConfig } from 'vitest/config';

// Tests that need root, because they mount file systems (`npm run test:disk-full`); `npm test`
// excludes their folder, so it passes for any user. No JSON report: .ci/run counts `npm test`'s.
export default defineConfig({
  test: {
    include: ['tests/root/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
