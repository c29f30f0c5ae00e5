/**
 * @module index/lifecycle/build-job
 * The contract between the index and whatever thread builds a segment's graph: a request (the
 * snapshot's vectors, already in stored form and row id order, in a shared {@link VectorArena}
 * plus the build parameters) and a result (the graph's link arrays, which are moved back, not
 * copied). The vectors never travel back: the arena is a SharedArrayBuffer-backed WebAssembly
 * memory both threads see, so the finished segment searches the very floats the worker linked.
 * A quantized segment is linked on those float32 vectors too, then the worker encodes them
 * into records in a second shared memory that the segment keeps instead (the float32 arena is
 * dropped once the segment is installed).
 * {@link runBuildJob} is the same code the worker and the inline builder run.
 */
import type { Metric } from '../../core/index.ts';
import { buildGraph } from '../hnsw/build.ts';
import { quantizeGraph } from '../hnsw/graph.ts';
import { VectorArena } from '../kernels.ts';
import type { Quantization } from '../quantization.ts';

export interface BuildRequest {
  dims: number;
  metric: Metric;
  m: number;
  efConstruction: number;
  count: number;
  seed: number;
  /** Shared memory holding count × dims stored-form floats from float 0. */
  memory: WebAssembly.Memory;
  /** How the segment keeps its vectors once linked. */
  quantization: Quantization;
  /** Coordinates the records code (the rows' dims; dims − 1 of the graph's for dot). */
  codedDims: number;
}

export interface BuildResult {
  entryPoint: number;
  maxLevel: number;
  levels: Uint8Array;
  links0: Int32Array;
  upperOffsets: Int32Array;
  upperLinks: Int32Array;
  /** Quantized only: shared memory holding count × stride floats of records from float 0. */
  records: WebAssembly.Memory | null;
  /** Wall time of the build itself, in milliseconds. */
  buildMs: number;
}

/** Builds the graph for `request` on the calling thread. */
export function runBuildJob(request: BuildRequest): BuildResult {
  const started = performance.now();
  const arena = VectorArena.fromMemory(request.memory, true);
  const graph = buildGraph(
    request.dims,
    request.metric,
    arena,
    request.count,
    { m: request.m, efConstruction: request.efConstruction },
    request.seed,
  );
  const records =
    request.quantization === 'none' ? null : quantizeGraph(graph, request.quantization, request.codedDims, true).arena.memory;
  return {
    entryPoint: graph.entryPoint,
    maxLevel: graph.maxLevel,
    levels: graph.levels,
    links0: graph.links0,
    upperOffsets: graph.upperOffsets,
    upperLinks: graph.upperLinks,
    records,
    buildMs: performance.now() - started,
  };
}

/** The buffers of a result, to transfer rather than copy across threads. */
export function transferList(result: BuildResult): ArrayBuffer[] {
  return [result.levels.buffer, result.links0.buffer, result.upperOffsets.buffer, result.upperLinks.buffer] as ArrayBuffer[];
}
