/**
 * @module index/quantization
 * Optional quantization of a segment's in-memory vectors (the copy graph traversal reads), and
 * the record layout the quantized kernels of ./kernels.ts read. `none` keeps float32; `int8`
 * and `int16` keep one scalar code per dimension with a per-vector scale, as AliSQL stores its
 * HNSW vectors (seed 003: `int16 = round(x / scale)`, scale = max|x| / 32767, kept as float32
 * in front of the codes). int8 does the same with 127. The final candidates are re-ranked
 * exactly from float32 originals the index does not keep in memory (./rerank.ts).
 *
 * Why a per-vector scale and not per-dimension min/max (FAISS's SQ8): on the bench's wink
 * vectors per-vector int8 keeps more of the exact top 10 (BENCHMARKS.md, bench:ann), since a
 * vector's own max |x| is well below a dimension's range and so the per-vector step is finer;
 * it needs no training pass over a segment, so codes never change on merge; and when the query
 * is quantized the same way, both sides of a distance are integers and the kernel is an
 * integer dot product (i32x4.dot_i16x8_s). That costs a little of the top 10, and re-ranking
 * the best 15 instead of 10 recovers it. int16 keys, far more precise, keep the exact top 10
 * as they are.
 *
 * A record, in the arena at node × stride floats (stride = {@link recordFloats}):
 *
 * | bytes | field                                                                          |
 * |------:|--------------------------------------------------------------------------------|
 * |     4 | scale, f32: max|x_i| / 127 (int8) or / 32767 (int16); 0 for a zero vector      |
 * |     4 | norm², f32: squared norm of the dequantized vector, plus the square of every   |
 * |       | graph coordinate past the coded ones (the dot metric's MIPS coordinate)        |
 * |     … | codes, i8 or i16, round(x_i / scale) in [−127, 127] or [−32767, 32767], zero   |
 * |       | padded to a multiple of 16 bytes so the kernels need no scalar tail            |
 *
 * Keys from records: −(sa·sb·Σ ca·cb) for inner product, and na + nb − 2·sa·sb·Σ ca·cb for
 * squared L2 (the query's record is made the same way; its MIPS coordinate is 0, so only the
 * node's norm carries it). Codes never reach −128 / −32768, so no i32 lane of the int16 kernel
 * can overflow (2 × 32767² < 2³¹) and an int8 lane would need 10⁵ dimensions to.
 */
import { QuiverError } from '../core/index.ts';

/** How a segment keeps the vectors its graph search reads. */
export type Quantization = 'none' | 'int8' | 'int16';

export const DEFAULT_QUANTIZATION: Quantization = 'none';

/** Every accepted value, in the order error messages list them. */
export const QUANTIZATIONS: readonly Quantization[] = ['none', 'int8', 'int16'];

/** Codes of the segment file format (offset 60 of the header); never renumber. */
export const QUANTIZATION_CODES: Readonly<Record<Quantization, number>> = { none: 0, int8: 1, int16: 2 };

/** The quantization for a file's code, or undefined if unknown. */
export function quantizationFromCode(code: number): Quantization | undefined {
  return QUANTIZATIONS.find((q) => QUANTIZATION_CODES[q] === code);
}

/** Reads `none`, `int8` or `int16` (any case, quotes trimmed by the caller). */
export function parseQuantization(text: string, what = 'quantization'): Quantization {
  const value = text.trim().toLowerCase();
  const found = QUANTIZATIONS.find((q) => q === value);
  if (found === undefined) {
    // The value may come from a bound parameter or a comment, so it is not echoed back.
    throw new QuiverError('SQL_ERROR', `${what} must be one of ${QUANTIZATIONS.join(', ')}`);
  }
  return found;
}

/** Largest code magnitude: codes are symmetric, so −128 / −32768 are never written. */
export function codeLimit(q: Exclude<Quantization, 'none'>): number {
  return q === 'int8' ? 127 : 32767;
}

/** Bytes per code. */
function codeBytes(q: Exclude<Quantization, 'none'>): number {
  return q === 'int8' ? 1 : 2;
}

/** Bytes of scale and norm² in front of the codes. */
export const RECORD_HEADER_BYTES = 8;

/**
 * Floats (4-byte units) one node takes in an arena: the graph dims for float32, else the
 * record of `codedDims` codes. Always 2 + 4c for records, so the codes span whole 16-byte chunks.
 */
export function recordFloats(q: Quantization, codedDims: number, graphDims: number): number {
  if (q === 'none') return graphDims;
  const chunks = Math.ceil((codedDims * codeBytes(q)) / 16);
  return RECORD_HEADER_BYTES / 4 + 4 * Math.max(1, chunks);
}

/** Typed views of one memory, as the encoder and decoder need them. */
export interface RecordViews {
  floats: Float32Array;
  bytes: Int8Array;
  shorts: Int16Array;
}

/** Views of `floats` floats of `buffer` from byte `byteOffset` (4-aligned), for the functions below. */
export function recordViews(buffer: ArrayBufferLike, byteOffset: number, floats: number): RecordViews {
  return {
    floats: new Float32Array(buffer, byteOffset, floats),
    bytes: new Int8Array(buffer, byteOffset, floats * 4),
    shorts: new Int16Array(buffer, byteOffset, floats * 2),
  };
}

/**
 * Writes the record of the graph-form vector `src[srcOffset ..+ graphDims]` at float index
 * `at` of `out`: its first `codedDims` coordinates as codes, the rest folded into norm².
 */
export function encodeRecord(
  q: Exclude<Quantization, 'none'>,
  src: Float32Array,
  srcOffset: number,
  codedDims: number,
  graphDims: number,
  stride: number,
  out: RecordViews,
  at: number,
): void {
  const limit = codeLimit(q);
  let max = 0;
  for (let j = 0; j < codedDims; j++) {
    const a = Math.abs(src[srcOffset + j]);
    if (a > max) max = a;
  }
  const scale = Math.fround(max / limit);
  const inverse = scale > 0 ? 1 / scale : 0;
  let codeNorm = 0;
  const int8 = q === 'int8';
  const base = int8 ? at * 4 + RECORD_HEADER_BYTES : at * 2 + RECORD_HEADER_BYTES / 2;
  const slots = int8 ? (stride * 4 - RECORD_HEADER_BYTES) : (stride * 4 - RECORD_HEADER_BYTES) / 2;
  const codes = int8 ? out.bytes : out.shorts;
  for (let j = 0; j < slots; j++) {
    let c = 0;
    if (j < codedDims) {
      c = Math.round(src[srcOffset + j] * inverse);
      // Rounding can land one past the limit when max / scale is not exact in float32.
      if (c > limit) c = limit;
      else if (c < -limit) c = -limit;
      codeNorm += c * c;
    }
    codes[base + j] = c;
  }
  let rest = 0;
  for (let j = codedDims; j < graphDims; j++) rest += src[srcOffset + j] * src[srcOffset + j];
  out.floats[at] = scale;
  out.floats[at + 1] = codeNorm * scale * scale + rest;
}

/** The dequantized first `codedDims` coordinates of the record at float index `at`, into `dst`. */
export function decodeRecord(
  q: Exclude<Quantization, 'none'>,
  views: RecordViews,
  at: number,
  codedDims: number,
  dst: Float32Array,
  dstOffset = 0,
): void {
  const scale = views.floats[at];
  if (q === 'int8') {
    const base = at * 4 + RECORD_HEADER_BYTES;
    for (let j = 0; j < codedDims; j++) dst[dstOffset + j] = views.bytes[base + j] * scale;
  } else {
    const base = at * 2 + RECORD_HEADER_BYTES / 2;
    for (let j = 0; j < codedDims; j++) dst[dstOffset + j] = views.shorts[base + j] * scale;
  }
}

/**
 * Why the record at `at` cannot be trusted (a scale or norm that is not a finite non-negative
 * float, a code past the limit, a non-zero pad), or null. A file that passes its checksum is
 * still checked, since a code of −32768 could overflow the int16 kernel.
 */
export function checkRecord(
  q: Exclude<Quantization, 'none'>,
  views: RecordViews,
  at: number,
  codedDims: number,
  stride: number,
): string | null {
  const scale = views.floats[at];
  const norm = views.floats[at + 1];
  if (!(scale >= 0) || !Number.isFinite(scale) || !(norm >= 0) || !Number.isFinite(norm)) return 'bad scale or norm';
  const limit = codeLimit(q);
  const int8 = q === 'int8';
  const codes = int8 ? views.bytes : views.shorts;
  const base = int8 ? at * 4 + RECORD_HEADER_BYTES : at * 2 + RECORD_HEADER_BYTES / 2;
  const slots = int8 ? stride * 4 - RECORD_HEADER_BYTES : (stride * 4 - RECORD_HEADER_BYTES) / 2;
  for (let j = 0; j < slots; j++) {
    const c = codes[base + j];
    if (j < codedDims ? c < -limit || c > limit : c !== 0) return `code ${j} is ${c}`;
  }
  return null;
}
