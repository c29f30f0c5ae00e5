/**
 * @module index/lifecycle/tail
 * The tail: rows committed but not yet in any graph, searched by brute force so that a row is
 * found by the very next query (PolarDB's two-phase recall: index, then not-yet-indexed rows).
 * Vectors are kept in stored form in a {@link VectorArena}, after one query slot per search
 * lane (lane 0 is the owner's), so the scan runs the same SIMD kernels as the graphs.
 *
 * The tail only appends: a row takes the next slot, and a delete clears the slot's alive bit.
 * So the slots below any count a view captured never change, and other threads scan them
 * through views (../view-data.ts) while the owner goes on inserting. When the slots are full
 * and at least half of them are dead, the live rows move to a new arena rather than this one
 * growing (a view keeps the old one), so a row updated over and over costs at most twice the
 * live rows. When a flush starts, the tail is frozen — it stops taking inserts but still
 * answers searches and deletes until its segment is installed — and a fresh tail takes the
 * inserts. A shareable tail keeps its arena and row ids on shared memory.
 */
import type { Metric } from '../../core/index.ts';
import { bruteForceKeys } from '../brute-force.ts';
import { MinHeap } from '../hnsw/heap.ts';
import type { NodeFilter } from '../hnsw/search.ts';
import { VectorArena } from '../kernels.ts';
import type { PartOutput, SearchPart } from '../merged-search.ts';
import type { RowFilter } from '../row-filter.ts';
import { wordCount } from '../segment/alive-bitset.ts';
import { float64Array } from '../shared-arrays.ts';
import { exactKey, graphDims, usesSquaredL2, writeGraphVectors } from '../space.ts';
import type { TailViewData } from '../view-data.ts';

const INITIAL_ROWS = 256;

/** Ids of the arenas tails fill on this thread, so that a view reader can cache by arena. */
let nextArenaId = 1;

/** What a scan reads of a tail: the owner's tail itself, or a view's capture of it. */
export interface TailRows {
  readonly rowIds: Float64Array;
  /** Slots to scan, from 0. */
  readonly slots: number;
  /** Bit s set = slot s is alive; null when all are. */
  readonly alive: Uint32Array | null;
}

/**
 * The brute-force search of one tail arena from one lane, over whichever rows it is given:
 * one per arena per lane, since the query goes to the lane's slot of the arena.
 */
export class TailScan implements SearchPart {
  /** The rows searches read; a view reader swaps in each view's. */
  rows: TailRows;
  private readonly arena: VectorArena;
  private readonly dims: number;
  private readonly metric: Metric;
  /** Float index of this lane's query slot, and of slot 0's vector. */
  private readonly queryOffset: number;
  private readonly base: number;
  private readonly heap = new MinHeap();

  constructor(arena: VectorArena, dims: number, metric: Metric, lane: number, lanes: number, rows: TailRows) {
    if (!Number.isInteger(lane) || lane < 0 || lane >= lanes) {
      throw new RangeError(`search lane ${lane} is outside this tail's ${lanes} lanes`);
    }
    this.arena = arena;
    this.dims = dims;
    this.metric = metric;
    this.queryOffset = lane * dims;
    this.base = lanes * dims;
    this.rows = rows;
  }

  /**
   * The exact k nearest live rows passing `filter`, for a stored-form query, into `out` (with
   * their slots); returns how many.
   */
  search(query: Float32Array, k: number, _ef: number, filter: RowFilter | null, out: PartOutput): number {
    const { rowIds, slots, alive } = this.rows;
    if (slots === 0 || k <= 0) return 0;
    const arena = this.arena;
    arena.refresh();
    arena.floats.set(query.subarray(0, this.dims), this.queryOffset);
    const nodeFilter: NodeFilter | null = filter === null ? null : (i) => filter(rowIds[i]);
    const kernel = usesSquaredL2(this.metric) ? arena.l2 : arena.negDot;
    const { rowIds: outRowIds, keys: outKeys, positions: outSlots } = out;
    const found = bruteForceKeys(kernel, this.base, slots, this.dims, this.queryOffset, k, alive, nodeFilter, outSlots, outKeys, this.heap);
    for (let i = 0; i < found; i++) outRowIds[i] = rowIds[outSlots[i]];
    return found;
  }

  /** The float64 key of a slot's row; after `search`, which refreshed the arena's views. */
  exactKey(slot: number, query: Float32Array): number {
    return exactKey(this.metric, this.arena.floats, this.base + slot * this.dims, query, this.dims);
  }
}

export class Tail implements SearchPart, TailRows {
  readonly dims: number;
  readonly metric: Metric;
  /** Query slots at the start of the arena, one per search lane. */
  readonly lanes: number;
  readonly shared: boolean;
  /** The arena's id (see nextArenaId); a compaction moves the rows to a new arena. */
  arenaId = 0;
  arena: VectorArena;
  /** Row id of each slot; replaced by a longer copy when the slots run out. */
  rowIds: Float64Array;
  /** Slots taken, dead ones included. */
  slots = 0;
  /** Live rows. */
  count = 0;
  /** When the oldest row still here arrived (ms since the epoch), or 0 when empty. */
  oldestAt = 0;
  /** Bit s set = slot s holds a live row. */
  private aliveWords: Uint32Array;
  private readonly slotOf = new Map<number, number>();
  /** The owner's scan (lane 0) of the current arena. */
  private scan: TailScan;

  constructor(dims: number, metric: Metric, lanes = 1, shared = false) {
    this.dims = dims;
    this.metric = metric;
    this.lanes = lanes;
    this.shared = shared;
    this.arena = this.newArena(INITIAL_ROWS);
    this.rowIds = float64Array(INITIAL_ROWS, shared);
    this.aliveWords = new Uint32Array(wordCount(INITIAL_ROWS));
    this.scan = new TailScan(this.arena, dims, metric, 0, lanes, this);
  }

  private newArena(capacity: number): VectorArena {
    this.arenaId = nextArenaId++;
    return new VectorArena(this.dims * (this.lanes + capacity), this.shared);
  }

  get alive(): Uint32Array | null {
    return this.count < this.slots ? this.aliveWords : null;
  }

  has(rowId: number): boolean {
    return this.slotOf.has(rowId);
  }

  /** Live rows as [row id, slot]. */
  liveSlots(): IterableIterator<[number, number]> {
    return this.slotOf.entries();
  }

  /** Float index of slot s's vector in the arena. */
  private offsetOf(slot: number): number {
    return this.dims * (this.lanes + slot);
  }

  /** Adds a row whose vector is already in stored form; the caller has removed any older copy. */
  insertStored(rowId: number, stored: Float32Array, now: number): void {
    if (this.slots === this.rowIds.length) this.makeRoom();
    const slot = this.slots++;
    this.arena.floats.set(stored.subarray(0, this.dims), this.offsetOf(slot));
    this.rowIds[slot] = rowId;
    this.aliveWords[slot >>> 5] |= 1 << (slot & 31);
    this.slotOf.set(rowId, slot);
    if (this.count === 0) this.oldestAt = now;
    this.count++;
  }

  /** Full: compact when at least half the slots are dead, else double the slots. */
  private makeRoom(): void {
    const capacity = this.rowIds.length;
    if (this.slots - this.count >= this.count) {
      this.compact(capacity);
      return;
    }
    this.arena.ensure(this.offsetOf(2 * capacity));
    const rowIds = float64Array(2 * capacity, this.shared);
    rowIds.set(this.rowIds);
    this.rowIds = rowIds;
    const words = new Uint32Array(wordCount(2 * capacity));
    words.set(this.aliveWords);
    this.aliveWords = words;
  }

  /** Moves the live rows, in slot order, to the first slots of a new arena. */
  private compact(capacity: number): void {
    const arena = this.newArena(capacity);
    const rowIds = float64Array(capacity, this.shared);
    const words = new Uint32Array(wordCount(capacity));
    let next = 0;
    for (let slot = 0; slot < this.slots; slot++) {
      if (((this.aliveWords[slot >>> 5] >>> (slot & 31)) & 1) === 0) continue;
      arena.floats.set(this.vectorAt(slot), this.dims * (this.lanes + next));
      rowIds[next] = this.rowIds[slot];
      words[next >>> 5] |= 1 << (next & 31);
      this.slotOf.set(rowIds[next], next);
      next++;
    }
    this.arena = arena;
    this.rowIds = rowIds;
    this.aliveWords = words;
    this.slots = next;
    this.scan = new TailScan(arena, this.dims, this.metric, 0, this.lanes, this);
  }

  /** Removes a row; true if it was here. Its slot stays taken, dead, until a compaction. */
  delete(rowId: number): boolean {
    const slot = this.slotOf.get(rowId);
    if (slot === undefined) return false;
    this.slotOf.delete(rowId);
    this.aliveWords[slot >>> 5] &= ~(1 << (slot & 31));
    this.count--;
    if (this.count === 0) this.oldestAt = 0;
    return true;
  }

  /** The stored-form vector of slot s (a view; copy it before the tail changes). */
  vectorAt(slot: number): Float32Array {
    const at = this.offsetOf(slot);
    return this.arena.floats.subarray(at, at + this.dims);
  }

  /** TailScan.search on the owner's lane. */
  search(query: Float32Array, k: number, ef: number, filter: RowFilter | null, out: PartOutput): number {
    return this.scan.search(query, k, ef, filter, out);
  }

  exactKey(slot: number, query: Float32Array): number {
    return this.scan.exactKey(slot, query);
  }

  /** Bytes held: the arena's memory, row ids and alive bits. */
  byteLength(): number {
    return this.arena.memory.buffer.byteLength + this.rowIds.byteLength + this.aliveWords.byteLength;
  }

  /** This tail in a view: references to its arena and row ids, a copy of its alive bits. */
  viewData(): TailViewData {
    const alive = this.alive;
    return {
      id: this.arenaId,
      memory: this.arena.memory,
      rowIds: this.rowIds,
      slots: this.slots,
      alive: alive === null ? null : alive.slice(0, wordCount(this.slots)),
    };
  }

  /**
   * The live rows in ascending row id order with their vectors in a new arena: in graph form
   * (../space.ts, graphDims) on shared memory for a build on another thread, with one spare
   * slot for a query; or, with `forGraph` false, as stored (for a saved tail file).
   */
  snapshot(forGraph = true): { rowIds: Float64Array; arena: VectorArena } {
    const order = [...this.slotOf.values()].sort((a, b) => this.rowIds[a] - this.rowIds[b]);
    const n = order.length;
    const dims = this.dims;
    const rowIds = float64Array(n, this.shared && forGraph);
    for (let i = 0; i < n; i++) rowIds[i] = this.rowIds[order[i]];
    const outDims = forGraph ? graphDims(this.metric, dims) : dims;
    const arena = new VectorArena(outDims * (n + 1), forGraph);
    const at = (i: number) => this.vectorAt(order[i]);
    if (forGraph) writeGraphVectors(this.metric, dims, n, at, arena.floats);
    else for (let i = 0; i < n; i++) arena.floats.set(at(i), i * dims);
    return { rowIds, arena };
  }
}
