/**
 * @module index/segment/format
 * The segment file: one immutable segment (or, with no graph, the rows of a tail) in one
 * versioned, checksummed binary file. Written whole to a temporary file in the same directory,
 * fsynced and renamed over the target, so a reader sees the old file or the new one, never a
 * torn one. Read whole, then checked: magic, version, checksum, then every count, offset and
 * link against the header, so that a file which passes is safe to search. Any failure throws
 * {@link SegmentCorruptError}; the caller rebuilds from SQLite.
 *
 * Layout, format version 2. Little-endian; each section starts on an 8-byte boundary (zero
 * padding between); n = rows, d = dims of the rows, g = dims of the graph's vectors, M = m,
 * s = floats per vector record (g for float32; 2 + 4⌈d·w/16⌉ for w-byte codes, see
 * ../quantization.ts).
 *
 * | offset | size | field                                                                  |
 * |-------:|-----:|------------------------------------------------------------------------|
 * |      0 |    8 | magic `51 56 53 45 47 0d 0a 1a` ("QVSEG\r\n\x1a": catches text-mode mangling) |
 * |      8 |    4 | format version, u32 = 2 (1 is still read: the same with offset 60 = 0) |
 * |     12 |    4 | header length in bytes, u32 = 64                                       |
 * |     16 |    4 | flags, u32: bit 0 = has a graph (0 = flat rows, e.g. a saved tail);    |
 * |        |      | bit 1 = vectors carry the dot-product (MIPS) coordinate, g = d + 1     |
 * |     20 |    4 | dims d, u32                                                            |
 * |     24 |    4 | metric, u32: 0 cosine, 1 euclidean, 2 dot                              |
 * |     28 |    4 | m (M), u32                                                             |
 * |     32 |    4 | efConstruction, u32                                                    |
 * |     36 |    4 | rows n, u32                                                            |
 * |     40 |    4 | alive rows, u32 (must equal the popcount of the alive bits)            |
 * |     44 |    4 | entry point node, i32 (−1: none)                                       |
 * |     48 |    4 | max level, i32 (−1: none)                                              |
 * |     52 |    4 | upper-layer link slots u, u32                                          |
 * |     56 |    4 | segment id, u32                                                        |
 * |     60 |    4 | quantization, u32: 0 none (float32), 1 int8, 2 int16 (graph only)      |
 * |     64 |      | vectors: n × g f32, graph form (g = d, or d + 1 with flag bit 1; cosine |
 * |        |      | vectors normalised) — see graphDims in ../space.ts; when quantized,    |
 * |        |      | n records of s × 4 bytes instead: scale f32, norm² f32, d codes, padding |
 * |        |      | row ids: n f64, integers; ascending when there is a graph              |
 * |        |      | alive bits: ⌈n/32⌉ u32, bit i of word w = row 32w + i alive             |
 * |        |      | graph only — levels: n u8                                              |
 * |        |      | graph only — layer-0 links: n × (2M + 1) i32, [count, ids...]          |
 * |        |      | graph only — upper offsets: n i32 (−1: node on layer 0 only)           |
 * |        |      | graph only — upper links: u i32, per node levels × (M + 1)             |
 * |    end |    4 | CRC-32 (ISO-HDLC, as zlib) of every byte before it                      |
 *
 * A new version bumps the number; a reader refuses versions it does not know (reason
 * `version`) rather than guessing. Version 2 added quantized records; a version 1 file (always
 * float32) still loads as it is. Quantized records are checked one by one on read (range of
 * every code, finite scales), since the int16 kernel's overflow bound relies on them.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Metric } from '../../core/index.ts';
import { PRIVATE_FILE_MODE } from '../../util/index.ts';
import { SegmentCorruptError } from '../errors.ts';
import { HnswGraph, type HnswGraphData } from '../hnsw/graph.ts';
import { MAX_LEVEL, MAX_M, MIN_M, maxLinksLayer0 } from '../hnsw/params.ts';
import {
  QUANTIZATION_CODES,
  checkRecord,
  quantizationFromCode,
  recordFloats,
  recordViews,
  type Quantization,
} from '../quantization.ts';
import { METRIC_CODES, graphDims, graphMetric, metricFromCode } from '../space.ts';
import { AliveBitSet, wordCount } from './alive-bitset.ts';
import { Segment } from './segment.ts';

export const SEGMENT_MAGIC = Uint8Array.from([0x51, 0x56, 0x53, 0x45, 0x47, 0x0d, 0x0a, 0x1a]);
export const SEGMENT_FORMAT_VERSION = 2;
/** Versions this build reads. */
const READABLE_VERSIONS = new Set([1, 2]);
const HEADER_BYTES = 64;
const FLAG_HAS_GRAPH = 1;
const FLAG_MIPS = 2;

/**
 * What a segment file holds. `graph` is null for a flat file (rows without a graph). `dims` and
 * `metric` are the rows'; with a graph, `vectors` and the graph are in graph form (graphDims).
 */
export interface SegmentFileContents {
  id: number;
  dims: number;
  metric: Metric;
  m: number;
  efConstruction: number;
  /** How the graph's vectors are kept; always `none` for a flat file. */
  quantization: Quantization;
  /** Float32 vectors, or quantized records viewed as floats (see HnswGraphData.vectors). */
  vectors: Float32Array;
  rowIds: Float64Array;
  alive: AliveBitSet;
  graph: HnswGraphData | null;
}

/** The contents of a segment, with `alive` as given (pass a snapshot when deletes go on). */
export function segmentContents(segment: Segment, alive: AliveBitSet = segment.alive): SegmentFileContents {
  const g = segment.graph;
  return {
    id: segment.id,
    dims: segment.dims,
    metric: segment.metric,
    m: g.m,
    efConstruction: g.efConstruction,
    quantization: g.quantization,
    vectors: g.vectors,
    rowIds: segment.rowIds,
    alive,
    graph: g.toData(),
  };
}

/** A searchable segment from a graph file's contents (vectors are copied into an arena). */
export function segmentFromContents(contents: SegmentFileContents): Segment {
  if (contents.graph === null) throw new Error(`segment ${contents.id} has no graph`);
  return new Segment(contents.id, new HnswGraph(contents.graph), contents.rowIds, contents.alive, contents.metric);
}

const align8 = (n: number) => (n + 7) & ~7;

interface Sections {
  vectors: number;
  rowIds: number;
  alive: number;
  levels: number;
  links0: number;
  upperOffsets: number;
  upperLinks: number;
  end: number;
}

/** Section offsets; `stride` is the floats per vector (its dims, or its record size). */
function sectionOffsets(n: number, stride: number, m: number, upper: number, hasGraph: boolean): Sections {
  const vectors = HEADER_BYTES;
  const rowIds = align8(vectors + n * stride * 4);
  const alive = align8(rowIds + n * 8);
  const levels = align8(alive + wordCount(n) * 4);
  if (!hasGraph) return { vectors, rowIds, alive, levels, links0: levels, upperOffsets: levels, upperLinks: levels, end: levels };
  const links0 = align8(levels + n);
  const upperOffsets = align8(links0 + n * (maxLinksLayer0(m) + 1) * 4);
  const upperLinks = align8(upperOffsets + n * 4);
  const end = align8(upperLinks + upper * 4);
  return { vectors, rowIds, alive, levels, links0, upperOffsets, upperLinks, end };
}

/** CRC-32 of `bytes`: zlib's where Node has it (20.15+), else a table-driven one. */
export function crc32(bytes: Uint8Array): number {
  const native = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
  if (native !== undefined) return native(bytes) >>> 0;
  const table = (crcTable ??= makeCrcTable());
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = table[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

let crcTable: Uint32Array | undefined;
function makeCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
}

/** The file's bytes. */
export function encodeSegment(c: SegmentFileContents): Buffer {
  const n = c.rowIds.length;
  const g = c.graph;
  const hasGraph = g !== null;
  const upper = hasGraph ? g.upperLinks.length : 0;
  const mips = hasGraph && g.dims !== c.dims;
  const quantization = hasGraph ? c.quantization : 'none';
  const stride = hasGraph ? recordFloats(quantization, c.dims, g.dims) : c.dims;
  const at = sectionOffsets(n, stride, c.m, upper, hasGraph);
  const buffer = Buffer.alloc(at.end + 4);
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  buffer.set(SEGMENT_MAGIC, 0);
  view.setUint32(8, SEGMENT_FORMAT_VERSION, true);
  view.setUint32(12, HEADER_BYTES, true);
  view.setUint32(16, (hasGraph ? FLAG_HAS_GRAPH : 0) | (mips ? FLAG_MIPS : 0), true);
  view.setUint32(20, c.dims, true);
  view.setUint32(24, METRIC_CODES[c.metric], true);
  view.setUint32(28, c.m, true);
  view.setUint32(32, c.efConstruction, true);
  view.setUint32(36, n, true);
  view.setUint32(40, c.alive.aliveCount, true);
  view.setInt32(44, hasGraph ? g.entryPoint : -1, true);
  view.setInt32(48, hasGraph ? g.maxLevel : -1, true);
  view.setUint32(52, upper, true);
  view.setUint32(56, c.id, true);
  view.setUint32(60, QUANTIZATION_CODES[quantization], true);
  const put = (offset: number, array: ArrayBufferView) =>
    buffer.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), offset);
  put(at.vectors, c.vectors.subarray(0, n * stride));
  put(at.rowIds, c.rowIds);
  put(at.alive, c.alive.words);
  if (hasGraph) {
    put(at.levels, g.levels);
    put(at.links0, g.links0);
    put(at.upperOffsets, g.upperOffsets);
    put(at.upperLinks, g.upperLinks);
  }
  view.setUint32(at.end, crc32(buffer.subarray(0, at.end)), true);
  return buffer;
}

/** Checks and decodes a file's bytes; `file` names it in errors. */
export function decodeSegment(bytes: Uint8Array, file: string): SegmentFileContents {
  const corrupt = (reason: 'truncated' | 'magic' | 'version' | 'checksum' | 'structure', detail: string) =>
    new SegmentCorruptError(file, reason, detail);
  if (bytes.length < HEADER_BYTES + 4) throw corrupt('truncated', `${bytes.length} bytes is shorter than a header`);
  for (let i = 0; i < SEGMENT_MAGIC.length; i++) {
    if (bytes[i] !== SEGMENT_MAGIC[i]) throw corrupt('magic', 'not a Quiver segment file');
  }
  // Typed views need aligned offsets; copy once if the bytes do not start 8-aligned.
  if (bytes.byteOffset % 8 !== 0) bytes = new Uint8Array(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (!READABLE_VERSIONS.has(version)) {
    throw corrupt('version', `format version ${version}; this build reads versions ${[...READABLE_VERSIONS].join(' and ')}`);
  }
  const stored = view.getUint32(bytes.length - 4, true);
  const actual = crc32(bytes.subarray(0, bytes.length - 4));
  if (stored !== actual) {
    throw corrupt('checksum', `CRC-32 is ${actual.toString(16)}; the file says ${stored.toString(16)}`);
  }
  const headerBytes = view.getUint32(12, true);
  const flags = view.getUint32(16, true);
  const dims = view.getUint32(20, true);
  const metric = metricFromCode(view.getUint32(24, true));
  const m = view.getUint32(28, true);
  const efConstruction = view.getUint32(32, true);
  const n = view.getUint32(36, true);
  const aliveCount = view.getUint32(40, true);
  const entryPoint = view.getInt32(44, true);
  const maxLevel = view.getInt32(48, true);
  const upper = view.getUint32(52, true);
  const id = view.getUint32(56, true);
  const quantizationCode = version === 1 ? 0 : view.getUint32(60, true);
  const quantization = quantizationFromCode(quantizationCode);
  const hasGraph = (flags & FLAG_HAS_GRAPH) !== 0;
  const mips = (flags & FLAG_MIPS) !== 0;
  if (headerBytes !== HEADER_BYTES || (flags & ~(FLAG_HAS_GRAPH | FLAG_MIPS)) !== 0) throw corrupt('structure', 'unknown header layout or flags');
  if (metric === undefined) throw corrupt('structure', `unknown metric code ${view.getUint32(24, true)}`);
  if (quantization === undefined) throw corrupt('structure', `unknown quantization code ${quantizationCode}`);
  if (!hasGraph && quantization !== 'none') throw corrupt('structure', 'a flat file cannot be quantized');
  if (hasGraph && mips !== (metric === 'dot')) throw corrupt('structure', 'the MIPS flag disagrees with the metric');
  if (dims === 0) throw corrupt('structure', 'zero dimensions');
  if (hasGraph && (m < MIN_M || m > MAX_M)) throw corrupt('structure', `m ${m} is out of range`);
  const vectorDims = hasGraph ? graphDims(metric, dims) : dims;
  const stride = hasGraph ? recordFloats(quantization, dims, vectorDims) : dims;
  const at = sectionOffsets(n, stride, m, upper, hasGraph);
  if (at.end + 4 !== bytes.length) {
    throw corrupt('structure', `header describes ${at.end + 4} bytes; the file has ${bytes.length}`);
  }
  const base = bytes.byteOffset;
  const buf = bytes.buffer;
  const vectors = new Float32Array(buf, base + at.vectors, n * stride);
  if (quantization !== 'none') {
    const views = recordViews(buf, base + at.vectors, n * stride);
    for (let i = 0; i < n; i++) {
      const problem = checkRecord(quantization, views, i * stride, dims, stride);
      if (problem !== null) throw corrupt('structure', `record of node ${i}: ${problem}`);
    }
  }
  // Sections other than the vectors (which a graph copies into its arena) are copied out, so
  // the file's buffer can be collected once the caller is done with the vectors.
  const rowIds = new Float64Array(buf, base + at.rowIds, n).slice();
  const alive = AliveBitSet.fromWords(n, new Uint32Array(buf, base + at.alive, wordCount(n)).slice());
  if (alive === null || alive.aliveCount !== aliveCount) throw corrupt('structure', 'alive bits disagree with the header');
  for (let i = 0; i < n; i++) {
    const r = rowIds[i];
    if (!Number.isSafeInteger(r) || (hasGraph && i > 0 && r <= rowIds[i - 1])) {
      throw corrupt('structure', `row id at node ${i} is not an ascending integer`);
    }
  }
  let graph: HnswGraphData | null = null;
  if (hasGraph) {
    const levels = new Uint8Array(buf, base + at.levels, n).slice();
    const links0 = new Int32Array(buf, base + at.links0, n * (maxLinksLayer0(m) + 1)).slice();
    const upperOffsets = new Int32Array(buf, base + at.upperOffsets, n).slice();
    const upperLinks = new Int32Array(buf, base + at.upperLinks, upper).slice();
    checkGraph(n, m, entryPoint, maxLevel, levels, links0, upperOffsets, upperLinks, (d) => corrupt('structure', d));
    graph = {
      dims: vectorDims,
      metric: graphMetric(metric),
      m,
      efConstruction,
      count: n,
      quantization,
      codedDims: dims,
      entryPoint,
      maxLevel,
      vectors,
      levels,
      links0,
      upperOffsets,
      upperLinks,
    };
  }
  return { id, dims, metric, m, efConstruction, quantization, vectors, rowIds, alive, graph };
}

/** Every link in range, every count within capacity, offsets and levels consistent. */
function checkGraph(
  n: number,
  m: number,
  entryPoint: number,
  maxLevel: number,
  levels: Uint8Array,
  links0: Int32Array,
  upperOffsets: Int32Array,
  upperLinks: Int32Array,
  fail: (detail: string) => Error,
): void {
  if (n === 0) {
    if (entryPoint !== -1 || maxLevel !== -1) throw fail('an empty graph has an entry point');
    return;
  }
  if (entryPoint < 0 || entryPoint >= n || levels[entryPoint] !== maxLevel) throw fail('bad entry point');
  let expectedOffset = 0;
  for (let node = 0; node < n; node++) {
    const level = levels[node];
    if (level > maxLevel || level > MAX_LEVEL) throw fail(`node ${node} is above the top level`);
    if (level === 0 ? upperOffsets[node] !== -1 : upperOffsets[node] !== expectedOffset) {
      throw fail(`node ${node} has a bad upper-layer offset`);
    }
    if (level > 0) expectedOffset += level * (m + 1);
  }
  if (expectedOffset !== upperLinks.length) throw fail('upper-layer links do not match the levels');
  const checkList = (links: Int32Array, start: number, capacity: number, what: string) => {
    const count = links[start];
    if (count < 0 || count > capacity) throw fail(`${what} has ${count} links`);
    for (let i = 1; i <= count; i++) {
      const e = links[start + i];
      if (e < 0 || e >= n) throw fail(`${what} links to node ${e}`);
    }
  };
  const stride0 = maxLinksLayer0(m) + 1;
  for (let node = 0; node < n; node++) checkList(links0, node * stride0, stride0 - 1, `node ${node} on layer 0`);
  for (let node = 0; node < n; node++) {
    for (let layer = 1; layer <= levels[node]; layer++) {
      const start = upperOffsets[node] + (layer - 1) * (m + 1);
      checkList(upperLinks, start, m, `node ${node} on layer ${layer}`);
      for (let i = 1; i <= upperLinks[start]; i++) {
        if (levels[upperLinks[start + i]] < layer) throw fail(`node ${node} links below layer ${layer}`);
      }
    }
  }
}

/**
 * Writes atomically: a temporary file in the same directory, fsync, rename over `file`; a
 * failure leaves no temporary file. The file is 0600 from its creation on: a segment holds
 * users' vectors.
 */
export async function writeFileAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(temp, 'w', PRIVATE_FILE_MODE);
  try {
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
  } catch (e) {
    // A full disk fails the write half-way: the partial file must not keep the room it took.
    await fs.rm(temp, { force: true });
    throw e;
  }
}

/** Writes a segment (or flat rows) to `file`, atomically. */
export async function writeSegment(file: string, contents: SegmentFileContents | Segment): Promise<void> {
  const c = contents instanceof Segment ? segmentContents(contents) : contents;
  await writeFileAtomic(file, encodeSegment(c));
}

/** Reads and verifies `file`; SegmentCorruptError on any mismatch, the fs error if unreadable. */
export async function readSegment(file: string): Promise<SegmentFileContents> {
  return decodeSegment(await fs.readFile(file), file);
}
