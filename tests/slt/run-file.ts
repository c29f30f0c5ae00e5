/**
 * @module slt/run-file
 * Runs one sqllogictest file on a fresh Quiver Engine in a fresh temporary data directory,
 * removed afterwards, so no file sees another's tables. Its SELECTs run on read workers, as
 * in the server. Shared by the vitest suite
 * (tests/slt.test.ts) and the conformance script (scripts/conformance.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine } from '../../src/sql/index.ts';
import { parseScript } from './format.ts';
import { runScript, type RunOptions, type RunResult } from './runner.ts';

export interface FileRun extends RunResult {
  seconds: number;
}

/** Parses and runs the script at `file`; the timing covers parsing and running, not setup. */
export async function runSltFile(file: string, options: RunOptions = {}): Promise<FileRun> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-slt-'));
  try {
    // Reads go through the read workers, as they do in the server.
    const engine = Engine.open({ dataDir, readWorkers: 2 });
    try {
      const started = performance.now();
      const result = await runScript(parseScript(fs.readFileSync(file, 'utf8')), engine, options);
      return { ...result, seconds: (performance.now() - started) / 1000 };
    } finally {
      await engine.shutdown();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
