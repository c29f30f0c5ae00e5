/**
 * @module index/segment/segment
 * An immutable segment: one HNSW graph, the row id of each node, and an {@link AliveBitSet}.
 * The graph and the row ids never change after the segment is built; only alive bits are
 * cleared, by deletes. Nodes are in ascending row id order (the builder sorts its snapshot),
 * so finding a row's node is a binary search and needs no per-segment map. A segment answers
 * k-NN for its rows only (./segment-searcher.ts, on lane 0); the index merges the answers of
 * all segments and the tail. Runs on the thread that owns the index; the searcher's scratch
 * makes `search` non-reentrant. Other threads search it through views (../view-data.ts),
 * which is why {@link Segment.viewData} exists.
 * A quantized segment (../quantization.ts) holds codes, not float32: its keys are approximate
 * and its vectors are decoded on demand; the index re-ranks its answers from the originals.
 */
import type { HnswGraph } from '../hnsw/graph.ts';
import type { Metric } from '../../core/index.ts';
import type { PartOutput, SearchPart } from '../merged-search.ts';
import { decodeRecord, type Quantization } from '../quantization.ts';
import type { RowFilter } from '../row-filter.ts';
import { graphDims, graphMetric } from '../space.ts';
import type { SegmentViewData } from '../view-data.ts';
import type { AliveBitSet } from './alive-bitset.ts';
import { SegmentSearcher } from './segment-searcher.ts';

export class Segment implements SearchPart {
  readonly id: number;
  readonly graph: HnswGraph;
  /** Row id of node n; strictly ascending. */
  readonly rowIds: Float64Array;
  readonly alive: AliveBitSet;
  private searcher: SegmentSearcher | null = null;
  /** The rows' metric and dimensions (the graph's may differ: see graphDims). */
  readonly metric: Metric;
  readonly dims: number;
  /** Dot only: M², the squared norm every augmented vector has (see ../space.ts); else 0. */
  readonly maxNorm2: number = 0;
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

  /** SegmentSearcher.search on the owner's lane: min(k, matching) rows into `out`. */
  search(query: Float32Array, k: number, ef: number, filter: RowFilter | null, out: PartOutput): number {
    return this.laneZero().search(query, k, ef, filter, out);
  }

  exactKey(n: number, query: Float32Array): number | null {
    return this.laneZero().exactKey(n, query);
  }

  /** The owner's searcher, made on first use (a segment only merged away never needs one). */
  private laneZero(): SegmentSearcher {
    return (this.searcher ??= new SegmentSearcher(this.graph, this.rowIds, this.metric, this.maxNorm2, 0, this.alive));
  }

  /**
   * This segment in a view: references to its graph's arrays and arena (which must be on
   * shared memory to be posted, see ../hnsw/graph.ts shareGraph) and a copy of its alive bits.
   */
  viewData(): SegmentViewData {
    return {
      id: this.id,
      graph: this.graph.toData(),
      memory: this.graph.arena.memory,
      rowIds: this.rowIds,
      maxNorm2: this.maxNorm2,
      alive: this.alive.snapshot(),
    };
  }
}
