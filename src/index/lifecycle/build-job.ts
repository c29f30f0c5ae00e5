/**
 * @module index/lifecycle/build-job
 * The contract between the index and whatever thread builds a segment's graph: a request (the
 * snapshot's vectors, already in stored form and row id order, in a shared {@link VectorArena}
 * plus the build parameters) and a result (the graph's link arrays, which are moved back, not
 * copied). The vectors never travel back: the arena is a SharedArrayBuffer-backed WebAssembly
 * memory both threads see, so the finished segment searches the very floats the worker linked.
 * {@link runBuildJob} is the same code the worker and the inline builder run.
 */
import type { Metric } from '../distance.ts';
import { buildGraph } from '../hnsw/build.ts';
import { VectorArena } from '../kernels.ts';

export interface BuildRequest {
  dims: number;
  metric: Metric;
  m: number;
  efConstruction: number;
  count: number;
  seed: number;
  /** Shared memory holding count × dims stored-form floats from float 0. */
  memory: WebAssembly.Memory;
}

export interface BuildResult {
  entryPoint: number;
  maxLevel: number;
  levels: Uint8Array;
  links0: Int32Array;
  upperOffsets: Int32Array;
  upperLinks: Int32Array;
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
  return {
    entryPoint: graph.entryPoint,
    maxLevel: graph.maxLevel,
    levels: graph.levels,
    links0: graph.links0,
    upperOffsets: graph.upperOffsets,
    upperLinks: graph.upperLinks,
    buildMs: performance.now() - started,
  };
}

/** The buffers of a result, to transfer rather than copy across threads. */
export function transferList(result: BuildResult): ArrayBuffer[] {
  return [result.levels.buffer, result.links0.buffer, result.upperOffsets.buffer, result.upperLinks.buffer] as ArrayBuffer[];
}
