/**
 * @module index/hnsw/search
 * Reading a graph: algorithm 2 (SEARCH-LAYER), its ef = 1 special case used to descend the upper
 * layers, and algorithm 5 (K-NN-SEARCH), with deletions and row filters applied inside the
 * traversal. A masked node (deleted, or refused by the filter) is still expanded — its links
 * keep the graph navigable — but never enters the result set W; and while W holds fewer than ef
 * accepted nodes the search does not stop, so a selective filter widens the search instead of
 * returning fewer rows (hnswlib's `isIdAllowed`, Weaviate's and ACORN's in-graph filtering).
 * A searcher owns its scratch (visited marks, both heaps, and its lane's query and batch slots
 * in the graph's arena) and is not reentrant: one per graph per search lane. The build
 * (./build.ts) uses the same searcher, with the new node's stored vector as the query.
 */
import type { ArenaBatchKernel, ArenaKernel } from '../kernels.ts';
import type { HnswGraph } from './graph.ts';
import { MinHeap } from './heap.ts';
import { VisitedSet } from './visited-set.ts';

/** Whether a node may be returned; called only for nodes the traversal reaches. */
export type NodeFilter = (node: number) => boolean;

export class HnswSearcher {
  readonly graph: HnswGraph;
  readonly visited: VisitedSet;
  /** C of algorithm 2: nearest candidate on top. */
  readonly candidates = new MinHeap();
  /** W of algorithm 2, as negated keys: the farthest kept result on top. */
  readonly results = new MinHeap();
  /** Distance evaluations since construction, for the benchmark and tests. */
  distanceCount = 0;
  /** Key of the node greedyClosest last returned. */
  closestKey = 0;
  /**
   * The graph's kernel: squared L2 or −dot, over float32 vectors or quantized records, taking
   * float indexes and n = the graph's stride (which is dims for float32).
   */
  readonly kernel: ArenaKernel;
  /** The same kernel over a batch of node ids (see ArenaBatchKernel). */
  readonly batchKernel: ArenaBatchKernel;
  /** This lane's scratch in the arena: float index of the query slot… */
  readonly queryOffset: number;
  /** …int32 index of the batch id list, and float index of the batch results. */
  private readonly batchIdsOffset: number;
  private readonly batchOutOffset: number;

  /** A searcher of `graph` that writes only lane `lane`'s scratch. */
  constructor(graph: HnswGraph, lane = 0) {
    this.graph = graph;
    this.visited = new VisitedSet(graph.count);
    this.kernel = graph.kernels.kernel;
    this.batchKernel = graph.kernels.batch;
    const scratch = graph.laneScratch(lane);
    this.queryOffset = scratch.query;
    this.batchIdsOffset = scratch.batchIds;
    this.batchOutOffset = scratch.batchOut;
  }

  /** The ranking key between the vector at arena float index qOff and node n. */
  key(qOff: number, n: number): number {
    this.distanceCount++;
    return this.kernel(n * this.graph.stride, qOff, this.graph.stride);
  }

  /**
   * SEARCH-LAYER with ef = 1 (algorithm 5, lines 4-6; algorithm 1, lines 5-7): walk to a closer
   * neighbour while one exists. Returns the local minimum; its key is left in `closestKey`.
   */
  greedyClosest(qOff: number, entry: number, entryKey: number, layer: number): number {
    const g = this.graph;
    const links = g.linkArray(layer);
    const stride = g.stride;
    const kernel = this.kernel;
    let current = entry;
    let currentKey = entryKey;
    let evaluations = 0;
    let changed = true;
    while (changed) {
      changed = false;
      const base = g.linkBase(current, layer);
      const size = links[base];
      for (let i = 1; i <= size; i++) {
        const e = links[base + i];
        const k = kernel(e * stride, qOff, stride);
        evaluations++;
        if (k < currentKey) {
          currentKey = k;
          current = e;
          changed = true;
        }
      }
    }
    this.distanceCount += evaluations;
    this.closestKey = currentKey;
    return current;
  }

  /**
   * SEARCH-LAYER (algorithm 2) on `layer` from one entry point, keeping ef results in
   * `this.results` (negated keys). With `alive` (bit n set = node n may be returned) or
   * `filter`, masked nodes route but are not kept, and the loop only stops early once W is full
   * (otherwise when C is exhausted), which is what keeps filtered recall.
   */
  searchLayer(
    qOff: number,
    entry: number,
    entryKey: number,
    ef: number,
    layer: number,
    alive: Uint32Array | null,
    filter: NodeFilter | null,
  ): void {
    const g = this.graph;
    const links = g.linkArray(layer);
    const stride = g.stride;
    const batch = this.batchKernel;
    const upper = layer > 0;
    const stride0 = g.stride0;
    const upperOffsets = g.upperOffsets;
    const upperShift = (layer - 1) * g.strideUpper;
    const candidates = this.candidates;
    const results = this.results;
    const generation = this.visited.next(g.count);
    const visited = this.visited.marks;
    const masking = alive !== null || filter !== null;
    // The unvisited neighbours of each expanded node are scored in one batched kernel call:
    // their ids go to the lane's batch slot, their keys come back in the slot after it.
    const arena = g.arena;
    arena.refresh();
    const ints = arena.ints;
    const floats = arena.floats;
    const idsAt = this.batchIdsOffset;
    const outAt = this.batchOutOffset;
    let evaluations = 0;

    candidates.clear();
    results.clear();
    visited[entry] = generation;
    candidates.push(entryKey, entry);
    let bound = Infinity;
    if (
      !masking ||
      ((alive === null || ((alive[entry >>> 5] >>> (entry & 31)) & 1) !== 0) && (filter === null || filter(entry)))
    ) {
      results.push(-entryKey, entry);
      bound = entryKey;
    }

    while (candidates.size > 0) {
      const cKey = candidates.topKey();
      if (cKey > bound && (results.size >= ef || !masking)) break;
      const c = candidates.topNode();
      candidates.pop();
      const base = upper ? upperOffsets[c] + upperShift : c * stride0;
      const size = links[base];
      let fresh = 0;
      for (let i = 1; i <= size; i++) {
        const e = links[base + i];
        if (visited[e] === generation) continue;
        visited[e] = generation;
        ints[idsAt + fresh++] = e;
      }
      if (fresh === 0) continue;
      batch(idsAt, fresh, qOff, stride, outAt);
      evaluations += fresh;
      for (let j = 0; j < fresh; j++) {
        const k = floats[outAt + j];
        if (results.size < ef || k < bound) {
          const e = ints[idsAt + j];
          candidates.push(k, e);
          if (
            !masking ||
            ((alive === null || ((alive[e >>> 5] >>> (e & 31)) & 1) !== 0) && (filter === null || filter(e)))
          ) {
            if (results.size < ef) results.push(-k, e);
            else results.replaceTop(-k, e);
            bound = -results.topKey();
          }
        }
      }
    }
    this.distanceCount += evaluations;
  }

  /**
   * K-NN-SEARCH (algorithm 5) for a query in graph form (encoded into the lane's query slot,
   * which is why a searcher is one per lane): descend layers L..1 greedily, then
   * SEARCH-LAYER on layer 0 with max(ef, k). Writes up to k nodes nearest first into `outNodes`
   * and their keys into `outKeys`; returns how many. Fewer than k means the traversal ran out
   * of reachable accepted nodes: callers that promise min(k, matching) rows fall back to an
   * exact scan then (../segment/segment.ts).
   */
  search(
    query: Float32Array,
    k: number,
    ef: number,
    alive: Uint32Array | null,
    filter: NodeFilter | null,
    outNodes: Int32Array,
    outKeys: Float64Array,
  ): number {
    const g = this.graph;
    if (g.count === 0 || k <= 0) return 0;
    const qOff = this.queryOffset;
    g.writeQuery(query, qOff);
    let ep = g.entryPoint;
    let epKey = this.key(qOff, ep);
    for (let layer = g.maxLevel; layer > 0; layer--) {
      ep = this.greedyClosest(qOff, ep, epKey, layer);
      epKey = this.closestKey;
    }
    this.searchLayer(qOff, ep, epKey, ef > k ? ef : k, 0, alive, filter);
    const results = this.results;
    while (results.size > k) results.pop();
    return results.drainNegated(outNodes, outKeys);
  }
}
