/**
 * @module index/segment/segment-searcher
 * The k-NN search of one segment from one search lane: the graph walk, the exact scan it falls
 * back to, the dot product's query augmentation, and the scratch all that reuses. It reads the
 * segment's graph and row ids, which never change, and whatever alive bits it is given: the
 * segment's own (./segment.ts, lane 0, on the owner's thread) or a view's copy of them
 * (../view-reader.ts, on a worker's lane). Not reentrant: one per segment per lane.
 * For dot, the graph works in the augmented L2 space of ../space.ts (graphDims): the searcher
 * extends each query by the zero coordinate and turns the graph's keys back into −q·x.
 */
import { bruteForceKeys } from '../brute-force.ts';
import type { Metric } from '../../core/index.ts';
import type { HnswGraph } from '../hnsw/graph.ts';
import { MinHeap } from '../hnsw/heap.ts';
import { HnswSearcher, type NodeFilter } from '../hnsw/search.ts';
import type { PartOutput, SearchPart } from '../merged-search.ts';
import type { RowFilter } from '../row-filter.ts';
import { exactKey } from '../space.ts';
import type { AliveRows } from './alive-bitset.ts';

export class SegmentSearcher implements SearchPart {
  /** The alive bits searches apply; a reader swaps in each view's copy. */
  alive: AliveRows;
  private readonly graph: HnswGraph;
  private readonly rowIds: Float64Array;
  private readonly metric: Metric;
  /** The rows' dimensions (the graph's may be one more: see graphDims). */
  private readonly dims: number;
  private readonly searcher: HnswSearcher;
  private readonly heap = new MinHeap();
  /** Dot only: M², the squared norm every augmented vector has, and the query scratch. */
  private readonly maxNorm2: number;
  private readonly augmented: Float32Array | null;

  /** `maxNorm2` is the segment's (./segment.ts works it out once); 0 unless dot. */
  constructor(graph: HnswGraph, rowIds: Float64Array, metric: Metric, maxNorm2: number, lane: number, alive: AliveRows) {
    this.graph = graph;
    this.rowIds = rowIds;
    this.metric = metric;
    this.dims = metric === 'dot' ? graph.dims - 1 : graph.dims;
    this.searcher = new HnswSearcher(graph, lane);
    this.maxNorm2 = maxNorm2;
    this.augmented = metric === 'dot' ? new Float32Array(graph.dims) : null;
    this.alive = alive;
  }

  /**
   * The k nearest alive rows that pass `filter`, for a query in stored form, into `out` (with
   * their nodes); returns how many. Returns min(k, matching) rows: when the graph walk, which
   * still routes through masked nodes, comes back short of k (a selective filter, or matching
   * nodes the walk cannot reach), the segment is scanned exactly.
   */
  search(query: Float32Array, k: number, ef: number, filter: RowFilter | null, out: PartOutput): number {
    const aliveRows = this.alive;
    if (k <= 0 || aliveRows.aliveCount === 0) return 0;
    let qNorm2 = 0;
    if (this.augmented !== null) {
      for (let j = 0; j < this.dims; j++) qNorm2 += query[j] * query[j];
      this.augmented.set(query.subarray(0, this.dims));
      this.augmented[this.dims] = 0;
      query = this.augmented;
    }
    const { rowIds: outRowIds, keys: outKeys, positions: outNodes } = out;
    const searcher = this.searcher;
    const alive = aliveRows.deadCount > 0 ? aliveRows.words : null;
    const rowIds = this.rowIds;
    const nodeFilter: NodeFilter | null = filter === null ? null : (n) => filter(rowIds[n]);
    let found = searcher.search(query, k, ef, alive, nodeFilter, outNodes, outKeys);
    if (found < k && (alive !== null || nodeFilter !== null) && found < aliveRows.aliveCount) {
      const g = this.graph;
      found = bruteForceKeys(searcher.kernel, 0, g.count, g.stride, searcher.queryOffset, k, alive, nodeFilter, outNodes, outKeys, this.heap);
    }
    for (let i = 0; i < found; i++) outRowIds[i] = rowIds[outNodes[i]];
    if (this.augmented !== null) {
      // ‖q' − x'‖² = ‖q‖² + M² − 2 q·x, so −q·x = (key − ‖q‖² − M²) / 2.
      const shift = qNorm2 + this.maxNorm2;
      for (let i = 0; i < found; i++) outKeys[i] = (outKeys[i] - shift) / 2;
    }
    return found;
  }

  /** The float64 key of node n from its float32 vector; null when the graph holds codes. */
  exactKey(n: number, query: Float32Array): number | null {
    const g = this.graph;
    return g.quantization === 'none' ? exactKey(this.metric, g.vectors, n * g.dims, query, this.dims) : null;
  }
}
