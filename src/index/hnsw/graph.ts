/**
 * @module index/hnsw/graph
 * The HNSW graph as flat typed arrays, and nothing that changes it: the layout every other
 * stage (build, search, segment file) shares. Node ids are dense, 0..count−1, in insertion
 * order; the segment maps them to row ids. Layout, chosen so that a search touches few cache
 * lines and the whole graph can be written to or read from a file section by section:
 *
 * - `vectors`: one record per node, node n at n × stride floats, at the start of the graph's
 *   {@link VectorArena} (WebAssembly memory, for the SIMD kernels): count × dims float32 in
 *   stored form (see ../space.ts) with stride = dims, or, for a quantized graph, the int8 /
 *   int16 records of ../quantization.ts (their bytes viewed as floats: copied with `set`,
 *   never read as numbers). After them, scratch for each search lane (a thread that may search
 *   the graph at the same time as others: lane 0 is the owner's): the query in the same form
 *   (one record), then one batch of neighbour ids and their distances. Graphs are built on
 *   float32 only; a quantized graph is a built graph whose vectors were re-encoded
 *   ({@link quantizeGraph}).
 * - `levels`: each node's top layer (algorithm 1's l), one byte.
 * - `links0`: layer 0, every node has 2M + 1 int32 slots at n × (2M + 1): the link count, then
 *   up to Mmax0 = 2M neighbour ids.
 * - `upperOffsets` / `upperLinks`: layers 1..levels[n] of node n are M + 1 slots each (count,
 *   then up to M ids), packed at upperOffsets[n] + (layer − 1) × (M + 1); −1 for nodes that live
 *   on layer 0 only. Only about 1/M of the nodes reach layer 1, so packing the upper layers per
 *   node (hnswlib's linkLists_) costs far less memory than one count × (M + 1) array per layer.
 *
 * Levels come from a seeded PRNG ({@link drawLevels}) so the same vectors, parameters and seed
 * build the same graph, byte for byte. A graph that other threads search ({@link shareGraph})
 * keeps every one of these arrays on shared memory; nothing but the lanes' scratch is written
 * once it is built.
 */
import type { Metric } from '../../core/index.ts';
import { VectorArena, type KernelPair } from '../kernels.ts';
import { encodeRecord, recordFloats, type Quantization } from '../quantization.ts';
import { sharedCopy } from '../shared-arrays.ts';
import { usesSquaredL2 } from '../space.ts';
import { MAX_LEVEL, levelMultiplier, maxLinksLayer0 } from './params.ts';

/** Everything a graph is made of; the shape the worker and the file format move around. */
export interface HnswGraphData {
  dims: number;
  metric: Metric;
  m: number;
  efConstruction: number;
  count: number;
  /** How `vectors` are stored: float32 (`none`) or quantized records. */
  quantization: Quantization;
  /** Coordinates a record codes (the rows' dims); the rest of `dims` folds into its norm. */
  codedDims: number;
  /** Node where every search starts (algorithm 5's ep); −1 for an empty graph. */
  entryPoint: number;
  /** Top layer of the graph (algorithm 1's L); −1 for an empty graph. */
  maxLevel: number;
  /** count × stride floats: float32 vectors, or records (see the module comment). */
  vectors: Float32Array;
  levels: Uint8Array;
  links0: Int32Array;
  upperOffsets: Int32Array;
  upperLinks: Int32Array;
}

export class HnswGraph implements HnswGraphData {
  readonly dims: number;
  readonly metric: Metric;
  readonly m: number;
  readonly efConstruction: number;
  readonly count: number;
  readonly quantization: Quantization;
  readonly codedDims: number;
  entryPoint: number;
  maxLevel: number;
  /** Floats per node in the arena: dims for float32, the record size when quantized. */
  readonly stride: number;
  readonly vectors: Float32Array;
  readonly levels: Uint8Array;
  readonly links0: Int32Array;
  readonly upperOffsets: Int32Array;
  readonly upperLinks: Int32Array;
  /** Slots per node on layer 0: 1 + Mmax0. */
  readonly stride0: number;
  /** Slots per node per upper layer: 1 + M. */
  readonly strideUpper: number;
  /** Where `vectors` live, with the kernels bound to them. */
  readonly arena: VectorArena;
  /** The arena's kernels for this storage and metric, over float indexes with n = stride. */
  readonly kernels: KernelPair;
  /** Search lanes with scratch after the vectors. */
  readonly lanes: number;

  /**
   * A graph over `data` with scratch for `lanes` search lanes. Without `arena`, a private arena
   * is made and data.vectors copied into it; with one, data.vectors must already be its first
   * count × stride floats.
   */
  constructor(data: HnswGraphData, arena?: VectorArena, lanes = 1) {
    this.dims = data.dims;
    this.metric = data.metric;
    this.m = data.m;
    this.efConstruction = data.efConstruction;
    this.count = data.count;
    this.quantization = data.quantization;
    this.codedDims = data.codedDims;
    this.entryPoint = data.entryPoint;
    this.maxLevel = data.maxLevel;
    this.stride = recordFloats(data.quantization, data.codedDims, data.dims);
    this.lanes = lanes;
    const floats = data.count * this.stride;
    const scratch = lanes * laneScratchFloats(this.stride, data.m);
    if (arena === undefined) {
      arena = new VectorArena(floats + scratch);
      arena.floats.set(data.vectors.subarray(0, floats));
    } else {
      arena.ensure(floats + scratch);
    }
    this.arena = arena;
    this.kernels = arena.kernels(data.quantization, usesSquaredL2(data.metric));
    this.vectors = arena.floats.subarray(0, floats);
    this.levels = data.levels;
    this.links0 = data.links0;
    this.upperOffsets = data.upperOffsets;
    this.upperLinks = data.upperLinks;
    this.stride0 = maxLinksLayer0(data.m) + 1;
    this.strideUpper = data.m + 1;
  }

  /**
   * An unlinked graph with the given levels over the first levels.length × dims floats of
   * `arena` (stored form).
   */
  static allocate(
    dims: number,
    metric: Metric,
    m: number,
    efConstruction: number,
    arena: VectorArena,
    levels: Uint8Array,
  ): HnswGraph {
    const count = levels.length;
    const upperOffsets = new Int32Array(count);
    let upperLength = 0;
    for (let n = 0; n < count; n++) {
      const level = levels[n];
      if (level === 0) {
        upperOffsets[n] = -1;
      } else {
        upperOffsets[n] = upperLength;
        upperLength += level * (m + 1);
      }
    }
    return new HnswGraph({
      dims,
      metric,
      m,
      efConstruction,
      count,
      quantization: 'none',
      codedDims: dims,
      entryPoint: -1,
      maxLevel: -1,
      vectors: arena.floats.subarray(0, count * dims),
      levels,
      links0: new Int32Array(count * (maxLinksLayer0(m) + 1)),
      upperOffsets,
      upperLinks: new Int32Array(upperLength),
    }, arena);
  }

  /** The array holding node `n`'s list on `layer`; pair with {@link linkBase}. */
  linkArray(layer: number): Int32Array {
    return layer === 0 ? this.links0 : this.upperLinks;
  }

  /** Index of node `n`'s link count on `layer`; its ids follow. The node must reach `layer`. */
  linkBase(n: number, layer: number): number {
    return layer === 0 ? n * this.stride0 : this.upperOffsets[n] + (layer - 1) * this.strideUpper;
  }

  /**
   * Where lane `lane`'s scratch is: the float index of its query slot, the int32 index of its
   * batch id list and the float index of its batch results.
   */
  laneScratch(lane: number): { query: number; batchIds: number; batchOut: number } {
    if (!Number.isInteger(lane) || lane < 0 || lane >= this.lanes) {
      throw new RangeError(`search lane ${lane} is outside this graph's ${this.lanes} lanes`);
    }
    const query = this.count * this.stride + lane * laneScratchFloats(this.stride, this.m);
    const batchIds = query + this.stride;
    return { query, batchIds, batchOut: batchIds + maxLinksLayer0(this.m) + 1 };
  }

  /**
   * Puts a query (graph form: dims floats) at float index `at` (a lane's query slot), encoded
   * like the nodes. Not reentrant: one slot per lane.
   */
  writeQuery(query: Float32Array, at: number): void {
    const arena = this.arena;
    arena.refresh();
    if (this.quantization === 'none') arena.floats.set(query.subarray(0, this.dims), at);
    else encodeRecord(this.quantization, query, 0, this.codedDims, this.dims, this.stride, arena, at);
  }

  /** Bytes held by the graph's arrays (vectors included), for stats and the benchmark. */
  byteLength(): number {
    return (
      this.vectors.byteLength +
      this.levels.byteLength +
      this.links0.byteLength +
      this.upperOffsets.byteLength +
      this.upperLinks.byteLength
    );
  }

  /** The plain data, e.g. to post to another thread or write to a file. */
  toData(): HnswGraphData {
    return {
      dims: this.dims,
      metric: this.metric,
      m: this.m,
      efConstruction: this.efConstruction,
      count: this.count,
      quantization: this.quantization,
      codedDims: this.codedDims,
      entryPoint: this.entryPoint,
      maxLevel: this.maxLevel,
      vectors: this.vectors,
      levels: this.levels,
      links0: this.links0,
      upperOffsets: this.upperOffsets,
      upperLinks: this.upperLinks,
    };
  }
}

/** Floats of one lane's scratch: a query record, then a batch of ids and one of keys. */
function laneScratchFloats(stride: number, m: number): number {
  return stride + 2 * (maxLinksLayer0(m) + 1);
}

/**
 * The same graph (links shared, not copied) over `quantization` records of its float32
 * vectors, in a new arena (`shared` for one made on a worker and posted back) with the same
 * lanes. The first `codedDims` coordinates are coded; any further graph coordinate (dot's MIPS
 * one) goes into each record's norm. Runs once per built segment, on whichever thread built it.
 */
export function quantizeGraph(
  graph: HnswGraph,
  quantization: Exclude<Quantization, 'none'>,
  codedDims: number,
  shared = false,
): HnswGraph {
  if (graph.quantization !== 'none') throw new Error(`graph is already ${graph.quantization}`);
  const data = { ...graph.toData(), quantization, codedDims };
  const stride = recordFloats(quantization, codedDims, graph.dims);
  const arena = new VectorArena(graph.count * stride + graph.lanes * laneScratchFloats(stride, graph.m), shared);
  const source = graph.vectors;
  for (let n = 0; n < graph.count; n++) {
    encodeRecord(quantization, source, n * graph.dims, codedDims, graph.dims, stride, arena, n * stride);
  }
  data.vectors = arena.floats.subarray(0, graph.count * stride);
  return new HnswGraph(data, arena, graph.lanes);
}

/**
 * The same graph with its arena and every array on shared memory, so other threads can search
 * it: `graph` itself when they already are (a flush's arena is), else copies of what is not.
 */
export function shareGraph(graph: HnswGraph): HnswGraph {
  const arrays = [graph.levels, graph.links0, graph.upperOffsets, graph.upperLinks];
  if (graph.arena.shared && arrays.every((a) => a.buffer instanceof SharedArrayBuffer)) return graph;
  let arena = graph.arena;
  if (!arena.shared) {
    arena = new VectorArena(graph.arena.floats.length, true);
    arena.floats.set(graph.arena.floats);
  }
  const data: HnswGraphData = {
    ...graph.toData(),
    vectors: arena.floats.subarray(0, graph.vectors.length),
    levels: sharedCopy(graph.levels),
    links0: sharedCopy(graph.links0),
    upperOffsets: sharedCopy(graph.upperOffsets),
    upperLinks: sharedCopy(graph.upperLinks),
  };
  return new HnswGraph(data, arena, graph.lanes);
}

/** mulberry32: a small, fast, seedable PRNG with a 2^32 period; uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Levels for `count` nodes: l = ⌊−ln(U) · mL⌋ with U uniform in (0, 1] (algorithm 1, line 4),
 * capped at MAX_LEVEL, from a PRNG seeded with `seed`.
 */
export function drawLevels(count: number, m: number, seed: number): Uint8Array {
  const next = mulberry32(seed);
  const mL = levelMultiplier(m);
  const levels = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const level = Math.floor(-Math.log(1 - next()) * mL);
    levels[n] = level > MAX_LEVEL ? MAX_LEVEL : level;
  }
  return levels;
}
