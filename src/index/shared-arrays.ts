/**
 * @module index/shared-arrays
 * Typed arrays on SharedArrayBuffers, for the parts of a shareable index (../vector-index.ts,
 * `shareable`) that other threads read through views: posting a view shares these buffers
 * instead of copying them. An index that is not shareable keeps ordinary buffers, so these
 * helpers take the choice as an argument rather than deciding it.
 */

type SharedArray = Uint8Array | Int32Array | Float64Array;
type ArrayOf<T extends SharedArray> = { new (buffer: ArrayBufferLike): T; BYTES_PER_ELEMENT: number };

/** A zeroed Float64Array of `length`, on shared memory when `shared`. */
export function float64Array(length: number, shared: boolean): Float64Array {
  return shared ? new Float64Array(new SharedArrayBuffer(length * 8)) : new Float64Array(length);
}

/** `array` if it already is on shared memory, else a copy of it that is. */
export function sharedCopy<T extends SharedArray>(array: T): T {
  if (array.buffer instanceof SharedArrayBuffer) return array;
  const type = array.constructor as ArrayOf<T>;
  const copy = new type(new SharedArrayBuffer(array.length * type.BYTES_PER_ELEMENT));
  new Uint8Array(copy.buffer).set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  return copy;
}
