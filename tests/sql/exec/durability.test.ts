/** The durability setting reaches SQLite: FULL by default, NORMAL when asked. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { Engine } from '../../../src/sql/index.ts';

test.each([
  [undefined, 2],
  ['FULL' as const, 2],
  ['NORMAL' as const, 1],
])('synchronous %s is PRAGMA synchronous = %i, in WAL mode', async (synchronous, level) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-durability-'));
  const engine = Engine.open({ dataDir, synchronous });
  try {
    const { results } = await engine.execute('PRAGMA synchronous; PRAGMA journal_mode');
    expect(results.map((r) => r.rows[0][0])).toEqual([level, 'wal']);
  } finally {
    engine.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
