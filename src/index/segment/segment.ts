/**
 * @module index/segment/segment
 * An immutable segment: one HNSW graph, the row id of each node, and an {@link AliveBitSet}.
 * The graph and the row ids never change after the segment is built; only alive bits are
 * cleared, by deletes. Nodes are in ascending row id order (the builder sorts its snapshot),
 * so finding a row's node is a binary search and needs no per-segment map. A segment answers
 * k-NN for its rows only; the index merges the answers of all segments and the tail. Runs on
 * the thread that owns the index; the searcher's scratch makes `search` non-reentrant.
 * For dot, the graph works in the augmented L2 space of ../space.ts (graphDims): the segment
 * extends each query by the zero coordinate and turns the graph's keys back into −q·x.
 * A quantized segment (../quantization.ts) holds codes, not float32: its keys are approximate
 * and its vectors are decoded on demand; the index re-ranks its answers from the originals.
 */
import { bruteForceKeys } from '../brute-force.ts';
import type { HnswGraph } from '../hnsw/graph.ts';
import { MinHeap } from '../hnsw/heap.ts';
import { HnswSearcher, type NodeFilter } from '../hnsw/search.ts';
import type { Metric } from '../distance.ts';
import { decodeRecord, type Quantization } from '../quantization.ts';
import type { RowFilter } from '../row-filter.ts';
import { graphDims, graphMetric } from '../space.ts';
import type { AliveBitSet } from './alive-bitset.ts';

export class Segment {
  readonly id: number;
  readonly graph: HnswGraph;
  /** Row id of node n; strictly ascending. */
  readonly rowIds: Float64Array;
  readonly alive: AliveBitSet;
  private searcher: HnswSearcher | null = null;
  private nodes = new Int32Array(64);
  private readonly heap = new MinHeap();
  /** The rows' metric and dimensions (the graph's may differ: see graphDims). */
  readonly metric: Metric;
  readonly dims: number;
  /** Dot only: M², the squared norm every augmented vector has, and the query scratch. */
  private readonly maxNorm2: number = 0;
  private readonly augmented: Float32Array | null = null;
  /** Quantized only: where vectorOf decodes a node. */
  private readonly decoded: Float32Array | null = null;

  constructor(id: number, graph: HnswGraph, rowIds: Float64Array, alive: AliveBitSet, metric: Metric) {
    if (rowIds.length !== graph.count || alive.size !== graph.count) {
      throw new Error(`segment ${id}: ${graph.count} nodes but ${rowIds.length} row ids and ${alive.size} alive bits`);
    }
    const dims = metric === 'dot' ? graph.dims - 1 : graph.dims;
    if (graph.metric !== graphMetric(metric) || graph.dims !== graphDims(metric, dims)) {
      throw new Error(`segment ${id}: a ${graph.metric} graph cannot serve ${metric} rows`);
    }
    this.id = id;
    this.graph = graph;
    this.rowIds = rowIds;
    this.alive = alive;
    this.metric = metric;
    this.dims = dims;
    if (graph.quantization !== 'none' && graph.codedDims !== dims) {
      throw new Error(`segment ${id}: records code ${graph.codedDims} of ${dims} dimensions`);
    }
    if (metric === 'dot') {
      const v = graph.vectors;
      const d = graph.dims;
      let max = 0;
      for (let n = 0; n < graph.count; n++) {
        let s = 0;
        if (graph.quantization !== 'none') s = v[n * graph.stride + 1]; // the record's norm²
        else for (let j = n * d; j < (n + 1) * d; j++) s += v[j] * v[j];
        if (s > max) max = s;
      }
      this.maxNorm2 = max;
      this.augmented = new Float32Array(d);
    }
    if (graph.quantization !== 'none') this.decoded = new Float32Array(dims);
  }

  /** How the graph keeps its vectors. */
  get quantization(): Quantization {
    return this.graph.quantization;
  }

  /**
   * The stored-form vector of node n: a view of the graph's vectors, or, when quantized, its
   * decoded codes in a scratch array that the next call overwrites.
   */
  vectorOf(n: number): Float32Array {
    const g = this.graph;
    if (g.quantization !== 'none') {
      g.arena.refresh();
      decodeRecord(g.quantization, g.arena, n * g.stride, this.dims, this.decoded!);
      return this.decoded!;
    }
    const d = g.dims;
    return g.vectors.subarray(n * d, n * d + this.dims);
  }

  get rows(): number {
    return this.graph.count;
  }

  get aliveRows(): number {
    return this.alive.aliveCount;
  }

  get deletedFraction(): number {
    return this.rows === 0 ? 0 : this.alive.deadCount / this.rows;
  }

  /** The node holding `rowId` (alive or not), or −1. */
  nodeOf(rowId: number): number {
    const ids = this.rowIds;
    let lo = 0;
    let hi = ids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = ids[mid];
      if (v === rowId) return mid;
      if (v < rowId) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Masks `rowId`; true if it was alive here. The node keeps routing until a merge. */
  delete(rowId: number): boolean {
    const n = this.nodeOf(rowId);
    return n >= 0 && this.alive.kill(n);
  }

  /**
   * The k nearest alive rows that pass `filter`, for a query in stored form: row ids and keys
   * nearest first into the out arrays; returns how many. Returns min(k, matching) rows: when
   * the graph walk, which still routes through masked nodes, comes back short of k (a
   * selective filter, or matching nodes the walk cannot reach), the segment is scanned exactly.
   */
  search(
    query: Float32Array,
    k: number,
    ef: number,
    filter: RowFilter | null,
    outRowIds: Float64Array,
    outKeys: Float64Array,
  ): number {
    if (k <= 0 || this.alive.aliveCount === 0) return 0;
    let qNorm2 = 0;
    if (this.augmented !== null) {
      for (let j = 0; j < this.dims; j++) qNorm2 += query[j] * query[j];
      this.augmented.set(query.subarray(0, this.dims));
      this.augmented[this.dims] = 0;
      query = this.augmented;
    }
    if (this.nodes.length < k) this.nodes = new Int32Array(k);
    const nodes = this.nodes;
    const searcher = (this.searcher ??= new HnswSearcher(this.graph));
    const alive = this.alive.deadCount > 0 ? this.alive.words : null;
    const rowIds = this.rowIds;
    const nodeFilter: NodeFilter | null = filter === null ? null : (n) => filter(rowIds[n]);
    let found = searcher.search(query, k, ef, alive, nodeFilter, nodes, outKeys);
    if (found < k && (alive !== null || nodeFilter !== null) && found < this.alive.aliveCount) {
      const g = this.graph;
      found = bruteForceKeys(searcher.kernel, 0, g.count, g.stride, g.queryOffset, k, alive, nodeFilter, nodes, outKeys, this.heap);
    }
    for (let i = 0; i < found; i++) outRowIds[i] = rowIds[nodes[i]];
    if (this.augmented !== null) {
      // ‖q' − x'‖² = ‖q‖² + M² − 2 q·x, so −q·x = (key − ‖q‖² − M²) / 2.
      const shift = qNorm2 + this.maxNorm2;
      for (let i = 0; i < found; i++) outKeys[i] = (outKeys[i] - shift) / 2;
    }
    return found;
  }
}
