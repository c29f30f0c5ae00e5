/**
 * What the read worker tests compare: a request's failure as a QuiverError, and results whose
 * blobs are plain Uint8Arrays whichever connection gave them.
 */
import { expect } from 'vitest';
import { QuiverError } from '../../../src/core/index.ts';
import type { ExecuteResult } from '../../../src/sql/index.ts';

/** The QuiverError `p` fails with (the test fails if it succeeds or fails otherwise). */
export async function failure(p: Promise<unknown>): Promise<QuiverError> {
  const e = await p.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(e).toBeInstanceOf(QuiverError);
  return e as QuiverError;
}

/** Blobs as plain Uint8Arrays: the writer's connection hands out Buffers, a worker's copies are plain. */
export function plain(r: ExecuteResult): ExecuteResult {
  const value = (v: unknown) => (Buffer.isBuffer(v) ? new Uint8Array(v) : v);
  return { results: r.results.map((s) => ({ ...s, rows: s.rows.map((row) => row.map(value)) })) } as ExecuteResult;
}
