/**
 * Runs every SQL logic test script in tests/slt/*.slt through Quiver's engine: one vitest test
 * per file, each on a fresh Engine in a fresh temp dir, failing with the runner's messages.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { describeFailures } from './slt/runner.ts';
import { runSltFile } from './slt/run-file.ts';

const SLT_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'slt');
const scripts = fs
  .readdirSync(SLT_DIR)
  .filter((f) => f.endsWith('.slt'))
  .sort();

test('tests/slt holds SQL logic test scripts', () => {
  expect(scripts.length).toBeGreaterThan(0);
});

for (const script of scripts) {
  test(script, async () => {
    const run = await runSltFile(path.join(SLT_DIR, script));
    if (run.failed > 0) {
      throw new Error(`${run.failed} of ${run.passed + run.failed} records failed\n\n${describeFailures(script, run).join('\n\n')}`);
    }
    expect(run.passed).toBeGreaterThan(0);
  });
}
