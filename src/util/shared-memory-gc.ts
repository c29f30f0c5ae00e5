/**
 * @module util/shared-memory-gc
 * Makes a thread collect its garbage soon after it let go of shared memory (SharedArrayBuffers,
 * shared WebAssembly memories) that other threads allocated. Such a buffer is freed only once
 * every thread holding a wrapper for it has collected that wrapper, and V8 counts shared
 * buffers towards no thread's external memory, so their size never prompts a collection: a
 * read worker, which allocates little, kept the merged-away segments of the vector indexes
 * alive for minutes (the soak's server memory kept climbing: BENCHMARKS.md, soak).
 *
 * Node has no supported call that just runs a collection, but `vm.measureMemory` with eager
 * execution starts one right away (its documented behaviour; it measures during that
 * collection's marking). A request runs it after the current macrotask — the reply to the read
 * already posted — and at most once per `minIntervalMs`, so a thread that lets go of memory on
 * every read still spends only a few milliseconds a second on it.
 */
import vm from 'node:vm';

export class SharedMemoryCollector {
  private pending = false;
  private last = -Infinity;

  /** `minIntervalMs`: the least time between two collections (default a second). */
  constructor(private readonly minIntervalMs = 1000) {
    quietMeasureMemoryWarning();
  }

  /** Asks for a collection; requests before it runs are one request. */
  request(): void {
    if (this.pending) return;
    this.pending = true;
    const wait = Math.max(0, this.last + this.minIntervalMs - performance.now());
    setTimeout(() => this.collect(), wait).unref();
  }

  private collect(): void {
    vm.measureMemory({ execution: 'eager' })
      .catch(() => {})
      .finally(() => {
        this.pending = false;
        this.last = performance.now();
      });
  }
}

/**
 * vm.measureMemory prints a warning that it is experimental on its first use in each thread;
 * the thread's warning listeners (Node's printer among them) pass on every other warning.
 */
function quietMeasureMemoryWarning(): void {
  for (const listener of process.listeners('warning')) {
    process.off('warning', listener);
    process.on('warning', (warning) => {
      if (warning.name !== 'ExperimentalWarning' || !warning.message.startsWith('vm.measureMemory')) listener(warning);
    });
  }
}
