/**
 * Views of a shareable VectorIndex (exportView + IndexViewReader): in this thread and in a real
 * worker thread that receives views by postMessage, a view answers exactly what index.search
 * answered when it was exported — same rows, order and distances — for every metric and
 * quantization, with segments, a frozen tail, the tail, deletes, updates and filters; and it
 * keeps doing so whatever the owner does afterwards (inserts, deletes, flush, merge, tail
 * compaction, close), including while the owner keeps changing the index under a worker that
 * searches view after view. Plus the errors: lanes, quantized views without originals, an
 * index that is not shareable.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IndexViewReader, VectorIndex, type IndexViewData, type Quantization, type VectorHit, type VectorIndexOptions } from '../../src/index/index.ts';
import { type Metric } from '../../src/core/index.ts';
import { startTsWorker } from '../../src/util/ts-worker.ts';
import { clusteredVectors, uniformVectors } from './helpers.ts';
import { filterFrom, type FilterSpec, type ViewRequest, type ViewResponse } from './view-protocol.ts';

const DIMS = 8;
const K = 10;
/** Small enough that the graph walk does not see every node: the searches are approximate. */
const EF = 16;
const LANES = 3;
const QUERIES = uniformVectors(4242, 12, DIMS);
const FILTERS: (FilterSpec | null)[] = [
  null,
  { kind: 'mod', mod: 3 },
  { kind: 'bitset', rowIds: Array.from({ length: 1200 }, (_, i) => i * 5) },
];
const CASES = (['cosine', 'euclidean', 'dot'] as Metric[]).flatMap((metric) =>
  (['none', 'int8', 'int16'] as Quantization[]).map((quantization) => ({ metric, quantization })),
);

/** A worker thread searching views on one lane. */
class ViewWorker {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (answers: VectorHit[][]) => void; reject: (e: Error) => void }>();

  constructor(lane: number) {
    this.worker = startTsWorker(new URL('./view-worker.ts', import.meta.url), { lane });
    this.worker.on('message', (message: ViewResponse) => {
      const job = this.pending.get(message.id);
      this.pending.delete(message.id);
      if ('error' in message) job?.reject(new Error(message.error));
      else job?.resolve(message.answers);
    });
    this.worker.on('error', (e) => {
      for (const job of this.pending.values()) job.reject(e);
      this.pending.clear();
    });
  }

  search(view: IndexViewData, filter: FilterSpec | null, originals: Map<number, number[]>): Promise<VectorHit[][]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const request: ViewRequest = { id, view, queries: QUERIES, k: K, efSearch: EF, filter, originals };
      this.worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

let worker: ViewWorker;
let root: string;

beforeAll(async () => {
  worker = new ViewWorker(LANES - 1);
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'quiver-views-'));
});
afterAll(async () => {
  await worker.close();
  await fs.rm(root, { recursive: true, force: true });
});

/** An index and the model of its rows (the originals a quantized index re-ranks from). */
class Table {
  readonly rows = new Map<number, number[]>();
  readonly index: VectorIndex;
  /** While set, a flush waits before its build: its rows stay in the frozen tail. */
  hold: Promise<void> | null = null;

  constructor(metric: Metric, quantization: Quantization, options: Partial<VectorIndexOptions> = {}) {
    this.index = new VectorIndex({
      dims: DIMS,
      metric,
      quantization,
      originals: (rowId) => this.rows.get(rowId),
      shareable: true,
      searchLanes: LANES,
      builder: 'inline',
      autoMaintain: false,
      failPoints: { 'flush:before-build': () => this.hold ?? undefined },
      ...options,
    });
  }

  put(rowId: number, vector: number[]): void {
    this.rows.set(rowId, vector);
    this.index.insert(rowId, vector);
  }

  remove(rowId: number): void {
    this.rows.delete(rowId);
    this.index.delete(rowId);
  }
}

/** A view with the answers index.search gave for it, per filter, and the originals then. */
interface Captured {
  view: IndexViewData;
  answers: VectorHit[][][];
  originals: Map<number, number[]>;
}

function capture({ index, rows }: { index: VectorIndex; rows: Map<number, number[]> }): Captured {
  const view = index.exportView();
  const answers = FILTERS.map((spec) => {
    const filter = filterFrom(spec);
    return QUERIES.map((q) => index.search(q, { k: K, efSearch: EF, filter }));
  });
  return { view, answers, originals: new Map(rows) };
}

/** The originals the in-thread reader re-ranks from: those of the view it is searching. */
let localOriginals = new Map<number, number[]>();
const localReader = new IndexViewReader(1, (rowId) => localOriginals.get(rowId));

function searchLocally(reader: IndexViewReader, captured: Captured, spec: FilterSpec | null): VectorHit[][] {
  localOriginals = captured.originals;
  const filter = filterFrom(spec);
  return QUERIES.map((q) => reader.search(captured.view, q, { k: K, efSearch: EF, filter }));
}

/** The view answers as the index did at export, in this thread and in the worker. */
async function expectAnswersAtExport(captured: Captured): Promise<void> {
  for (const [i, spec] of FILTERS.entries()) {
    expect(searchLocally(localReader, captured, spec)).toEqual(captured.answers[i]);
    expect(await worker.search(captured.view, spec, captured.originals)).toEqual(captured.answers[i]);
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Two segments with deletes and updates, a tail with deletes and updates; `frozen` adds a
 * flush held before its build, with deletes in its frozen tail and a new tail behind it.
 * Returns the flush's release, or null.
 */
async function populate(table: Table, vectors: number[][], frozen: boolean): Promise<(() => Promise<void>) | null> {
  for (let i = 0; i < 300; i++) table.put(i, vectors[i]);
  await table.index.flushNow();
  for (let i = 300; i < 600; i++) table.put(i, vectors[i]);
  await table.index.flushNow();
  for (let i = 0; i < 600; i += 7) table.remove(i);
  for (let i = 10; i < 60; i += 3) table.put(i, vectors[1000 + i]);
  for (let i = 600; i < 700; i++) table.put(i, vectors[i]);
  for (let i = 600; i < 700; i += 9) table.remove(i);
  table.put(605, vectors[1605]);
  table.put(605, vectors[1705]);
  if (!frozen) return null;
  let release!: () => void;
  table.hold = new Promise((resolve) => (release = resolve));
  const flushed = table.index.flushNow();
  while (table.index.stats().build === null) await tick();
  for (let i = 700; i < 760; i++) table.put(i, vectors[i]);
  for (let i = 601; i < 700; i += 4) table.remove(i);
  table.put(602, vectors[1602]);
  table.put(703, vectors[1703]);
  table.remove(704);
  return async () => {
    table.hold = null;
    release();
    await flushed;
  };
}

describe('a view answers exactly what index.search answered when it was exported', () => {
  for (const { metric, quantization } of CASES) {
    it(`${metric}, ${quantization}: segments, frozen tail, tail, deletes, updates, filters, then flush and merge`, async () => {
      const table = new Table(metric, quantization);
      const vectors = clusteredVectors(metric.length * 31 + quantization.length, 2000, DIMS);
      const views: Captured[] = [];
      const release = await populate(table, vectors, true);
      views.push(capture(table));
      expect(views[0].view.frozen).not.toBeNull();
      expect(views[0].view.segments).toHaveLength(2);
      await release!();
      views.push(capture(table));
      expect(views[1].view.frozen).toBeNull();
      expect(views[1].view.segments).toHaveLength(3);
      await table.index.mergeNow({ all: true });
      views.push(capture(table));
      expect(views[2].view.segments).toHaveLength(1);
      // Every view after all of that, the oldest first.
      for (const captured of views) await expectAnswersAtExport(captured);
      await table.index.close();
    });
  }

  it('for an index loaded from files, float32 segments quantized on load included', async () => {
    const vectors = clusteredVectors(77, 2000, DIMS);
    const saved = new Table('euclidean', 'none', { shareable: false, searchLanes: 1 });
    await populate(saved, vectors, false);
    const dir = path.join(root, 'loaded');
    await saved.index.save(dir);
    await saved.index.close();
    for (const quantization of ['none', 'int8'] as Quantization[]) {
      const rows = saved.rows;
      const { index, problems } = await VectorIndex.load(dir, {
        dims: DIMS,
        metric: 'euclidean',
        quantization,
        originals: (rowId) => rows.get(rowId),
        shareable: true,
        searchLanes: LANES,
        builder: 'inline',
        autoMaintain: false,
      });
      expect(problems).toEqual([]);
      const captured = capture({ index, rows });
      expect(captured.view.segments).toHaveLength(2);
      await expectAnswersAtExport(captured);
      await index.close();
    }
  });
});

describe('snapshot isolation', () => {
  for (const quantization of ['none', 'int8'] as Quantization[]) {
    it(`${quantization}: an old view survives nearer rows, deletes, updates, flush, merge and close; a new one sees them`, async () => {
      const table = new Table('cosine', quantization);
      const vectors = clusteredVectors(5, 2000, DIMS);
      await populate(table, vectors, false);
      const before = capture(table);
      // Rows equal to the queries (nearer than anything), the old answers gone, others moved.
      QUERIES.forEach((q, i) => table.put(5000 + i, q));
      for (const hits of before.answers[0]) for (const hit of hits) table.remove(hit.rowId);
      for (let i = 100; i < 300; i += 2) if (table.rows.has(i)) table.put(i, vectors[1100 + i]);
      await table.index.flushNow();
      await table.index.mergeNow({ all: true });
      const after = capture(table);
      expect(after.view.segments).toHaveLength(1);
      expect(after.view.tail.slots).toBe(0);
      expect(after.answers[0].map((hits) => hits[0].rowId)).toEqual(QUERIES.map((_, i) => 5000 + i));
      await expectAnswersAtExport(before);
      await expectAnswersAtExport(after);
      await table.index.close();
      await expectAnswersAtExport(before);
      await expectAnswersAtExport(after);
    });
  }

  it('a reader lets go of merged-away segments and flushed tails, and still answers a view taken before them', async () => {
    const table = new Table('euclidean', 'none');
    await populate(table, clusteredVectors(9, 2000, DIMS), false);
    const before = capture(table);
    let released = 0;
    const reader = new IndexViewReader(1, undefined, () => released++);
    expect(searchLocally(reader, before, null)).toEqual(before.answers[0]);
    expect(searchLocally(reader, before, null)).toEqual(before.answers[0]);
    expect(released).toBe(0);
    await table.index.flushNow();
    await table.index.mergeNow({ all: true });
    const after = capture(table);
    expect(after.view.segments.map((s) => s.id)).not.toContain(before.view.segments[0].id);
    expect(searchLocally(reader, after, null)).toEqual(after.answers[0]);
    expect(released).toBe(1);
    // The old view's parts are rebuilt from its memory, which it keeps alive.
    expect(searchLocally(reader, before, null)).toEqual(before.answers[0]);
    expect(released).toBe(2);
    await table.index.close();
  });

  it('a row updated over and over in the tail keeps memory bounded; views across compactions hold', async () => {
    const table = new Table('euclidean', 'none');
    const vectors = uniformVectors(6, 20_050, DIMS);
    for (let i = 0; i < 50; i++) table.put(i, vectors[i]);
    const views = [capture(table)];
    for (let n = 1; n <= 20_000; n++) {
      table.put(7, vectors[50 + n - 1]);
      if (n % 5000 === 0) views.push(capture(table));
    }
    const stats = table.index.stats();
    expect(stats.tailRows).toBe(50);
    // Without compaction 20,050 slots would hold ~800 KB; the tail stays in its first pages.
    expect(stats.memoryBytes).toBeLessThan(256 * 1024);
    expect(new Set(views.map((v) => v.view.tail.id)).size).toBeGreaterThan(1);
    for (const captured of views) await expectAnswersAtExport(captured);
    await table.index.close();
  });
});

describe('concurrency', () => {
  for (const quantization of ['none', 'int8'] as Quantization[]) {
    it(`${quantization}: the owner inserts, deletes, flushes and merges while a worker searches view after view`, async () => {
      const table = new Table('cosine', quantization, { builder: 'worker', autoMaintain: true, flushRows: 150 });
      const vectors = clusteredVectors(8, 6000, DIMS);
      const pending: { captured: Captured; answers: Promise<VectorHit[][]>[] }[] = [];
      let next = 0;
      for (let round = 0; round < 60; round++) {
        for (let i = 0; i < 40; i++) table.put(next++ % 2500, vectors[(round * 40 + i) % vectors.length]);
        for (let i = 0; i < 15; i++) table.remove((round * 97 + i * 31) % 2500);
        if (round % 9 === 4) void table.index.flushNow();
        if (round % 20 === 10) void table.index.mergeNow({ all: true });
        if (round === 30) await table.index.flushNow();
        const captured = capture(table);
        pending.push({ captured, answers: FILTERS.map((spec) => worker.search(captured.view, spec, captured.originals)) });
        if (round % 3 === 0) await tick();
      }
      for (const { captured, answers } of pending) {
        const got = await Promise.all(answers);
        got.forEach((a, i) => expect(a).toEqual(captured.answers[i]));
      }
      const kinds = new Set(pending.map((p) => `${p.captured.view.segments.length}:${p.captured.view.frozen !== null}`));
      expect(kinds.size).toBeGreaterThan(1);
      await table.index.close();
    });
  }
});

describe('errors', () => {
  it('validates lanes', async () => {
    for (const lane of [0, -1, 1.5, Number.NaN]) expect(() => new IndexViewReader(lane)).toThrow(/lane/);
    const table = new Table('cosine', 'none');
    table.put(1, [1, 0, 0, 0, 0, 0, 0, 0]);
    const view = table.index.exportView();
    expect(() => new IndexViewReader(LANES).search(view, QUERIES[0], { k: 1 })).toThrow(/lane 3 is outside/);
    expect(new IndexViewReader(LANES - 1).search(view, QUERIES[0], { k: 1 })).toEqual(table.index.search(QUERIES[0], { k: 1 }));
    expect(() => new VectorIndex({ dims: DIMS, metric: 'cosine', searchLanes: 2 })).toThrow(/shareable/);
    expect(() => new VectorIndex({ dims: DIMS, metric: 'cosine', shareable: true, searchLanes: 0 })).toThrow(/searchLanes/);
    await table.index.close();
  });

  it('refuses a quantized view without originals, and exportView on an index that is not shareable', async () => {
    const table = new Table('cosine', 'int8');
    for (let i = 0; i < 40; i++) table.put(i, QUERIES[i % QUERIES.length].map((x) => x + i / 100));
    await table.index.flushNow();
    expect(() => new IndexViewReader(1).search(table.index.exportView(), QUERIES[0], { k: 3 })).toThrow(/originals/);
    const plain = new VectorIndex({ dims: DIMS, metric: 'cosine', builder: 'inline' });
    expect(() => plain.exportView()).toThrow(/shareable/);
    await plain.close();
    await table.index.close();
  });
});
