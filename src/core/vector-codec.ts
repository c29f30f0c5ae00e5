/**
 * @module core/vector-codec
 * How a vector looks on disk, in SQL text and in JSON. On disk (and in SQLite) a vector is a
 * BLOB of float32 little-endian values (DESIGN decision 1); in text it is `[0.1, 0.2]`; in JSON
 * it is an array of the shortest decimals that round-trip to the same float32 values.
 */
import type Database from 'better-sqlite3';
import { QuiverError } from './errors.ts';

/** AliSQL's limit, kept so schemas move between the two unchanged. */
export const MAX_VECTOR_DIMS = 16383;
export const MIN_VECTOR_DIMS = 1;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Encodes a vector as the float32 little-endian bytes SQLite stores. */
export function encodeVector(values: ArrayLike<number>): Buffer {
  if (LITTLE_ENDIAN) {
    // One copy of the float32 bytes instead of a write per value.
    const floats = values instanceof Float32Array ? values : Float32Array.from(values);
    return Buffer.from(floats.buffer.slice(floats.byteOffset, floats.byteOffset + floats.byteLength));
  }
  const buf = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) buf.writeFloatLE(values[i], i * 4);
  return buf;
}

/**
 * A vector as a SQL function's BLOB result: a view of its bytes where they already are
 * little-endian (better-sqlite3 hands function results to SQLite as SQLITE_TRANSIENT, so SQLite
 * copies them), else an encoded copy.
 */
export function vectorBlob(vector: Float32Array): Buffer {
  return LITTLE_ENDIAN ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength) : encodeVector(vector);
}

/** Decodes a stored vector BLOB; the caller has checked that its length is a multiple of 4. */
export function decodeVector(blob: Uint8Array): Float32Array {
  if (LITTLE_ENDIAN && blob.byteOffset % 4 === 0) {
    // A view is enough, but the caller may keep it after SQLite reuses the buffer: copy.
    return new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
  }
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const out = new Float32Array(blob.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/**
 * A vector BLOB read in place, for use during one call only (SQLite may reuse the memory
 * after): no copy when the bytes are aligned, which is how better-sqlite3 hands them over.
 */
export function viewVector(blob: Uint8Array): Float32Array {
  if (LITTLE_ENDIAN && blob.byteOffset % 4 === 0) return new Float32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4);
  return decodeVector(blob);
}

/**
 * The float32 originals a quantized index re-ranks from (src/index/rerank.ts), read by rowid
 * with `readRow()` (a statement whose one column is `v`): the row's vector when it has `dims`
 * floats, else null. Used by the engine's thread and by read workers, each on its connection.
 */
export function originalsReader(readRow: () => Database.Statement, dims: number): (rowId: number) => Float32Array | null {
  return (rowId) => {
    const v = (readRow().get(rowId) as { v: unknown } | undefined)?.v;
    return v instanceof Uint8Array && v.byteLength === dims * 4 ? viewVector(v) : null;
  };
}

/**
 * Parses `[0.1, 0.2]` (JSON-style, as VEC_FROMTEXT takes it). `what` names the input in errors.
 * Every element must be a finite number that float32 can hold.
 */
export function parseVectorText(text: string, what = 'vector text'): Float32Array {
  const trimmed = text.trim();
  if (!trimmed.startsWith('[') || !trimmed.endsWith(']')) {
    throw new QuiverError('INVALID_VECTOR', `${what} must look like '[0.1, 0.2, ...]'`);
  }
  const body = trimmed.slice(1, -1).trim();
  if (body === '') throw new QuiverError('INVALID_VECTOR', `${what} has no elements; a vector needs at least ${MIN_VECTOR_DIMS}`);
  const parts = body.split(',');
  const out = new Float32Array(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i].trim();
    const value = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(part) ? Number(part) : NaN;
    out[i] = value;
    if (!Number.isFinite(out[i])) {
      throw new QuiverError('INVALID_VECTOR', `${what}: element ${i + 1} is not a finite float32 number`);
    }
  }
  checkDims(out.length, what);
  return out;
}

/** Throws unless `dims` is a legal vector length. */
export function checkDims(dims: number, what: string): void {
  if (dims < MIN_VECTOR_DIMS || dims > MAX_VECTOR_DIMS) {
    throw new QuiverError(
      'INVALID_VECTOR',
      `${what} has ${dims} dimensions; a vector has ${MIN_VECTOR_DIMS} to ${MAX_VECTOR_DIMS}`,
    );
  }
}

/** The shortest decimal that reads back as the same float32 (0.6f -> 0.6, not 0.6000000238). */
export function shortestFloat32(value: number): number {
  if (!Number.isFinite(value) || value === 0) return value;
  for (let precision = 1; precision < 9; precision++) {
    const candidate = Number(value.toPrecision(precision));
    if (Math.fround(candidate) === value) return candidate;
  }
  return Number(value.toPrecision(9));
}

/** A vector as a JSON-ready array of shortest float32 decimals. */
export function vectorToNumbers(vector: Float32Array): number[] {
  const out = new Array<number>(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = shortestFloat32(vector[i]);
  return out;
}

/** A vector as VEC_TOTEXT prints it: `[0.1,0.2]`. */
export function formatVectorText(vector: Float32Array): string {
  return `[${vectorToNumbers(vector).join(',')}]`;
}
