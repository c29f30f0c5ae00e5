/**
 * @module cache-job
 * What the embedding cache hands its writer thread (cache.ts -> cache-worker.ts): the rows of
 * one write, packed per (model, dims) into a few typed arrays whose buffers are transferred.
 * Structured-cloning a hundred row objects, each with its own key and vector, cost the
 * request thread more than the rest of handing them over.
 */
import type { RowTouch, RowWrite } from './cache-file.ts';

/** Row keys are sha256 digests. */
const KEY_BYTES = 32;

/** Rows of one model and dims: row i's key, vector and time at offset i of each array. */
interface WriteGroup {
  model: string;
  dims: number;
  keys: Uint8Array;
  vectors: Float32Array;
  at: Float64Array;
}

export interface WriteJob {
  seq: number;
  groups: WriteGroup[];
  touchKeys: Uint8Array;
  touchAt: Float64Array;
}

/** A job of copies of `writes` and `touches`, and the buffers to transfer with it. */
export function packJob(seq: number, writes: readonly RowWrite[], touches: readonly RowTouch[]): { job: WriteJob; transfer: ArrayBuffer[] } {
  const byGroup = new Map<string, RowWrite[]>();
  for (const w of writes) {
    const k = `${w.model}\u0000${w.dims}`;
    const rows = byGroup.get(k);
    if (rows) rows.push(w);
    else byGroup.set(k, [w]);
  }
  const groups = [...byGroup.values()].map((rows): WriteGroup => {
    const { model, dims } = rows[0];
    const group = { model, dims, keys: new Uint8Array(rows.length * KEY_BYTES), vectors: new Float32Array(rows.length * dims), at: new Float64Array(rows.length) };
    rows.forEach((w, i) => {
      group.keys.set(w.key, i * KEY_BYTES);
      group.vectors.set(w.vector, i * dims);
      group.at[i] = w.at;
    });
    return group;
  });
  const touchKeys = new Uint8Array(touches.length * KEY_BYTES);
  const touchAt = new Float64Array(touches.length);
  touches.forEach((t, i) => {
    touchKeys.set(t.key, i * KEY_BYTES);
    touchAt[i] = t.at;
  });
  // Every array above was allocated here, on a buffer of its own.
  const transfer = [touchKeys, touchAt, ...groups.flatMap((g) => [g.keys, g.vectors, g.at])].map((a) => a.buffer as ArrayBuffer);
  return { job: { seq, groups, touchKeys, touchAt }, transfer };
}

/** The rows of a job, as views of its arrays. */
export function unpackJob(job: WriteJob): { writes: RowWrite[]; touches: RowTouch[] } {
  const writes: RowWrite[] = [];
  for (const { model, dims, keys, vectors, at } of job.groups) {
    for (let i = 0; i < at.length; i++) {
      writes.push({ key: keys.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES), model, dims, vector: vectors.subarray(i * dims, (i + 1) * dims), at: at[i] });
    }
  }
  const touches: RowTouch[] = [];
  for (let i = 0; i < job.touchAt.length; i++) touches.push({ key: job.touchKeys.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES), at: job.touchAt[i] });
  return { writes, touches };
}
