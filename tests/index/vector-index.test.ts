/**
 * @module tests/index/vector-index.test
 * VectorIndex, the LSM-shaped index: a fast-check model test (insert / update / delete /
 * search / flush / merge / save+load, in any order, with background jobs interleaving) against
 * a Map plus brute force, for float32 and for int8 / int16 segments (re-ranked from the model's
 * vectors); searches while a flush or merge is held mid-build by a fail point,
 * on the inline builder and on the real worker thread; failed jobs lose nothing; age-triggered
 * flushes; stats; and save/load, including missing, corrupt and mismatched files.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VectorIndex, type Quantization, type VectorIndexOptions } from '../../src/index/index.ts';
import { type Metric } from '../../src/core/index.ts';
import { exactSearch } from '../../src/index/testing.ts';
import { clusteredVectors, mulberry32, uniformVectors } from './helpers.ts';

const DIMS = 8;
let root: string;
let dirCount = 0;
const freshDir = () => path.join(root, `index-${++dirCount}`);

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'quiver-vindex-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function vectorFor(seed: number): number[] {
  return uniformVectors(seed, 1, DIMS)[0];
}

/** The index must answer exactly like brute force over the model (small data, large ef). */
function expectMatchesModel(index: VectorIndex, model: Map<number, number[]>, metric: Metric, query: number[], k: number, filter?: (r: number) => boolean): void {
  const got = index.search(query, { k, efSearch: 400, filter });
  const truth = exactSearch(model.entries(), query, metric, k, filter);
  expect(got.map((h) => h.rowId)).toEqual(truth.map((h) => h.rowId));
  for (let i = 0; i < got.length; i++) expect(Math.abs(got[i].distance - truth[i].distance)).toBeLessThan(1e-5);
}

function expectSameRows(index: VectorIndex, model: Map<number, number[]>): void {
  expect(index.size).toBe(model.size);
  const stats = index.stats();
  expect(stats.rows).toBe(model.size);
  expect(stats.indexedRows + stats.tailRows).toBe(model.size);
  for (const rowId of model.keys()) expect(index.has(rowId)).toBe(true);
}

describe('model test: any interleaving of operations answers like a Map plus brute force', () => {
  // Quantized indexes too: their answers are re-ranked from the model's float32 vectors, so
  // they must be exact here as well (small data, large ef: the graph walk sees every row).
  const cases = (['cosine', 'euclidean', 'dot'] as Metric[]).flatMap((metric) =>
    (['none', 'int8', 'int16'] as Quantization[]).map((quantization) => ({ metric, quantization })),
  );
  for (const { metric, quantization } of cases) {
    it(`${metric}${quantization === 'none' ? '' : `, ${quantization}`}`, async () => {
      type Model = { rows: Map<number, number[]> };
      type Real = { index: VectorIndex; options: VectorIndexOptions };
      const rowId = fc.integer({ min: 0, max: 80 });

      const insert = fc.tuple(rowId, fc.integer()).map(
        ([id, seed]): fc.AsyncCommand<Model, Real> => ({
          check: () => true,
          run: async (m, r) => {
            const v = vectorFor(seed);
            r.index.insert(id, v);
            m.rows.set(id, v);
          },
          toString: () => `insert(${id}, #${seed})`,
        }),
      );
      const remove = rowId.map(
        (id): fc.AsyncCommand<Model, Real> => ({
          check: () => true,
          run: async (m, r) => {
            expect(r.index.delete(id)).toBe(m.rows.delete(id));
          },
          toString: () => `delete(${id})`,
        }),
      );
      const search = fc.tuple(fc.integer(), fc.integer({ min: 1, max: 12 }), fc.constantFrom('none', 'odd', 'few')).map(
        ([seed, k, filterKind]): fc.AsyncCommand<Model, Real> => ({
          check: () => true,
          run: async (m, r) => {
            const filter = filterKind === 'odd' ? (x: number) => x % 2 === 1 : filterKind === 'few' ? (x: number) => x % 17 === 3 : undefined;
            expectMatchesModel(r.index, m.rows, metric, vectorFor(seed), k, filter);
          },
          toString: () => `search(#${seed}, k=${k}, ${filterKind})`,
        }),
      );
      const flush = fc.constant<fc.AsyncCommand<Model, Real>>({
        check: () => true,
        run: async (m, r) => {
          await r.index.flushNow();
          expect(r.index.stats().tailRows).toBe(0);
          expectSameRows(r.index, m.rows);
        },
        toString: () => 'flushNow()',
      });
      const merge = fc.boolean().map(
        (all): fc.AsyncCommand<Model, Real> => ({
          check: () => true,
          run: async (m, r) => {
            await r.index.mergeNow({ all });
            if (all) expect(r.index.stats().segments.length).toBeLessThanOrEqual(1);
            expectSameRows(r.index, m.rows);
          },
          toString: () => `mergeNow(${all ? 'all' : 'policy'})`,
        }),
      );
      const restart = fc.constant<fc.AsyncCommand<Model, Real>>({
        check: () => true,
        run: async (m, r) => {
          const dir = freshDir();
          await r.index.save(dir, { sequence: m.rows.size });
          await r.index.close();
          const loaded = await VectorIndex.load(dir, r.options);
          expect(loaded.problems).toEqual([]);
          expect(loaded.meta).toEqual({ sequence: m.rows.size });
          r.index = loaded.index;
          expectSameRows(r.index, m.rows);
        },
        toString: () => 'save+load',
      });

      await fc.assert(
        fc.asyncProperty(fc.commands([insert, insert, insert, remove, search, search, flush, merge, restart], { maxCommands: 60, size: 'max' }), async (cmds) => {
          const rows = new Map<number, number[]>();
          const options: VectorIndexOptions = {
            dims: DIMS,
            metric,
            quantization,
            originals: (rowId) => rows.get(rowId),
            builder: 'inline',
            flushRows: 7,
            mergePolicy: { minSegments: 3, minLevelRows: 4, maxDeletedFraction: 0.3 },
            m: 8,
            efConstruction: 32,
          };
          const real: Real = { index: new VectorIndex(options), options };
          try {
            await fc.asyncModelRun(() => ({ model: { rows }, real }), cmds);
            // Let queued background work finish: nothing may be left behind in the tail.
            await real.index.flushNow();
            await real.index.mergeNow();
            expect(real.index.stats().tailRows).toBe(0);
          } finally {
            await real.index.close();
          }
        }),
        { numRuns: quantization === 'none' ? 60 : 30 },
      );
    });
  }
});

/** A promise that a fail point awaits, released by the test. */
function gate(): { wait: () => Promise<void>; open: () => void; reached: Promise<void> } {
  let open!: () => void;
  let reachedResolve!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const reached = new Promise<void>((resolve) => (reachedResolve = resolve));
  return {
    wait: () => {
      reachedResolve();
      return opened;
    },
    open: () => open(),
    reached,
  };
}

describe('searches while a flush or merge is running', () => {
  for (const builder of ['inline', 'worker'] as const) {
    it(`${builder}: every row is found exactly once, before, during and after; deletes during the build stay deleted`, async () => {
      const flushGate = gate();
      const mergeGate = gate();
      const index = new VectorIndex({
        dims: DIMS,
        metric: 'euclidean',
        builder,
        autoMaintain: false,
        failPoints: { 'flush:before-install': flushGate.wait, 'merge:before-install': mergeGate.wait },
      });
      const model = new Map<number, number[]>();
      const vectors = clusteredVectors(71, 3000, DIMS);
      const check = () => {
        expectSameRows(index, model);
        const next = mulberry32(model.size);
        const ids = [...model.keys()];
        for (let t = 0; t < 20; t++) {
          const id = ids[Math.floor(next() * ids.length)];
          const hits = index.search(model.get(id)!, { k: 3, filter: (r) => r === id });
          expect(hits.map((h) => h.rowId)).toEqual([id]);
        }
        const few = new Set(ids.filter((r) => r % 97 === 5));
        expect(new Set(index.search(vectors[0], { k: 50, filter: (r) => few.has(r) }).map((h) => h.rowId))).toEqual(few);
      };
      for (let i = 0; i < 1500; i++) {
        index.insert(i, vectors[i]);
        model.set(i, vectors[i]);
      }
      const flushing = index.flushNow();
      await flushGate.reached;
      expect(index.stats().build?.kind).toBe('flush');
      check();
      // During the build: delete frozen rows, update some, insert new ones.
      for (let i = 0; i < 1500; i += 10) {
        index.delete(i);
        model.delete(i);
      }
      for (let i = 1; i < 1500; i += 50) {
        index.insert(i, vectors[2999 - i]);
        model.set(i, vectors[2999 - i]);
      }
      for (let i = 1500; i < 2000; i++) {
        index.insert(i, vectors[i]);
        model.set(i, vectors[i]);
      }
      check();
      flushGate.open();
      await flushing;
      check();
      expect(index.stats().segments).toHaveLength(1);
      expect(index.stats().segments[0].aliveRows).toBe(1500 - 150 - 30);
      await index.flushNow();
      check();
      const merging = index.mergeNow({ all: true });
      await mergeGate.reached;
      expect(index.stats().build?.kind).toBe('merge');
      for (let i = 3; i < 2000; i += 13) {
        index.delete(i);
        model.delete(i);
      }
      check();
      mergeGate.open();
      await merging;
      check();
      const stats = index.stats();
      expect(stats.segments).toHaveLength(1);
      expect(stats.segments[0].rows).toBe(stats.segments[0].aliveRows + stats.segments[0].rows - stats.segments[0].aliveRows);
      for (const q of clusteredVectors(72, 5, DIMS)) expectMatchesModel(index, model, 'euclidean', q, 10, (r) => r % 3 === 0);
      await index.close();
    });
  }

  it('a flush that fails loses no row; the next one succeeds', async () => {
    let fail = true;
    const index = new VectorIndex({
      dims: DIMS,
      metric: 'cosine',
      builder: 'inline',
      autoMaintain: false,
      failPoints: {
        'flush:before-install': () => {
          if (fail) throw new Error('injected');
        },
      },
    });
    const model = new Map<number, number[]>();
    for (let i = 0; i < 200; i++) {
      index.insert(i, vectorFor(i));
      model.set(i, vectorFor(i));
    }
    await expect(index.flushNow()).rejects.toThrow('injected');
    expect(index.stats().lastError).toContain('injected');
    expect(index.stats().segments).toHaveLength(0);
    expect(index.stats().tailRows).toBe(200);
    expectSameRows(index, model);
    expectMatchesModel(index, model, 'cosine', vectorFor(999), 10);
    fail = false;
    await index.flushNow();
    expect(index.stats().segments).toHaveLength(1);
    expectMatchesModel(index, model, 'cosine', vectorFor(999), 10);
    await index.close();
  });

  it('a merge that fails keeps its sources', async () => {
    const index = new VectorIndex({
      dims: DIMS,
      metric: 'dot',
      builder: 'inline',
      autoMaintain: false,
      failPoints: {
        'merge:before-build': () => {
          throw new Error('no merge today');
        },
      },
    });
    const model = new Map<number, number[]>();
    for (let i = 0; i < 300; i++) {
      index.insert(i, vectorFor(i));
      model.set(i, vectorFor(i));
      if (i % 100 === 99) await index.flushNow();
    }
    await expect(index.mergeNow({ all: true })).rejects.toThrow('no merge today');
    expect(index.stats().segments).toHaveLength(3);
    expectSameRows(index, model);
    expectMatchesModel(index, model, 'dot', vectorFor(1234), 10);
    await index.close();
  });
});

describe('background maintenance', () => {
  it('flushes on row count and on age, on the worker, and reports lag', async () => {
    const index = new VectorIndex({ dims: DIMS, metric: 'euclidean', flushRows: 500, flushAgeMs: 200 });
    for (let i = 0; i < 499; i++) index.insert(i, vectorFor(i));
    let stats = index.stats();
    expect(stats.lagRows).toBe(499);
    expect(stats.builder).toBe('worker');
    index.insert(499, vectorFor(499));
    for (let i = 500; i < 520; i++) index.insert(i, vectorFor(i));
    const deadline = Date.now() + 20_000;
    while (index.stats().tailRows > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    stats = index.stats();
    expect(stats.tailRows).toBe(0);
    expect(stats.lagSeconds).toBe(0);
    expect(stats.indexedRows).toBe(520);
    expect(stats.segments.length).toBeGreaterThanOrEqual(1);
    await index.close();
  });

  it('merges by policy as segments accumulate', async () => {
    const index = new VectorIndex({ dims: DIMS, metric: 'cosine', builder: 'inline', flushRows: 50, mergePolicy: { minSegments: 3, minLevelRows: 10 } });
    for (let i = 0; i < 1000; i++) {
      index.insert(i, vectorFor(i));
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 1));
    }
    await index.flushNow();
    await index.mergeNow();
    expect(index.stats().segments.length).toBeLessThan(6);
    expect(index.size).toBe(1000);
    await index.close();
  });
});

describe('save and load', () => {
  async function savedIndex(metric: Metric = 'cosine'): Promise<{ dir: string; model: Map<number, number[]>; options: VectorIndexOptions }> {
    const options: VectorIndexOptions = { dims: DIMS, metric, builder: 'inline', autoMaintain: false };
    const index = new VectorIndex(options);
    const model = new Map<number, number[]>();
    for (let i = 0; i < 600; i++) {
      index.insert(i * 2, vectorFor(i));
      model.set(i * 2, vectorFor(i));
      if (i === 199 || i === 399) await index.flushNow();
    }
    for (let i = 0; i < 600; i += 9) {
      index.delete(i * 2);
      model.delete(i * 2);
    }
    const dir = freshDir();
    await index.save(dir, { lastSequence: 42 });
    await index.close();
    return { dir, model, options };
  }

  it('round trip: same rows, same answers, same stats shape, meta returned', async () => {
    const { dir, model, options } = await savedIndex();
    const { index, problems, meta } = await VectorIndex.load(dir, options);
    expect(problems).toEqual([]);
    expect(meta).toEqual({ lastSequence: 42 });
    expectSameRows(index, model);
    expect(index.stats().segments).toHaveLength(2);
    const tailRows = Array.from({ length: 200 }, (_, j) => 400 + j).filter((i) => i % 9 !== 0).length;
    expect(index.stats().tailRows).toBe(tailRows);
    for (const q of uniformVectors(5, 5, DIMS)) expectMatchesModel(index, model, 'cosine', q, 10);
    // New rows after a load go on as usual.
    index.insert(100_001, vectorFor(100_001));
    await index.flushNow();
    expect(index.has(100_001)).toBe(true);
    await index.close();
  });

  it('a second save rewrites only changed segments and removes files no longer named', async () => {
    const index = new VectorIndex({ dims: DIMS, metric: 'euclidean', builder: 'inline', autoMaintain: false });
    for (let i = 0; i < 300; i++) {
      index.insert(i, vectorFor(i));
      if (i % 100 === 99) await index.flushNow();
    }
    const dir = freshDir();
    await index.save(dir);
    const before = await fs.stat(path.join(dir, 'segment-1.qvs'));
    const before2 = await fs.stat(path.join(dir, 'segment-2.qvs'));
    index.delete(150);
    await new Promise((r) => setTimeout(r, 20));
    await index.save(dir);
    expect((await fs.stat(path.join(dir, 'segment-1.qvs'))).mtimeMs).toBe(before.mtimeMs);
    expect((await fs.stat(path.join(dir, 'segment-2.qvs'))).mtimeMs).not.toBe(before2.mtimeMs);
    await index.mergeNow({ all: true });
    await index.save(dir);
    const files = (await fs.readdir(dir)).sort();
    expect(files).toEqual(['manifest.json', 'segment-4.qvs']);
    await index.close();
  });

  it('a corrupt segment, a missing one, a missing manifest and a mismatch are reported, not thrown', async () => {
    const { dir, model, options } = await savedIndex();
    const manifest = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'));
    const [first, second] = manifest.segments.map((s: { file: string }) => s.file);
    const bytes = await fs.readFile(path.join(dir, first));
    bytes[bytes.length >> 1] ^= 0xff;
    await fs.writeFile(path.join(dir, first), bytes);
    let loaded = await VectorIndex.load(dir, options);
    expect(loaded.problems).toEqual([expect.objectContaining({ file: first, kind: 'corrupt' })]);
    // What could be read is there; the caller re-inserts what has() does not know.
    const missing = [...model.keys()].filter((r) => !loaded.index.has(r));
    expect(missing.length).toBeGreaterThan(0);
    for (const r of missing) loaded.index.insert(r, model.get(r)!);
    expectSameRows(loaded.index, model);
    await loaded.index.close();

    await fs.rm(path.join(dir, second));
    loaded = await VectorIndex.load(dir, options);
    expect(loaded.problems.map((p) => [p.file, p.kind])).toEqual([
      [first, 'corrupt'],
      [second, 'missing'],
    ]);
    await loaded.index.close();

    loaded = await VectorIndex.load(dir, { ...options, dims: DIMS + 1 });
    expect(loaded.problems).toEqual([expect.objectContaining({ file: 'manifest.json', kind: 'mismatch' })]);
    expect(loaded.index.size).toBe(0);
    await loaded.index.close();

    await fs.writeFile(path.join(dir, 'manifest.json'), '{"format": "quiver-vector-index", "trunc');
    loaded = await VectorIndex.load(dir, options);
    expect(loaded.problems).toEqual([expect.objectContaining({ file: 'manifest.json', kind: 'corrupt' })]);
    await loaded.index.close();

    loaded = await VectorIndex.load(freshDir(), options);
    expect(loaded.problems).toEqual([expect.objectContaining({ file: 'manifest.json', kind: 'missing' })]);
    await loaded.index.close();
  });
});

describe('errors', () => {
  it('rejects wrong dimensions, non-finite values, bad k and bad row ids, changing nothing', async () => {
    const index = new VectorIndex({ dims: 3, metric: 'euclidean', builder: 'inline', autoMaintain: false });
    index.insert(1, [1, 2, 3]);
    expect(() => index.insert(1, [1, 2])).toThrow(expect.objectContaining({ code: 'DIMENSION_MISMATCH' }));
    expect(() => index.insert(1, [1, Number.NaN, 3])).toThrow(expect.objectContaining({ code: 'INVALID_VECTOR' }));
    expect(() => index.insert(1, [1, 1e39, 3])).toThrow(expect.objectContaining({ code: 'INVALID_VECTOR' }));
    expect(() => index.insert(1.5, [1, 2, 3])).toThrow(expect.objectContaining({ code: 'PARAMETER_ERROR' }));
    expect(() => index.search([1, 2, 3], { k: 0 })).toThrow(expect.objectContaining({ code: 'PARAMETER_ERROR' }));
    expect(() => index.search([1, 2, 3], { k: 1, efSearch: 5000 })).toThrow(expect.objectContaining({ code: 'PARAMETER_ERROR' }));
    expect(() => index.search([1, 2], { k: 1 })).toThrow(expect.objectContaining({ code: 'DIMENSION_MISMATCH' }));
    expect(index.search([1, 2, 3], { k: 5 })).toEqual([{ rowId: 1, distance: 0 }]);
    expect(() => new VectorIndex({ dims: 3, metric: 'cosine', m: 1 })).toThrow(expect.objectContaining({ code: 'PARAMETER_ERROR' }));
    await index.close();
    expect(() => index.insert(2, [1, 2, 3])).toThrow('closed');
  });
});
