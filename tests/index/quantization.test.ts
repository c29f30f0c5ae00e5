/**
 * @module tests/index/quantization.test
 * Quantized segments (src/index/quantization.ts, rerank.ts): records and their kernels against
 * plain references; recall@10 against brute force per metric with int8 and int16 beside float32
 * on the same data; answers carry the exact float32 distance of each row and read at most the
 * re-rank pool from the originals; memory shrinks; the segment file keeps records (version 2),
 * still reads version 1, and refuses a record a kernel could overflow on; save/load and the
 * errors of a quantized index.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VectorIndex, distanceFunction, parseQuantization, type Quantization, type VectorIndexOptions } from '../../src/index/index.ts';
import { type Metric } from '../../src/core/index.ts';
import {
  QUANTIZATIONS,
  SegmentCorruptError,
  buildSegment,
  exactSearch,
  partOutput,
  quantizeSegment,
  rerankPoolSize,
  segmentFromContents,
} from '../../src/index/testing.ts';
import { VectorArena } from '../../src/index/kernels.ts';
import { codeLimit, decodeRecord, encodeRecord, recordFloats } from '../../src/index/quantization.ts';
import { crc32, decodeSegment, encodeSegment, segmentContents } from '../../src/index/segment/format.ts';
import { METRICS, clusteredVectors, mulberry32, recallAtK, uniformVectors } from './helpers.ts';

const QUANTIZED = ['int8', 'int16'] as const;
let root: string;
let dirCount = 0;
const freshDir = () => path.join(root, `quantized-${++dirCount}`);

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'quiver-quantized-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('records and kernels', () => {
  for (const q of QUANTIZED) {
    it(`${q}: codes stay within ±${codeLimit(q)}, decode within half a step, padding is zero`, () => {
      const next = mulberry32(7);
      for (const dims of [1, 3, 8, 15, 16, 17, 33, 100, 129]) {
        const stride = recordFloats(q, dims, dims);
        expect((stride * 4 - 8) % 16).toBe(0);
        const arena = new VectorArena(stride * 2);
        const v = Float32Array.from({ length: dims }, () => (next() * 2 - 1) * 10 ** (next() * 6 - 3));
        encodeRecord(q, v, 0, dims, dims, stride, arena, stride);
        const scale = arena.floats[stride];
        const max = v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        expect(scale).toBeCloseTo(max / codeLimit(q), 6);
        const codes = q === 'int8' ? arena.bytes.subarray(stride * 4 + 8, stride * 8) : arena.shorts.subarray(stride * 2 + 4, stride * 4);
        for (let j = 0; j < codes.length; j++) {
          if (j >= dims) expect(codes[j]).toBe(0);
          else expect(Math.abs(codes[j])).toBeLessThanOrEqual(codeLimit(q));
        }
        const back = new Float32Array(dims);
        decodeRecord(q, arena, stride, dims, back);
        for (let j = 0; j < dims; j++) expect(Math.abs(back[j] - v[j])).toBeLessThanOrEqual(scale * 0.5 + 1e-7 * max);
        let norm = 0;
        for (let j = 0; j < dims; j++) norm += back[j] * back[j];
        expect(Math.abs(arena.floats[stride + 1] - norm)).toBeLessThanOrEqual(1e-6 * norm);
      }
    });

    it(`${q}: the WebAssembly kernels equal float64 sums over the decoded vectors`, () => {
      const next = mulberry32(11);
      for (const dims of [1, 5, 16, 31, 64, 100]) {
        const stride = recordFloats(q, dims, dims);
        const count = 20;
        const arena = new VectorArena(stride * count);
        const vectors = Array.from({ length: count }, () => Float32Array.from({ length: dims }, () => next() * 2 - 1));
        vectors.forEach((v, i) => encodeRecord(q, v, 0, dims, dims, stride, arena, i * stride));
        const decoded = vectors.map((_, i) => {
          const out = new Float32Array(dims);
          decodeRecord(q, arena, i * stride, dims, out);
          return out;
        });
        for (const l2 of [false, true]) {
          const { kernel } = arena.kernels(q, l2);
          for (let a = 0; a < count; a++) {
            for (let b = 0; b < count; b++) {
              let dot = 0;
              let dist = 0;
              for (let j = 0; j < dims; j++) {
                dot += decoded[a][j] * decoded[b][j];
                dist += (decoded[a][j] - decoded[b][j]) ** 2;
              }
              const want = l2 ? dist : -dot;
              expect(Math.abs(kernel(a * stride, b * stride, stride) - want)).toBeLessThan(1e-4 * Math.max(1, Math.abs(want)));
            }
          }
        }
      }
    });

    it(`${q}: the batched kernel scores a list of ids like the single one`, () => {
      const dims = 40;
      const stride = recordFloats(q, dims, dims);
      const arena = new VectorArena(stride * 12 + 64);
      uniformVectors(3, 11, dims).forEach((v, i) => encodeRecord(q, Float32Array.from(v), 0, dims, dims, stride, arena, i * stride));
      const idsAt = stride * 12;
      const outAt = idsAt + 16;
      const ids = [4, 0, 10, 7, 7, 2];
      ids.forEach((id, i) => (arena.ints[idsAt + i] = id));
      for (const l2 of [false, true]) {
        const { kernel, batch } = arena.kernels(q, l2);
        batch(idsAt, ids.length, stride * 3, stride, outAt);
        ids.forEach((id, i) => expect(arena.floats[outAt + i]).toBe(Math.fround(kernel(id * stride, stride * 3, stride))));
      }
    });
  }

  it('a zero vector encodes as scale 0 and scores 0', () => {
    const stride = recordFloats('int8', 4, 4);
    const arena = new VectorArena(stride * 2);
    encodeRecord('int8', new Float32Array(4), 0, 4, 4, stride, arena, 0);
    encodeRecord('int8', Float32Array.of(1, 2, 3, 4), 0, 4, 4, stride, arena, stride);
    expect(arena.floats[0]).toBe(0);
    expect(arena.kernels('int8', false).kernel(0, stride, stride) + 0).toBe(0);
    expect(arena.kernels('int8', true).kernel(0, stride, stride)).toBeCloseTo(30, 1);
  });
});

/** An index over `vectors` (row i + 1), all flushed into one segment, with the originals in an array. */
async function flushedIndex(metric: Metric, quantization: Quantization, vectors: number[][]): Promise<{ index: VectorIndex; reads: () => number }> {
  let reads = 0;
  const index = new VectorIndex({
    dims: vectors[0].length,
    metric,
    quantization,
    originals: (rowId) => {
      reads++;
      return vectors[rowId - 1];
    },
    builder: 'inline',
    autoMaintain: false,
  });
  vectors.forEach((v, i) => index.insert(i + 1, v));
  await index.flushNow();
  return { index, reads: () => reads };
}

describe('recall@10 against brute force, beside float32 on the same data', () => {
  const N = 3000;
  const DIMS = 24;
  for (const metric of METRICS) {
    it(`${metric}: int8 and int16 reach 0.9 at ef = 80 and lose at most 0.02 to float32`, async () => {
      const vectors = clusteredVectors(21, N, DIMS);
      const rows = new Map(vectors.map((v, i) => [i + 1, v]));
      const queries = clusteredVectors(22, 60, DIMS);
      const recalls: Record<string, number> = {};
      for (const q of QUANTIZATIONS) {
        const { index } = await flushedIndex(metric, q, vectors);
        expect(index.stats().tailRows).toBe(0);
        recalls[q] = recallAtK(rows, queries, metric, 10, (query) => index.search(query, { k: 10, efSearch: 80 }));
        await index.close();
      }
      for (const q of QUANTIZED) {
        expect(recalls[q]).toBeGreaterThanOrEqual(0.9);
        expect(recalls[q]).toBeGreaterThanOrEqual(recalls.none - 0.02);
      }
    });
  }
});

describe('exact re-ranking', () => {
  for (const metric of METRICS) {
    for (const q of QUANTIZED) {
      it(`${metric}, ${q}: every distance is the float32 one the SQL function gives, read from at most the pool`, async () => {
        const vectors = clusteredVectors(31, 1500, 16);
        const { index, reads } = await flushedIndex(metric, q, vectors);
        // A few rows stay in the tail (float32 already), so answers mix both sources.
        for (let i = 0; i < 30; i++) index.insert(5000 + i, vectors[i * 7]);
        const all = new Map(vectors.map((v, i) => [i + 1, v]));
        for (let i = 0; i < 30; i++) all.set(5000 + i, vectors[i * 7]);
        const distance = distanceFunction(metric);
        for (const [i, query] of clusteredVectors(32, 20, 16).entries()) {
          const k = 1 + (i % 12);
          const before = reads();
          const hits = index.search(query, { k, efSearch: 400 });
          expect(reads() - before).toBeLessThanOrEqual(rerankPoolSize(k, q));
          expect(hits).toHaveLength(k);
          for (const hit of hits) {
            expect(Math.abs(hit.distance - distance(Float32Array.from(all.get(hit.rowId)!), Float32Array.from(query)))).toBeLessThan(1e-6);
          }
          for (let j = 1; j < hits.length; j++) expect(hits[j].distance).toBeGreaterThanOrEqual(hits[j - 1].distance);
          // With the pool re-ranked, the answer is the exact one here (small data, an ef that
          // walks most of the graph).
          const truth = exactSearch(all.entries(), query, metric, k);
          expect(hits.map((h) => h.rowId)).toEqual(truth.map((t) => t.rowId));
        }
        await index.close();
      });
    }
  }

  it('keeps the approximate key for a row the originals do not have, rather than failing', async () => {
    const vectors = clusteredVectors(41, 200, 8);
    let hide = -1;
    const index = new VectorIndex({
      dims: 8,
      metric: 'euclidean',
      quantization: 'int8',
      originals: (rowId) => (rowId === hide ? null : vectors[rowId - 1]),
      builder: 'inline',
      autoMaintain: false,
    });
    vectors.forEach((v, i) => index.insert(i + 1, v));
    await index.flushNow();
    const [nearest] = index.search(vectors[9], { k: 1 });
    expect(nearest.rowId).toBe(10);
    expect(nearest.distance).toBe(0);
    hide = 10;
    const [approximate] = index.search(vectors[9], { k: 1 });
    expect(approximate.rowId).toBe(10);
    expect(approximate.distance).toBeLessThan(0.05);
    await index.close();
  });
});

describe('on the worker thread', () => {
  it('a flush and a merge build quantized segments off-thread; the records come back in shared memory', async () => {
    const vectors = clusteredVectors(81, 1200, 16);
    const index = new VectorIndex({
      dims: 16,
      metric: 'dot',
      quantization: 'int16',
      originals: (rowId) => vectors[rowId - 1],
      builder: 'worker',
      autoMaintain: false,
    });
    try {
      for (const [i, v] of vectors.entries()) {
        index.insert(i + 1, v);
        if (i % 400 === 399) await index.flushNow();
      }
      await index.mergeNow({ all: true });
      const stats = index.stats();
      expect(stats.builder).toBe('worker');
      expect(stats.segments).toHaveLength(1);
      expect(stats.tailRows).toBe(0);
      const rows = new Map(vectors.map((v, i) => [i + 1, v]));
      for (const q of clusteredVectors(82, 10, 16)) {
        const hits = index.search(q, { k: 5, efSearch: 200 });
        expect(hits).toEqual(exactSearch(rows.entries(), q, 'dot', 5).map((t) => ({ rowId: t.rowId, distance: expect.closeTo(t.distance, 5) })));
      }
    } finally {
      await index.close();
    }
  });
});

describe('memory', () => {
  it('int8 and int16 segments hold fewer bytes than float32; the stats say which storage', async () => {
    const vectors = uniformVectors(51, 2000, 100);
    const bytes: Record<string, number> = {};
    for (const q of QUANTIZATIONS) {
      const { index } = await flushedIndex('cosine', q, vectors);
      const stats = index.stats();
      expect(stats.quantization).toBe(q);
      bytes[q] = stats.segments[0].bytes;
      await index.close();
    }
    const links = bytes.none - 2000 * 100 * 4;
    // Records: 8 bytes of scale and norm, then codes padded to 16 bytes.
    expect(bytes.int8).toBe(links + 2000 * (8 + 112));
    expect(bytes.int16).toBe(links + 2000 * (8 + 208));
  });
});

describe('segment files', () => {
  const DIMS = 10;
  const make = (metric: Metric, q: 'int8' | 'int16') => {
    const vectors = clusteredVectors(61, 400, DIMS);
    const float32 = buildSegment({ id: 9, dims: DIMS, metric, rowIds: vectors.map((_, i) => 3 * i + 1), vectors, m: 6, efConstruction: 32 });
    const segment = quantizeSegment(float32, q);
    for (let i = 0; i < 400; i += 11) segment.delete(3 * i + 1);
    return segment;
  };

  for (const metric of METRICS) {
    for (const q of QUANTIZED) {
      it(`${metric}, ${q}: a round trip keeps the records byte for byte and every answer`, () => {
        const segment = make(metric, q);
        const bytes = encodeSegment(segmentContents(segment));
        const contents = decodeSegment(bytes, 'round.qvs');
        expect(contents.quantization).toBe(q);
        expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true)).toBe(2);
        const raw = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
        expect(raw(contents.graph!.vectors).equals(raw(segment.graph.vectors))).toBe(true);
        const query = Float32Array.from(clusteredVectors(62, 1, DIMS)[0]);
        const answer = (s: typeof segment) => {
          const out = partOutput(8);
          const found = s.search(query, 8, 32, null, out);
          return [...out.rowIds.subarray(0, found), ...out.keys.subarray(0, found)];
        };
        const loaded = segmentFromContents(contents);
        expect(loaded.quantization).toBe(q);
        expect(answer(loaded)).toEqual(answer(segment));
      });
    }
  }

  it('refuses a record whose code is past the limit, even with a valid checksum', () => {
    const segment = make('cosine', 'int16');
    const bytes = encodeSegment(segmentContents(segment));
    // Node 0's first code, after the 64-byte header and its 8-byte scale and norm.
    bytes.writeInt16LE(-32768, 64 + 8);
    bytes.writeUInt32LE(crc32(bytes.subarray(0, bytes.length - 4)), bytes.length - 4);
    expect(() => decodeSegment(bytes, 'bad.qvs')).toThrow(SegmentCorruptError);
    expect(() => decodeSegment(bytes, 'bad.qvs')).toThrow(/record of node 0: code 0 is -32768/);
  });

  it('still reads a version 1 file (float32, offset 60 reserved)', () => {
    const vectors = clusteredVectors(63, 200, DIMS);
    const segment = buildSegment({ id: 3, dims: DIMS, metric: 'euclidean', rowIds: vectors.map((_, i) => i), vectors, m: 6, efConstruction: 32 });
    const bytes = encodeSegment(segmentContents(segment));
    bytes.writeUInt32LE(1, 8);
    bytes.writeUInt32LE(crc32(bytes.subarray(0, bytes.length - 4)), bytes.length - 4);
    const contents = decodeSegment(bytes, 'v1.qvs');
    expect(contents.quantization).toBe('none');
    expect(Array.from(contents.rowIds)).toEqual(Array.from(segment.rowIds));
  });
});

describe('save and load of a quantized index', () => {
  it('round trip: the same answers, still quantized, nothing rebuilt', async () => {
    const vectors = clusteredVectors(71, 900, 12);
    const options: VectorIndexOptions = {
      dims: 12,
      metric: 'cosine',
      quantization: 'int8',
      originals: (rowId) => vectors[rowId - 1],
      builder: 'inline',
      autoMaintain: false,
    };
    const index = new VectorIndex(options);
    for (const [i, v] of vectors.entries()) {
      index.insert(i + 1, v);
      if (i === 399) await index.flushNow();
    }
    await index.flushNow();
    for (let i = 1; i <= 900; i += 13) index.delete(i);
    for (let i = 0; i < 20; i++) index.insert(2000 + i, vectors[i]); // a saved tail too
    const queries = clusteredVectors(72, 10, 12);
    const before = queries.map((q) => index.search(q, { k: 10 }));
    const dir = freshDir();
    await index.save(dir, { seq: 7 });
    await index.close();
    const manifest = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.quantization).toBe('int8');
    const loaded = await VectorIndex.load(dir, options);
    expect(loaded.problems).toEqual([]);
    expect(loaded.meta).toEqual({ seq: 7 });
    expect(loaded.index.stats().quantization).toBe('int8');
    expect(loaded.index.stats().segments.length).toBe(2);
    expect(queries.map((q) => loaded.index.search(q, { k: 10 }))).toEqual(before);
    await loaded.index.close();
  });

  it('float32 files load into a quantized index (encoded on load); quantized files into a float32 one are a mismatch', async () => {
    const vectors = clusteredVectors(73, 500, 12);
    const plain = new VectorIndex({ dims: 12, metric: 'euclidean', builder: 'inline', autoMaintain: false });
    vectors.forEach((v, i) => plain.insert(i + 1, v));
    await plain.flushNow();
    const float32Bytes = plain.stats().segments[0].bytes;
    const dir = freshDir();
    await plain.save(dir);
    await plain.close();
    const originals = (rowId: number) => vectors[rowId - 1];
    const upgraded = await VectorIndex.load(dir, { dims: 12, metric: 'euclidean', quantization: 'int16', originals, builder: 'inline', autoMaintain: false });
    expect(upgraded.problems).toEqual([]);
    // 12 floats (48 bytes) per vector become a 40-byte record: 8 bytes of scale and norm, 32 of codes.
    expect(upgraded.index.stats().segments[0].bytes).toBe(float32Bytes - 500 * 8);
    const query = clusteredVectors(74, 1, 12)[0];
    expect(upgraded.index.search(query, { k: 5 })).toEqual(exactSearch(vectors.map((v, i) => [i + 1, v] as const), query, 'euclidean', 5));
    const dir2 = freshDir();
    await upgraded.index.save(dir2);
    await upgraded.index.close();
    const downgraded = await VectorIndex.load(dir2, { dims: 12, metric: 'euclidean', builder: 'inline', autoMaintain: false });
    expect(downgraded.problems).toEqual([expect.objectContaining({ kind: 'mismatch', detail: 'segment is int16-quantized; the index is none' })]);
    await downgraded.index.close();
  });
});

describe('errors', () => {
  it('a quantized index needs originals; an unknown quantization is refused', () => {
    expect(() => new VectorIndex({ dims: 3, metric: 'cosine', quantization: 'int8' })).toThrow(
      expect.objectContaining({ code: 'PARAMETER_ERROR', message: expect.stringContaining('originals') }),
    );
    expect(() => new VectorIndex({ dims: 3, metric: 'cosine', quantization: 'int4' as Quantization, originals: () => null })).toThrow(
      expect.objectContaining({ code: 'PARAMETER_ERROR', message: 'quantization must be one of none, int8, int16' }),
    );
  });

  it('parseQuantization takes any case and lists the accepted values otherwise', () => {
    expect(parseQuantization('INT8')).toBe('int8');
    expect(parseQuantization(' int16 ')).toBe('int16');
    expect(parseQuantization('None')).toBe('none');
    for (const bad of ['', 'int4', 'float16', 'int 8']) {
      expect(() => parseQuantization(bad, 'vector index option quantization')).toThrow(
        expect.objectContaining({ code: 'SQL_ERROR', message: 'vector index option quantization must be one of none, int8, int16' }),
      );
    }
  });
});
