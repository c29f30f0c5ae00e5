/**
 * @module index/view-reader
 * Searching views (./view-data.ts) of a shareable VectorIndex from another thread — the SQL
 * layer's read workers — while the index's owner goes on inserting, deleting, flushing and
 * merging. A reader rebuilds searchable parts from a view's shared memory (graph wrappers,
 * kernel instances bound to each memory, searchers with their visited sets) and runs the
 * index's own search over them (./merged-search.ts), so its answer is exactly what
 * `index.search` returned when the view was exported. What it rebuilds is cached by segment
 * id (and tail arena id), because instantiating kernels per query would cost more than the
 * search; entries whose parts a view no longer holds are dropped, so a reader does not keep
 * merged-away segments' memory alive once its thread collects garbage (which `onRelease` lets
 * the thread ask for: ../util/shared-memory-gc.ts). Each reader writes only its own lane's scratch in the
 * shared arenas: one reader per thread, lanes 1..searchLanes − 1 (lane 0 is the owner's).
 *
 * @example
 * // owner thread
 * worker.postMessage(index.exportView());
 * // worker thread
 * const reader = new IndexViewReader(1, (rowId) => readOriginal(rowId));
 * reader.search(view, [1, 0, 0], { k: 10 });
 */
import { HnswGraph } from './hnsw/graph.ts';
import { VectorArena } from './kernels.ts';
import { TailScan } from './lifecycle/tail.ts';
import { MergedSearch, type SearchOptions, type SearchPart, type VectorHit } from './merged-search.ts';
import { ExactReranker, type OriginalVectors } from './rerank.ts';
import { SegmentSearcher } from './segment/segment-searcher.ts';
import type { IndexViewData, TailViewData } from './view-data.ts';

export class IndexViewReader {
  private readonly lane: number;
  private readonly originals: OriginalVectors | undefined;
  private readonly onRelease: () => void;
  /** The index the caches below belong to, and its search. */
  private indexId: string | null = null;
  private searcher: MergedSearch | null = null;
  private readonly segments = new Map<number, SegmentSearcher>();
  private readonly tails = new Map<number, TailScan>();

  /**
   * A reader searching on lane `lane` (1..searchLanes − 1 of the index; one reader per thread
   * and lane). A quantized index's views need `originals` to re-rank from, as the index does.
   * `onRelease` is called when the reader drops cached parts (merged-away segments, flushed
   * tails, another index's): their shared memory is freed once this thread collects garbage.
   */
  constructor(lane: number, originals?: OriginalVectors, onRelease: () => void = () => {}) {
    if (!Number.isInteger(lane) || lane < 1) {
      throw new RangeError(`a view reader's lane must be an integer from 1 (lane 0 is the index owner's); got ${lane}`);
    }
    this.lane = lane;
    this.originals = originals;
    this.onRelease = onRelease;
  }

  /** What `index.search(query, options)` returned when `view` was exported. */
  search(view: IndexViewData, query: ArrayLike<number>, options: SearchOptions): VectorHit[] {
    if (this.lane >= view.lanes) {
      throw new RangeError(`lane ${this.lane} is outside the index's search lanes 1..${view.lanes - 1}; raise searchLanes`);
    }
    const searcher = this.searcherFor(view);
    const segments: SearchPart[] = view.segments.map((s) => {
      let part = this.segments.get(s.id);
      if (part === undefined) {
        const graph = new HnswGraph(s.graph, VectorArena.fromMemory(s.memory, true), view.lanes);
        part = new SegmentSearcher(graph, s.rowIds, view.metric, s.maxNorm2, this.lane, s.alive);
        this.segments.set(s.id, part);
      }
      part.alive = s.alive;
      return part;
    });
    const tails = view.frozen === null ? [view.tail] : [view.frozen, view.tail];
    const tailParts: SearchPart[] = tails.map((t) => this.tailPart(view, t));
    if (dropAllBut(this.segments, view.segments) + dropAllBut(this.tails, tails) > 0) this.onRelease();
    return searcher.search(segments, tailParts, query, options);
  }

  /** The search for `view`'s index; a view of another index clears the caches first. */
  private searcherFor(view: IndexViewData): MergedSearch {
    if (this.searcher !== null && this.indexId === view.indexId) return this.searcher;
    if (view.quantization !== 'none' && this.originals === undefined) {
      throw new Error(
        `a view of a ${view.quantization}-quantized index needs the float32 originals to re-rank from; none were given to the reader`,
      );
    }
    if (this.segments.size + this.tails.size > 0) this.onRelease();
    this.segments.clear();
    this.tails.clear();
    const reranker = view.quantization === 'none' ? null : new ExactReranker(view.metric, view.dims, this.originals!);
    this.indexId = view.indexId;
    this.searcher = new MergedSearch(view.metric, view.dims, view.quantization, reranker);
    return this.searcher;
  }

  private tailPart(view: IndexViewData, tail: TailViewData): TailScan {
    let scan = this.tails.get(tail.id);
    if (scan === undefined) {
      scan = new TailScan(VectorArena.fromMemory(tail.memory, true), view.dims, view.metric, this.lane, view.lanes, tail);
      this.tails.set(tail.id, scan);
    }
    scan.rows = tail;
    return scan;
  }
}

/** Drops the entries of `cache` whose id none of `kept` has; returns how many. */
function dropAllBut<T>(cache: Map<number, T>, kept: readonly { id: number }[]): number {
  if (cache.size === kept.length) return 0;
  const ids = new Set(kept.map((k) => k.id));
  let dropped = 0;
  for (const id of cache.keys()) {
    if (!ids.has(id)) {
      cache.delete(id);
      dropped++;
    }
  }
  return dropped;
}
