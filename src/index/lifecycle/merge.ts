/**
 * @module index/lifecycle/merge
 * The merge stage of an index's lifecycle (as pgvector's hnswvacuum.c is its vacuum stage):
 * segments are rewritten into one without their deleted rows — those the merge policy picks
 * (./merge-policy.ts), or all of them (OPTIMIZE TABLE). The alive rows of the sources are
 * copied in row id order into a new arena and linked off the main thread (./segment-jobs.ts);
 * then, in one synchronous step, the rows deleted or updated meanwhile (found by their
 * location: no longer their source segment) are masked in the merged segment, the others are
 * located there, and it replaces its sources. Sources with no alive row left are simply
 * dropped. A failed merge changes nothing: the sources stay. Runs on the index's thread, one
 * job at a time (the index queues them).
 */
import { VectorArena } from '../kernels.ts';
import { AliveBitSet } from '../segment/alive-bitset.ts';
import type { Segment } from '../segment/segment.ts';
import { graphDims, writeGraphVectors } from '../space.ts';
import type { Layout } from './layout.ts';
import { chooseMerges, type MergePolicy } from './merge-policy.ts';
import type { SegmentJobs } from './segment-jobs.ts';

/** Merges what `policy` picks until it picks nothing or the index closes. */
export async function mergeByPolicy(layout: Layout, jobs: SegmentJobs, policy: MergePolicy): Promise<void> {
  for (;;) {
    if (jobs.closed) return;
    const summaries = layout.segments.map((s) => ({ id: s.id, rows: s.rows, aliveRows: s.aliveRows }));
    const groups = chooseMerges(summaries, policy);
    if (groups.length === 0) return;
    await merge(layout, jobs, groups[0]);
  }
}

/** Merges every segment into one without deleted rows, unless that one is all there is already. */
export async function mergeAll(layout: Layout, jobs: SegmentJobs): Promise<void> {
  const needed = layout.segments.length > 1 || layout.segments.some((s) => s.alive.deadCount > 0);
  if (needed) await merge(layout, jobs, layout.segments.map((s) => s.id));
}

/** Rewrites the segments with ids `ids` into one, without their deleted rows. */
async function merge(layout: Layout, jobs: SegmentJobs, ids: readonly number[]): Promise<void> {
  const wanted = new Set(ids);
  const sources = layout.segments.filter((s) => wanted.has(s.id));
  if (sources.length === 0 || jobs.closed) return;
  const entries: { rowId: number; source: Segment; node: number }[] = [];
  for (const source of sources) {
    for (let n = 0; n < source.rows; n++) {
      if (source.alive.isAlive(n)) entries.push({ rowId: source.rowIds[n], source, node: n });
    }
  }
  const retire = (replacement: Segment | null) => {
    const gone = new Set(sources);
    layout.segments = layout.segments.filter((s) => !gone.has(s));
    if (replacement !== null) layout.segments.push(replacement);
  };
  if (entries.length === 0) {
    retire(null);
    return;
  }
  entries.sort((a, b) => a.rowId - b.rowId);
  const count = entries.length;
  const { dims, metric } = jobs.settings;
  const arena = new VectorArena(graphDims(metric, dims) * (count + 1), true);
  const rowIds = new Float64Array(count);
  for (let i = 0; i < count; i++) rowIds[i] = entries[i].rowId;
  // A quantized source gives its decoded codes: the merged graph is linked on them rather
  // than on the originals (no reads from the owner on this thread). That costs int8 a little
  // re-ranked recall and int16 none (BENCHMARKS.md, bench:ann); codes of decoded codes are the
  // same codes, so merging again loses nothing more.
  writeGraphVectors(metric, dims, count, (i) => entries[i].source.vectorOf(entries[i].node), arena.floats);
  const id = jobs.takeId();
  await jobs.track('merge', count, () =>
    jobs.link('merge', arena, count, id, (graph) => {
      const alive = AliveBitSet.allAlive(count);
      for (let i = 0; i < count; i++) if (layout.location.get(rowIds[i]) !== entries[i].source) alive.kill(i);
      const merged = jobs.segment(id, graph, rowIds, alive);
      for (let i = 0; i < count; i++) if (alive.isAlive(i)) layout.location.set(rowIds[i], merged);
      retire(merged);
    }),
  );
}
