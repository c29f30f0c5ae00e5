/**
 * @module index/lifecycle/tail
 * The tail: rows committed but not yet in any graph, searched by brute force so that a row is
 * found by the very next query (PolarDB's two-phase recall: index, then not-yet-indexed rows).
 * Vectors are kept in stored form in a growable {@link VectorArena} (the query slot first, then
 * row i at dims + i × dims) so the scan runs the same SIMD kernels as the graphs. A delete
 * moves the last row into the hole, so the tail stays dense. When a flush starts, the tail is
 * frozen — it stops taking inserts but still answers searches and deletes until its segment is
 * installed — and a fresh tail takes the inserts.
 */
import type { Metric } from '../distance.ts';
import { bruteForceKeys } from '../brute-force.ts';
import { MinHeap } from '../hnsw/heap.ts';
import type { NodeFilter } from '../hnsw/search.ts';
import { VectorArena } from '../kernels.ts';
import type { RowFilter } from '../row-filter.ts';
import { graphDims, usesSquaredL2, writeGraphVectors, writeStored } from '../space.ts';

const INITIAL_ROWS = 256;

export class Tail {
  readonly dims: number;
  readonly metric: Metric;
  readonly arena: VectorArena;
  rowIds: Float64Array;
  count = 0;
  /** When the oldest row still here arrived (ms since the epoch), or 0 when empty. */
  oldestAt = 0;
  private readonly slotOf = new Map<number, number>();
  private slots = new Int32Array(64);
  private readonly heap = new MinHeap();
  private readonly l2: boolean;

  constructor(dims: number, metric: Metric) {
    this.dims = dims;
    this.metric = metric;
    this.arena = new VectorArena(dims * (INITIAL_ROWS + 1));
    this.rowIds = new Float64Array(INITIAL_ROWS);
    this.l2 = usesSquaredL2(metric);
  }

  has(rowId: number): boolean {
    return this.slotOf.has(rowId);
  }

  /** The slot of `rowId`, or −1. */
  slotOfRow(rowId: number): number {
    return this.slotOf.get(rowId) ?? -1;
  }

  /** Adds a row (the caller has removed any older copy); `vector` is raw, checked here. */
  insert(rowId: number, vector: ArrayLike<number>, now: number): void {
    const slot = this.count;
    const dims = this.dims;
    this.arena.ensure(dims * (slot + 2));
    // Validate into the query slot first, so a bad vector leaves the tail untouched.
    writeStored(this.metric, dims, vector, this.arena.floats, 0);
    this.arena.floats.copyWithin(dims * (slot + 1), 0, dims);
    this.appendSlot(rowId, slot, now);
  }

  /** Adds a row whose vector is already in stored form (a saved tail being loaded). */
  insertStored(rowId: number, stored: Float32Array, now: number): void {
    const slot = this.count;
    this.arena.ensure(this.dims * (slot + 2));
    this.arena.floats.set(stored.subarray(0, this.dims), this.dims * (slot + 1));
    this.appendSlot(rowId, slot, now);
  }

  private appendSlot(rowId: number, slot: number, now: number): void {
    if (slot === this.rowIds.length) {
      const grown = new Float64Array(this.rowIds.length * 2);
      grown.set(this.rowIds);
      this.rowIds = grown;
    }
    this.rowIds[slot] = rowId;
    this.slotOf.set(rowId, slot);
    if (this.count === 0) this.oldestAt = now;
    this.count++;
  }

  /** Removes a row; true if it was here. */
  delete(rowId: number): boolean {
    const slot = this.slotOf.get(rowId);
    if (slot === undefined) return false;
    this.slotOf.delete(rowId);
    const last = this.count - 1;
    if (slot !== last) {
      const dims = this.dims;
      const moved = this.rowIds[last];
      this.rowIds[slot] = moved;
      this.slotOf.set(moved, slot);
      this.arena.floats.copyWithin(dims * (slot + 1), dims * (last + 1), dims * (last + 2));
    }
    this.count = last;
    if (last === 0) this.oldestAt = 0;
    return true;
  }

  /** The stored-form vector of slot i (a view; copy it before the tail changes). */
  vectorAt(slot: number): Float32Array {
    return this.arena.floats.subarray(this.dims * (slot + 1), this.dims * (slot + 2));
  }

  /** Exact k nearest rows passing `filter`, for a stored-form query; returns how many. */
  search(query: Float32Array, k: number, filter: RowFilter | null, outRowIds: Float64Array, outKeys: Float64Array): number {
    if (this.count === 0 || k <= 0) return 0;
    if (this.slots.length < k) this.slots = new Int32Array(k);
    const arena = this.arena;
    arena.floats.set(query, 0);
    const rowIds = this.rowIds;
    const nodeFilter: NodeFilter | null = filter === null ? null : (i) => filter(rowIds[i]);
    const kernel = this.l2 ? arena.l2 : arena.negDot;
    const found = bruteForceKeys(kernel, this.dims, this.count, this.dims, 0, k, null, nodeFilter, this.slots, outKeys, this.heap);
    for (let i = 0; i < found; i++) outRowIds[i] = rowIds[this.slots[i]];
    return found;
  }

  /**
   * The rows in ascending row id order with their vectors in a new arena: in graph form
   * (../space.ts, graphDims) on shared memory for a build on another thread, with one spare
   * slot for a query; or, with `forGraph` false, as stored (for a saved tail file).
   */
  snapshot(forGraph = true): { rowIds: Float64Array; arena: VectorArena } {
    const n = this.count;
    const dims = this.dims;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => this.rowIds[a] - this.rowIds[b]);
    const rowIds = new Float64Array(n);
    for (let i = 0; i < n; i++) rowIds[i] = this.rowIds[order[i]];
    const outDims = forGraph ? graphDims(this.metric, dims) : dims;
    const arena = new VectorArena(outDims * (n + 1), forGraph);
    const src = this.arena.floats;
    const at = (i: number) => src.subarray(dims * (order[i] + 1), dims * (order[i] + 2));
    if (forGraph) writeGraphVectors(this.metric, dims, n, at, arena.floats);
    else for (let i = 0; i < n; i++) arena.floats.set(at(i), i * dims);
    return { rowIds, arena };
  }

  /** Row ids currently here, in slot order. */
  rows(): Float64Array {
    return this.rowIds.slice(0, this.count);
  }
}
