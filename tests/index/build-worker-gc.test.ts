/**
 * The graph build worker (src/index/lifecycle/build-worker.ts) lets go of each job's shared
 * memory: it collects its garbage after jobs, so a busy index, whose worker is never idle long
 * enough to be stopped, does not keep every arena it ever built alive. Observed the way the soak
 * saw it, as WebAssembly memory reservations in this process's address space (/proc/self/maps,
 * as on the Linux machines Quiver runs and is tested on; each test file runs in its own process,
 * vitest's forks pool).
 */
import fs from 'node:fs';
import vm from 'node:vm';
import { expect, it } from 'vitest';
import type { BuildRequest } from '../../src/index/lifecycle/build-job.ts';
import { WorkerBuilder } from '../../src/index/lifecycle/builder.ts';
import { VectorArena } from '../../src/index/kernels.ts';

const MAPS = '/proc/self/maps';
const GiB = 2 ** 30;
const DIMS = 8;
const COUNT = 200;

/** Mappings of at least 1 GiB: what V8 reserves for each WebAssembly memory. */
function reservations(): number {
  return fs
    .readFileSync(MAPS, 'utf8')
    .split('\n')
    .filter((line) => {
      const [start, end] = line.split(' ')[0].split('-').map((h) => Number.parseInt(h, 16));
      return end - start >= GiB;
    }).length;
}

function request(seed: number): BuildRequest {
  const arena = new VectorArena(COUNT * DIMS + DIMS, true);
  for (let i = 0; i < COUNT * DIMS; i++) arena.floats[i] = Math.sin(seed * 7919 + i);
  return { dims: DIMS, metric: 'euclidean', m: 8, efConstruction: 32, count: COUNT, seed, memory: arena.memory, quantization: 'none', codedDims: DIMS };
}

/** This thread's garbage, collected now (vm.measureMemory eager starts a full collection). */
async function collectHere(): Promise<void> {
  await vm.measureMemory({ execution: 'eager' }).catch(() => {});
}

it('a busy build worker does not keep the memories of its finished jobs alive', async () => {
  // Idle for a minute before stopping: the worker must let go of the memories while it runs.
  const builder = new WorkerBuilder(60_000);
  try {
    await builder.build(request(0)); // the worker is up, its first collection done
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await collectHere();
    const before = reservations();
    for (let seed = 1; seed <= 6; seed++) await builder.build(request(seed));
    let after = Infinity;
    for (let waited = 0; waited < 10_000; waited += 100) {
      await collectHere();
      after = reservations();
      if (after <= before) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(after).toBeLessThanOrEqual(before);
  } finally {
    await builder.close();
  }
});
