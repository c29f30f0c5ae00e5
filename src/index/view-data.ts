/**
 * @module index/view-data
 * The shape of a view: a snapshot of a shareable index (./vector-index.ts `exportView`) that
 * other threads search (./view-reader.ts) while the owner goes on changing the index. It is
 * made to be posted: plain objects, numbers, strings, typed arrays, SharedArrayBuffers and
 * shared WebAssembly memories, which postMessage shares rather than copies. What the owner may
 * still write is copied into the view (alive bits, cleared in place by deletes); what it never
 * writes again is referenced (graphs, row ids, and the tail's slots below the captured count,
 * since the tail only appends). A view stays valid for as long as someone holds it, whatever
 * the owner does since, closing the index included: it keeps the memories it names alive.
 */
import type { Metric } from '../core/index.ts';
import type { HnswGraphData } from './hnsw/graph.ts';
import type { Quantization } from './quantization.ts';
import type { AliveRows } from './segment/alive-bitset.ts';

export interface IndexViewData {
  /** Which index this is a view of, so that a reader knows its cache belongs to another one. */
  indexId: string;
  dims: number;
  metric: Metric;
  quantization: Quantization;
  m: number;
  /** Search lanes the index keeps scratch for; a reader's lane must be below it. */
  lanes: number;
  segments: SegmentViewData[];
  /** The frozen tail of a running flush, or null. */
  frozen: TailViewData | null;
  tail: TailViewData;
}

export interface SegmentViewData {
  /** Unique for the life of the index: a reader caches what it rebuilds by it. */
  id: number;
  /** The graph; its `vectors` and arrays are on shared memory (`vectors` in `memory`). */
  graph: HnswGraphData;
  /** The graph's arena, with scratch for every lane after the vectors. */
  memory: WebAssembly.Memory;
  rowIds: Float64Array;
  /** Dot only: the segment's largest squared norm (see ./space.ts graphDims); else 0. */
  maxNorm2: number;
  /** A copy of the alive bits when the view was taken. */
  alive: AliveRows;
}

/** What a view holds of a tail; see ./lifecycle/tail.ts for the layout. */
export interface TailViewData {
  /** Unique, within the owner's thread, to the arena: a reader caches its scan by it. */
  id: number;
  /** The arena: one query slot per lane, then a stored-form vector per slot. */
  memory: WebAssembly.Memory;
  rowIds: Float64Array;
  /** Slots taken when the view was taken; the view reads no others. */
  slots: number;
  /** A copy of the slots' alive bits; null when every slot was alive. */
  alive: Uint32Array | null;
}
