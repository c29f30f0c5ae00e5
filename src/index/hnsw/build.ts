/**
 * @module index/hnsw/build
 * Writing a graph: algorithm 1 (INSERT) with algorithm 4 (SELECT-NEIGHBORS-HEURISTIC), node by
 * node in id order, over vectors that are all known up front — a segment is immutable, so it
 * is built once from a snapshot (a flushed tail, or the live rows of merged segments) and never
 * inserted into afterwards. That lets the builder allocate every array once, at its final size.
 * It runs on whichever thread calls it; the index calls it from a worker (../lifecycle/).
 *
 * As in hnswlib, and deliberately unlike the paper's general form: the new node keeps M links
 * on every layer (Mmax0 = 2M is only the capacity of layer 0, which later back-links fill);
 * the next layer's search starts from the single closest node of W; algorithm 4 runs without
 * extendCandidates and keepPrunedConnections (section 4, they help only on special data).
 */
import type { Metric } from '../../core/index.ts';
import type { ArenaKernel, VectorArena } from '../kernels.ts';
import { HnswGraph, drawLevels } from './graph.ts';
import { DEFAULT_LEVEL_SEED, maxLinksLayer0, type HnswParams } from './params.ts';
import { HnswSearcher } from './search.ts';

/**
 * Builds a graph over the first `count` vectors (stored form) of `arena`, which the graph
 * keeps; node n is the vector at float n × dims. Deterministic for a given seed.
 */
export function buildGraph(
  dims: number,
  metric: Metric,
  arena: VectorArena,
  count: number,
  params: HnswParams,
  seed: number = DEFAULT_LEVEL_SEED,
): HnswGraph {
  const levels = drawLevels(count, params.m, seed);
  const graph = HnswGraph.allocate(dims, metric, params.m, params.efConstruction, arena, levels);
  const builder = new HnswBuilder(graph);
  for (let n = 0; n < count; n++) builder.insert(n);
  return graph;
}

/** Inserts nodes of an allocated graph one at a time; holds the scratch the inserts share. */
export class HnswBuilder {
  readonly graph: HnswGraph;
  readonly searcher: HnswSearcher;
  private readonly kernel: ArenaKernel;
  /** W of the current layer, nearest first. */
  private readonly wNodes: Int32Array;
  private readonly wKeys: Float64Array;
  /** Output of algorithm 4. */
  private readonly selected: Int32Array;
  /** A neighbour list being shrunk: its links plus the new one, with keys from its owner. */
  private readonly shrinkNodes: Int32Array;
  private readonly shrinkKeys: Float64Array;
  /** Algorithm 4's output while shrinking; separate from `selected`, which insert is walking. */
  private readonly shrinkOut: Int32Array;

  constructor(graph: HnswGraph) {
    // Links are chosen on float32 vectors; a quantized segment re-encodes them afterwards.
    if (graph.quantization !== 'none') throw new Error('graphs are built on float32 vectors');
    this.graph = graph;
    this.searcher = new HnswSearcher(graph);
    this.kernel = graph.kernels.kernel;
    const width = Math.max(graph.efConstruction, maxLinksLayer0(graph.m)) + 1;
    this.wNodes = new Int32Array(width);
    this.wKeys = new Float64Array(width);
    this.selected = new Int32Array(width);
    this.shrinkNodes = new Int32Array(maxLinksLayer0(graph.m) + 1);
    this.shrinkKeys = new Float64Array(maxLinksLayer0(graph.m) + 1);
    this.shrinkOut = new Int32Array(maxLinksLayer0(graph.m) + 1);
  }

  /** The ranking key between two nodes of the graph. */
  private nodeKey(a: number, b: number): number {
    const d = this.graph.dims;
    return this.kernel(a * d, b * d, d);
  }

  /** INSERT (algorithm 1) of node q, whose vector and level are already in the graph. */
  insert(q: number): void {
    const g = this.graph;
    const level = g.levels[q];
    if (g.entryPoint < 0) {
      g.entryPoint = q;
      g.maxLevel = level;
      return;
    }
    const searcher = this.searcher;
    const qOff = q * g.dims;
    let ep = g.entryPoint;
    let epKey = searcher.key(qOff, ep);
    // Lines 5-7: greedy descent through the layers above q's level.
    for (let layer = g.maxLevel; layer > level; layer--) {
      ep = searcher.greedyClosest(qOff, ep, epKey, layer);
      epKey = searcher.closestKey;
    }
    // Lines 8-17: on each of q's layers, find efConstruction candidates, link q to M of them.
    const wNodes = this.wNodes;
    const wKeys = this.wKeys;
    const selected = this.selected;
    for (let layer = Math.min(level, g.maxLevel); layer >= 0; layer--) {
      searcher.searchLayer(qOff, ep, epKey, g.efConstruction, layer, null, null);
      const found = searcher.results.drainNegated(wNodes, wKeys);
      const chosen = this.selectNeighbors(wNodes, wKeys, found, g.m, selected);
      const links = g.linkArray(layer);
      const base = g.linkBase(q, layer);
      links[base] = chosen;
      for (let i = 0; i < chosen; i++) links[base + 1 + i] = selected[i];
      for (let i = 0; i < chosen; i++) {
        const s = selected[i];
        let key = 0;
        for (let j = 0; j < found; j++) {
          if (wNodes[j] === s) {
            key = wKeys[j];
            break;
          }
        }
        this.addLink(s, q, key, layer);
      }
      ep = wNodes[0];
      epKey = wKeys[0];
    }
    if (level > g.maxLevel) {
      g.entryPoint = q;
      g.maxLevel = level;
    }
  }

  /**
   * SELECT-NEIGHBORS-HEURISTIC (algorithm 4) over candidates sorted nearest first: keep a
   * candidate only if it is closer to the base than to every neighbour kept so far, which
   * spreads links across directions instead of spending them on one cluster. Returns how
   * many of at most `max` nodes it wrote into `out`.
   */
  private selectNeighbors(nodes: Int32Array, keys: Float64Array, count: number, max: number, out: Int32Array): number {
    let kept = 0;
    for (let i = 0; i < count && kept < max; i++) {
      const e = nodes[i];
      const eKey = keys[i];
      let good = true;
      for (let j = 0; j < kept; j++) {
        if (this.nodeKey(e, out[j]) < eKey) {
          good = false;
          break;
        }
      }
      if (good) out[kept++] = e;
    }
    return kept;
  }

  /**
   * Adds the back-link s -> q on `layer` (algorithm 1, lines 12-16): appended while s has room,
   * otherwise s's links plus q are re-chosen by algorithm 4 with Mmax (2M on layer 0).
   */
  private addLink(s: number, q: number, keySQ: number, layer: number): void {
    const g = this.graph;
    const links = g.linkArray(layer);
    const base = g.linkBase(s, layer);
    const size = links[base];
    const capacity = layer === 0 ? maxLinksLayer0(g.m) : g.m;
    if (size < capacity) {
      links[base + 1 + size] = q;
      links[base] = size + 1;
      return;
    }
    const nodes = this.shrinkNodes;
    const keys = this.shrinkKeys;
    // Insertion sort by key from s: at most 2M + 1 entries.
    let n = 0;
    for (let i = 0; i <= size; i++) {
      const e = i < size ? links[base + 1 + i] : q;
      const k = i < size ? this.nodeKey(s, e) : keySQ;
      let j = n++;
      while (j > 0 && keys[j - 1] > k) {
        keys[j] = keys[j - 1];
        nodes[j] = nodes[j - 1];
        j--;
      }
      keys[j] = k;
      nodes[j] = e;
    }
    const out = this.shrinkOut;
    const kept = this.selectNeighbors(nodes, keys, n, capacity, out);
    links[base] = kept;
    for (let i = 0; i < kept; i++) links[base + 1 + i] = out[i];
  }
}
