/**
 * @module index/lifecycle/flush
 * The flush stage of an index's lifecycle (as pgvector's hnswbuild.c is its build stage): the
 * tail becomes a segment. The tail is frozen — it stops taking inserts but still answers
 * searches and deletes — and a fresh one takes the inserts; the graph of the frozen rows is
 * linked off the main thread (./segment-jobs.ts); then, in one synchronous step, the rows
 * deleted or updated meanwhile (found by their location: no longer the frozen tail) are masked
 * in the new segment, the others are located there, and the segment replaces the frozen tail.
 * If the build fails or the index closes first, the frozen rows go back to the tail: they were
 * searchable all along, and the next flush takes them. Runs on the index's thread, one job at a
 * time (the index queues them).
 */
import { AliveBitSet } from '../segment/alive-bitset.ts';
import type { Layout } from './layout.ts';
import type { SegmentJobs } from './segment-jobs.ts';

/** Turns the whole tail of `layout` into an installed segment; does nothing if it is empty or the index closed. */
export async function flush(layout: Layout, jobs: SegmentJobs): Promise<void> {
  if (layout.tail.count === 0 || jobs.closed) return;
  const frozen = layout.tail;
  layout.tail = jobs.newTail();
  layout.frozen = frozen;
  const { rowIds, arena } = frozen.snapshot();
  const id = jobs.takeId();
  await jobs.track('flush', rowIds.length, async () => {
    try {
      await jobs.link('flush', arena, rowIds.length, id, (graph) => {
        const alive = AliveBitSet.allAlive(rowIds.length);
        for (let n = 0; n < rowIds.length; n++) if (layout.location.get(rowIds[n]) !== frozen) alive.kill(n);
        const segment = jobs.segment(id, graph, rowIds, alive);
        for (let n = 0; n < rowIds.length; n++) if (alive.isAlive(n)) layout.location.set(rowIds[n], segment);
        layout.segments.push(segment);
        layout.frozen = null;
      });
    } catch (e) {
      const now = Date.now();
      for (const [rowId, slot] of frozen.liveSlots()) {
        layout.tail.insertStored(rowId, frozen.vectorAt(slot), Math.min(now, frozen.oldestAt));
        layout.location.set(rowId, layout.tail);
      }
      layout.frozen = null;
      throw e;
    }
  });
}
