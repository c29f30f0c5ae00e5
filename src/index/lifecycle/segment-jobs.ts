/**
 * @module index/lifecycle/segment-jobs
 * What a flush (./flush.ts) and a merge (./merge.ts) of one index share: the numbering of its
 * segments, the record of the running job and of the last failure that stats report, and the
 * step both take — link a snapshot's vectors into a graph on the builder (./builder.ts) between
 * the stage's fail points, then hand it over to be installed. A load makes its segments here
 * too, so that a shareable index puts every segment on shared memory the same way. One per
 * index, used on the index's thread only.
 */
import type { Metric } from '../../core/index.ts';
import { HnswGraph, shareGraph } from '../hnsw/graph.ts';
import { VectorArena } from '../kernels.ts';
import { recordFloats, type Quantization } from '../quantization.ts';
import type { AliveBitSet } from '../segment/alive-bitset.ts';
import { Segment } from '../segment/segment.ts';
import { sharedCopy } from '../shared-arrays.ts';
import { graphDims, graphMetric } from '../space.ts';
import type { BuildRequest, BuildResult } from './build-job.ts';
import type { GraphBuilder } from './builder.ts';
import { Tail } from './tail.ts';

/** Named points where tests can hold or fail a job (Tantivy's fail points). */
export type FailPoint = 'flush:before-build' | 'flush:before-install' | 'merge:before-build' | 'merge:before-install';

/** Test hooks run at named points of a job; a throw fails the job as a crash there would. */
export type FailPoints = Partial<Record<FailPoint, () => void | Promise<void>>>;

export type JobKind = 'flush' | 'merge';

/** The settings of an index that its tails and segments are made with. */
export interface SegmentSettings {
  readonly dims: number;
  readonly metric: Metric;
  readonly m: number;
  readonly efConstruction: number;
  readonly quantization: Quantization;
  /** Base seed of level generation; segment s uses seed + s, so rebuilds are reproducible. */
  readonly seed: number;
  readonly searchLanes: number;
  readonly shareable: boolean;
}

export class SegmentJobs {
  /** The job between its start and its install or failure. */
  running: { kind: JobKind; rows: number; startedAt: number } | null = null;
  lastError: string | null = null;
  private nextId = 1;

  constructor(
    readonly settings: SegmentSettings,
    private readonly builder: GraphBuilder,
    private readonly failPoints: FailPoints,
    /** Whether the index is closed: a job checks before it starts and before it installs. */
    private readonly isClosed: () => boolean,
  ) {}

  get closed(): boolean {
    return this.isClosed();
  }

  /** The id the next segment will take (the manifest keeps it). */
  get nextSegmentId(): number {
    return this.nextId;
  }

  /** Takes the next segment id; ids only grow, so no two segments of the index share one. */
  takeId(): number {
    return this.nextId++;
  }

  /** Hands out no id below `id` from now on (loaded segments and manifests hold theirs). */
  skipIdsBelow(id: number): void {
    this.nextId = Math.max(this.nextId, id);
  }

  newTail(): Tail {
    const { dims, metric, searchLanes, shareable } = this.settings;
    return new Tail(dims, metric, searchLanes, shareable);
  }

  /** A segment to install; a shareable index first moves whatever is not on shared memory there. */
  segment(id: number, graph: HnswGraph, rowIds: Float64Array, alive: AliveBitSet): Segment {
    if (this.settings.shareable) {
      graph = shareGraph(graph);
      rowIds = sharedCopy(rowIds);
    }
    return new Segment(id, graph, rowIds, alive, this.settings.metric);
  }

  /** Runs `job` as the running `kind` over `rows` rows; a failure is kept in lastError and rethrown. */
  async track(kind: JobKind, rows: number, job: () => Promise<void>): Promise<void> {
    this.running = { kind, rows, startedAt: Date.now() };
    try {
      await job();
    } catch (e) {
      this.lastError = `${kind} failed: ${e instanceof Error ? e.message : String(e)}`;
      throw e;
    } finally {
      this.running = null;
    }
  }

  /**
   * Links the `count` stored-form vectors at the start of `arena` into the graph of segment `id`
   * on the builder, between `stage`'s fail points, and passes it to `install` in the same
   * synchronous step that finds the index still open.
   */
  async link(stage: JobKind, arena: VectorArena, count: number, id: number, install: (graph: HnswGraph) => void): Promise<void> {
    await this.failPoint(`${stage}:before-build`);
    const result = await this.builder.build(this.request(arena, count, id));
    await this.failPoint(`${stage}:before-install`);
    if (this.closed) throw new Error(`the vector index closed during a ${stage}`);
    install(this.graphFrom(arena, count, result));
  }

  /** Stops the builder's thread, if it has one. */
  close(): Promise<void> {
    return this.builder.close();
  }

  private async failPoint(point: FailPoint): Promise<void> {
    const hook = this.failPoints[point];
    if (hook !== undefined) await hook();
  }

  private request(arena: VectorArena, count: number, id: number): BuildRequest {
    const { dims, metric, m, efConstruction, quantization, seed } = this.settings;
    return {
      dims: graphDims(metric, dims),
      metric: graphMetric(metric),
      m,
      efConstruction,
      count,
      seed: (seed + id) >>> 0,
      memory: arena.memory,
      quantization,
      codedDims: dims,
    };
  }

  private graphFrom(arena: VectorArena, count: number, result: BuildResult): HnswGraph {
    const { metric, m, efConstruction, searchLanes } = this.settings;
    const dims = graphDims(metric, this.settings.dims);
    // A quantized build hands back its records in their own memory; the float32 arena it was
    // linked on is dropped with the snapshot.
    const quantization = result.records === null ? 'none' : this.settings.quantization;
    if (result.records !== null) arena = VectorArena.fromMemory(result.records, true);
    const stride = recordFloats(quantization, this.settings.dims, dims);
    return new HnswGraph(
      {
        dims,
        metric: graphMetric(metric),
        m,
        efConstruction,
        count,
        quantization,
        codedDims: this.settings.dims,
        entryPoint: result.entryPoint,
        maxLevel: result.maxLevel,
        vectors: arena.floats.subarray(0, count * stride),
        levels: result.levels,
        links0: result.links0,
        upperOffsets: result.upperOffsets,
        upperLinks: result.upperLinks,
      },
      arena,
      searchLanes,
    );
  }
}
