/**
 * @module index/kernels
 * The index's hot distance kernels, in WebAssembly SIMD, over vectors that live in a
 * WebAssembly.Memory — a {@link VectorArena}. Plain JavaScript reads one float32 at a time and
 * widens it to float64; the 128-bit kernels below do four lanes per instruction with four
 * independent accumulators, several times faster even counting the call from JavaScript
 * (BENCHMARKS.md, bench:ann). They accumulate in float32, as hnswlib's kernels
 * do: that is plenty to rank neighbours, and the index recomputes the final k distances in
 * float64 with ./distance.ts, so what a caller sees matches the SQL functions.
 *
 * The module is about a kilobyte, written here byte by byte (there is no toolchain to keep
 * in the build), validated once, and instantiated once per arena; each instance exports
 * `negDot(a, b, n)` and `l2(a, b, n)`, where a and b are float indexes into the arena (the
 * kernel shifts them to byte offsets) and n is the length, and batched forms that score a list
 * of node ids against one query in a single call. `q8NegDot`, `q8L2`, `q16NegDot`, `q16L2`
 * (and their batches) do the same over quantized records (./quantization.ts), with n the
 * record stride: an integer dot product of the codes (i32x4.dot_i16x8_s) scaled by both
 * records' scales. A runtime without WebAssembly SIMD gets JavaScript kernels with the same
 * signature. Arenas on a shared memory can be posted to
 * a worker, which is how a flush or merge builds a graph without copying its vectors back.
 */
import { dotAt, squaredEuclideanAt } from './distance.ts';
import type { Quantization } from './quantization.ts';

/** A kernel over float indexes a and b of one arena, length n; smaller is closer. */
export type ArenaKernel = (a: number, b: number, n: number) => number;

/**
 * A batched kernel: for i < count, out[i] = kernel(ids[i] × n, q, n), where `ids` is an int32
 * index and `out` a float index into the arena. One call from JavaScript scores all the new
 * neighbours of a node, so the JS-to-WebAssembly boundary is crossed once per expansion, not
 * once per neighbour.
 */
export type ArenaBatchKernel = (ids: number, count: number, q: number, n: number, out: number) => void;

const PAGE_BYTES = 65536;
/** wasm32 addresses at most 4 GiB; one arena (one segment) stays below it. */
export const MAX_ARENA_FLOATS = Math.floor((65536 * PAGE_BYTES) / 4) - 16;

function uleb(value: number): number[] {
  const out: number[] = [];
  let n = value >>> 0;
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let n = value | 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function name(text: string): number[] {
  return [...uleb(text.length), ...Array.from(Buffer.from(text, 'utf8'))];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

// Opcodes used below (WebAssembly core spec 1.0 and the fixed-width SIMD proposal).
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
const I32_CONST = 0x41;
const I32_ADD = 0x6a;
const I32_AND = 0x71;
const I32_SHL = 0x74;
const I32_GE_U = 0x4f;
const I32_MUL = 0x6c;
const I32_LOAD = 0x28;
const F32_STORE = 0x38;
const CALL = 0x10;
const F32_LOAD = 0x2a;
const F32_ADD = 0x92;
const F32_SUB = 0x93;
const F32_MUL = 0x94;
const F32_NEG = 0x8c;
const BLOCK = 0x02;
const LOOP = 0x03;
const VOID = 0x40;
const BR = 0x0c;
const BR_IF = 0x0d;
const END = 0x0b;
const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const SIMD = 0xfd;
const V128_LOAD = [SIMD, 0x00];
const F32X4_EXTRACT_LANE = [SIMD, 0x1f];
const F32X4_ADD = [SIMD, 0xe4, 0x01];
const F32X4_SUB = [SIMD, 0xe5, 0x01];
const F32X4_MUL = [SIMD, 0xe6, 0x01];
const I32X4_EXTRACT_LANE = [SIMD, 0x1b];
const I16X8_EXTEND_LOW_I8X16_S = [SIMD, 0x87, 0x01];
const I16X8_EXTEND_HIGH_I8X16_S = [SIMD, 0x88, 0x01];
const I32X4_ADD = [SIMD, 0xae, 0x01];
const I32X4_DOT_I16X8_S = [SIMD, 0xba, 0x01];
const F32X4_CONVERT_I32X4_S = [SIMD, 0xfa, 0x01];
const F32_CONVERT_I32_S = 0xb2;

/**
 * One kernel body. Params: 0 = a, 1 = b (float indexes), 2 = n. Locals: 3 = byte cursor,
 * 4 = byte end, 5-8 = four v128 accumulators, 9 = scalar sum, 10 = v128 temp, 11 = f32 temp.
 * Loop 1 takes 16 floats per turn (four accumulators hide the add latency), loop 2 takes 4,
 * loop 3 the remaining 0-3 scalars.
 */
function kernelBody(l2: boolean): number[] {
  const get = (i: number) => [LOCAL_GET, i];
  const set = (i: number) => [LOCAL_SET, i];
  const konst = (v: number) => [I32_CONST, ...sleb(v)];
  const load = (offset: number) => [...V128_LOAD, 2, ...uleb(offset)];
  const lane = (acc: number, l: number) => [...get(acc), ...F32X4_EXTRACT_LANE, l];
  const step = (acc: number, offset: number) => [
    ...get(acc),
    ...get(0), ...get(3), I32_ADD, ...load(offset),
    ...get(1), ...get(3), I32_ADD, ...load(offset),
    ...(l2 ? [...F32X4_SUB, LOCAL_TEE, 10, ...get(10), ...F32X4_MUL] : F32X4_MUL),
    ...F32X4_ADD,
    ...set(acc),
  ];
  const loop = (endMask: number, stride: number, inner: number[]) => [
    ...get(2), ...konst(endMask), I32_AND, ...konst(2), I32_SHL, ...set(4),
    BLOCK, VOID, LOOP, VOID,
    ...get(3), ...get(4), I32_GE_U, BR_IF, 1,
    ...inner,
    ...get(3), ...konst(stride), I32_ADD, ...set(3),
    BR, 0, END, END,
  ];
  const code = [
    // Float indexes to byte offsets.
    ...get(0), ...konst(2), I32_SHL, ...set(0),
    ...get(1), ...konst(2), I32_SHL, ...set(1),
    ...loop(-16, 64, [...step(5, 0), ...step(6, 16), ...step(7, 32), ...step(8, 48)]),
    ...loop(-4, 16, step(5, 0)),
    ...get(5), ...get(6), ...F32X4_ADD, ...get(7), ...get(8), ...F32X4_ADD, ...F32X4_ADD, ...set(5),
    ...lane(5, 0), ...lane(5, 1), F32_ADD, ...lane(5, 2), F32_ADD, ...lane(5, 3), F32_ADD, ...set(9),
    ...loop(-1, 4, [
      ...get(9),
      ...get(0), ...get(3), I32_ADD, F32_LOAD, 2, 0,
      ...get(1), ...get(3), I32_ADD, F32_LOAD, 2, 0,
      ...(l2 ? [F32_SUB, LOCAL_TEE, 11, ...get(11), F32_MUL] : [F32_MUL]),
      F32_ADD, ...set(9),
    ]),
    ...get(9),
    ...(l2 ? [] : [F32_NEG]),
    END,
  ];
  const locals = [5, 2, I32, 4, V128, 1, F32, 1, V128, 1, F32];
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

/**
 * One kernel over quantized records (./quantization.ts): params 0 = a, 1 = b (float indexes of
 * two records), 2 = n (the record stride in floats). Locals: 3 = byte cursor, 4 = byte end,
 * 5-6 = v128 accumulators, 7-8 = v128 loads, 9 = f32 dot. int8: each 16-byte chunk is widened
 * to two i16x8 halves and multiplied pairwise into i32 lanes with i32x4.dot_i16x8_s (exact:
 * no lane can overflow, see quantization.ts); int16: one dot per chunk, converted to f32 at
 * once, since 2 × 32767² leaves no room to add a second chunk in i32. Then the scales (and, for
 * L2, the norms) of both records turn Σ ca·cb into the key. A call costs about what a float32
 * kernel's does, and a fraction of the JavaScript fallback's loops (BENCHMARKS.md, bench:ann),
 * so the gain in a graph walk is mostly memory: a 100-d node's record is 120 or 216 bytes
 * instead of 400.
 */
function quantizedKernelBody(int16: boolean, l2: boolean): number[] {
  const get = (i: number) => [LOCAL_GET, i];
  const set = (i: number) => [LOCAL_SET, i];
  const konst = (v: number) => [I32_CONST, ...sleb(v)];
  const load = () => [...V128_LOAD, 0, 0];
  const f32Load = (param: number, offset: number) => [...get(param), F32_LOAD, 2, offset];
  const inner = int16
    ? [
        ...get(5),
        ...get(0), ...get(3), I32_ADD, ...load(),
        ...get(1), ...get(3), I32_ADD, ...load(),
        ...I32X4_DOT_I16X8_S, ...F32X4_CONVERT_I32X4_S, ...F32X4_ADD, ...set(5),
      ]
    : [
        ...get(0), ...get(3), I32_ADD, ...load(), ...set(7),
        ...get(1), ...get(3), I32_ADD, ...load(), ...set(8),
        ...get(5), ...get(7), ...I16X8_EXTEND_LOW_I8X16_S, ...get(8), ...I16X8_EXTEND_LOW_I8X16_S,
        ...I32X4_DOT_I16X8_S, ...I32X4_ADD, ...set(5),
        ...get(6), ...get(7), ...I16X8_EXTEND_HIGH_I8X16_S, ...get(8), ...I16X8_EXTEND_HIGH_I8X16_S,
        ...I32X4_DOT_I16X8_S, ...I32X4_ADD, ...set(6),
      ];
  const laneSum = int16
    ? [
        ...get(5), ...F32X4_EXTRACT_LANE, 0, ...get(5), ...F32X4_EXTRACT_LANE, 1, F32_ADD,
        ...get(5), ...F32X4_EXTRACT_LANE, 2, F32_ADD, ...get(5), ...F32X4_EXTRACT_LANE, 3, F32_ADD,
      ]
    : [
        ...get(5), ...get(6), ...I32X4_ADD, ...set(5),
        ...get(5), ...I32X4_EXTRACT_LANE, 0, ...get(5), ...I32X4_EXTRACT_LANE, 1, I32_ADD,
        ...get(5), ...I32X4_EXTRACT_LANE, 2, I32_ADD, ...get(5), ...I32X4_EXTRACT_LANE, 3, I32_ADD,
        F32_CONVERT_I32_S,
      ];
  // dot = Σ ca·cb × sa × sb
  const dot = [...laneSum, ...f32Load(0, 0), F32_MUL, ...f32Load(1, 0), F32_MUL, ...set(9)];
  const key = l2
    ? [...f32Load(0, 4), ...f32Load(1, 4), F32_ADD, ...get(9), ...get(9), F32_ADD, F32_SUB]
    : [...get(9), F32_NEG];
  const code = [
    ...get(0), ...konst(2), I32_SHL, ...set(0),
    ...get(1), ...konst(2), I32_SHL, ...set(1),
    ...get(2), ...konst(2), I32_SHL, ...set(4),
    ...konst(8), ...set(3),
    BLOCK, VOID, LOOP, VOID,
    ...get(3), ...get(4), I32_GE_U, BR_IF, 1,
    ...inner,
    ...get(3), ...konst(16), I32_ADD, ...set(3),
    BR, 0, END, END,
    ...dot,
    ...key,
    END,
  ];
  const locals = [3, 2, I32, 4, V128, 1, F32];
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

/**
 * A batch body calling kernel `kernel` (function index). Params: 0 = ids (int32 index),
 * 1 = count, 2 = q (float index), 3 = n, 4 = out (float index). Local 5 = i.
 */
function batchBody(kernel: number): number[] {
  const get = (i: number) => [LOCAL_GET, i];
  const set = (i: number) => [LOCAL_SET, i];
  const konst = (v: number) => [I32_CONST, ...sleb(v)];
  const code = [
    ...get(0), ...konst(2), I32_SHL, ...set(0),
    ...get(4), ...konst(2), I32_SHL, ...set(4),
    BLOCK, VOID, LOOP, VOID,
    ...get(5), ...get(1), I32_GE_U, BR_IF, 1,
    // Address of out[i].
    ...get(4), ...get(5), ...konst(2), I32_SHL, I32_ADD,
    // kernel(ids[i] * n, q, n)
    ...get(0), ...get(5), ...konst(2), I32_SHL, I32_ADD, I32_LOAD, 2, 0, ...get(3), I32_MUL,
    ...get(2), ...get(3),
    CALL, kernel,
    F32_STORE, 2, 0,
    ...get(5), ...konst(1), I32_ADD, ...set(5),
    BR, 0, END, END,
    END,
  ];
  const body = [1, 1, I32, ...code];
  return [...uleb(body.length), ...body];
}

/** The module's functions, in function-index order (batch bodies call kernels by index). */
const EXPORTS = [
  'negDot', 'l2', 'negDotBatch', 'l2Batch',
  'q8NegDot', 'q8L2', 'q16NegDot', 'q16L2',
  'q8NegDotBatch', 'q8L2Batch', 'q16NegDotBatch', 'q16L2Batch',
] as const;

function moduleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  // Memory import limits: 0x00 = min only; 0x03 = shared, min and max (max is required).
  const limits = shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [2, 0x60, 3, I32, I32, I32, 1, F32, 0x60, 5, I32, I32, I32, I32, I32, 0]),
    ...section(2, [1, ...name('env'), ...name('memory'), 0x02, ...limits]),
    ...section(3, [12, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1]),
    ...section(7, [
      EXPORTS.length,
      ...EXPORTS.flatMap((kernel, i) => [...name(kernel), 0x00, i]),
    ]),
    ...section(10, [
      12,
      ...kernelBody(false), ...kernelBody(true), ...batchBody(0), ...batchBody(1),
      ...quantizedKernelBody(false, false), ...quantizedKernelBody(false, true),
      ...quantizedKernelBody(true, false), ...quantizedKernelBody(true, true),
      ...batchBody(4), ...batchBody(5), ...batchBody(6), ...batchBody(7),
    ]),
  ]);
}

let compiled: { plain: WebAssembly.Module | null; shared: WebAssembly.Module | null } | undefined;

/** The compiled kernel modules, or nulls where this runtime lacks WebAssembly SIMD. */
function modules(): { plain: WebAssembly.Module | null; shared: WebAssembly.Module | null } {
  if (compiled === undefined) {
    const compile = (bytes: Uint8Array<ArrayBuffer>) => {
      try {
        return WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
      } catch {
        return null;
      }
    };
    compiled = { plain: compile(moduleBytes(false)), shared: compile(moduleBytes(true)) };
  }
  return compiled;
}

/** Whether the WebAssembly SIMD kernels are in use (false: the JavaScript fallback). */
export function simdAvailable(): boolean {
  return modules().plain !== null;
}

/** The kernel and its batched form for one storage and one ranking. */
export interface KernelPair {
  kernel: ArenaKernel;
  batch: ArenaBatchKernel;
}

/**
 * Float32 storage in a WebAssembly.Memory plus the kernels bound to it. `floats` is a view of
 * the whole memory; it is replaced when the arena grows, so holders re-read it after `ensure`.
 * The same memory can hold quantized records instead of float32 vectors (./quantization.ts):
 * {@link VectorArena.kernels} gives the pair that reads them.
 */
export class VectorArena {
  readonly memory: WebAssembly.Memory;
  readonly shared: boolean;
  floats: Float32Array;
  /** An int32 view of the same memory (for batch id lists); replaced with `floats`. */
  ints: Int32Array;
  /** int8 and int16 views (quantized codes); replaced with `floats`. */
  bytes: Int8Array;
  shorts: Int16Array;
  /** −(a·b) between float indexes a and b, n long. */
  negDot: ArenaKernel;
  /** ‖a − b‖² between float indexes a and b, n long. */
  l2: ArenaKernel;
  negDotBatch: ArenaBatchKernel;
  l2Batch: ArenaBatchKernel;
  /** The quantized pairs, keyed `${quantization}:${l2}`. */
  private readonly quantized = new Map<string, KernelPair>();
  /** The module instance's exports; null on the JavaScript fallback. */
  private instance: WebAssembly.Exports | null = null;

  /** An arena of at least `floats` floats; `shared` puts it on a SharedArrayBuffer for workers. */
  constructor(floats: number, shared = false, memory?: WebAssembly.Memory) {
    this.shared = shared;
    this.memory = memory ?? VectorArena.newMemory(floats, shared);
    this.floats = new Float32Array(this.memory.buffer);
    this.ints = new Int32Array(this.memory.buffer);
    this.bytes = new Int8Array(this.memory.buffer);
    this.shorts = new Int16Array(this.memory.buffer);
    this.negDot = () => 0;
    this.l2 = () => 0;
    this.negDotBatch = () => {};
    this.l2Batch = () => {};
    this.bind();
  }

  /** An arena over a memory made elsewhere (a worker receiving a shared arena). */
  static fromMemory(memory: WebAssembly.Memory, shared: boolean): VectorArena {
    return new VectorArena(0, shared, memory);
  }

  private static newMemory(floats: number, shared: boolean): WebAssembly.Memory {
    if (floats > MAX_ARENA_FLOATS) {
      throw new RangeError(`a vector arena holds at most ${MAX_ARENA_FLOATS} floats; asked for ${floats}`);
    }
    const pages = Math.max(1, Math.ceil((floats * 4) / PAGE_BYTES));
    return shared
      ? new WebAssembly.Memory({ initial: pages, maximum: 65536, shared: true })
      : new WebAssembly.Memory({ initial: pages });
  }

  /**
   * The kernels over this arena's storage: float32 vectors for `none`, records of int8 or
   * int16 codes otherwise; −dot, or squared L2 when `l2`. For records, n is the stride.
   */
  kernels(quantization: Quantization, l2: boolean): KernelPair {
    if (quantization === 'none') {
      return l2 ? { kernel: this.l2, batch: this.l2Batch } : { kernel: this.negDot, batch: this.negDotBatch };
    }
    const key = `${quantization}:${l2}`;
    let pair = this.quantized.get(key);
    if (pair === undefined) {
      pair = this.bindQuantized(quantization, l2);
      this.quantized.set(key, pair);
    }
    return pair;
  }

  private bind(): void {
    const module = this.shared ? modules().shared : modules().plain;
    if (module !== null) {
      const exports = new WebAssembly.Instance(module, { env: { memory: this.memory } }).exports;
      this.instance = exports;
      this.negDot = exports.negDot as ArenaKernel;
      this.l2 = exports.l2 as ArenaKernel;
      this.negDotBatch = exports.negDotBatch as ArenaBatchKernel;
      this.l2Batch = exports.l2Batch as ArenaBatchKernel;
      return;
    }
    this.negDot = (a, b, n) => -dotAt(this.floats, a, this.floats, b, n);
    this.l2 = (a, b, n) => squaredEuclideanAt(this.floats, a, this.floats, b, n);
    this.negDotBatch = this.batchOf(this.negDot);
    this.l2Batch = this.batchOf(this.l2);
  }

  private batchOf(kernel: ArenaKernel): ArenaBatchKernel {
    return (ids, count, q, n, out) => {
      for (let i = 0; i < count; i++) this.floats[out + i] = kernel(this.ints[ids + i] * n, q, n);
    };
  }

  private bindQuantized(quantization: Exclude<Quantization, 'none'>, l2: boolean): KernelPair {
    const name = `${quantization === 'int8' ? 'q8' : 'q16'}${l2 ? 'L2' : 'NegDot'}`;
    if (this.instance !== null) {
      return { kernel: this.instance[name] as ArenaKernel, batch: this.instance[`${name}Batch`] as ArenaBatchKernel };
    }
    // JavaScript fallback: the same sums, in float64 (int8 sums are exact either way).
    const int8 = quantization === 'int8';
    const kernel: ArenaKernel = (a, b, n) => {
      const f = this.floats;
      const codes = int8 ? this.bytes : this.shorts;
      const perFloat = int8 ? 4 : 2;
      const slots = ((n - 2) * 4) / (int8 ? 1 : 2);
      const ca = (a + 2) * perFloat;
      const cb = (b + 2) * perFloat;
      let sum = 0;
      for (let j = 0; j < slots; j++) sum += codes[ca + j] * codes[cb + j];
      const dot = sum * f[a] * f[b];
      return l2 ? f[a + 1] + f[b + 1] - 2 * dot : -dot;
    };
    return { kernel, batch: this.batchOf(kernel) };
  }

  /** Re-reads the views if the memory grew (possibly on another thread sharing it). */
  refresh(): void {
    if (this.floats.byteLength !== this.memory.buffer.byteLength) {
      this.floats = new Float32Array(this.memory.buffer);
      this.ints = new Int32Array(this.memory.buffer);
      this.bytes = new Int8Array(this.memory.buffer);
      this.shorts = new Int16Array(this.memory.buffer);
    }
  }

  /**
   * Grows the memory to hold at least `floats` floats, by whole pages and no more (and
   * refreshes `floats`): a graph adds its lanes' scratch once, and the tail doubles its slots
   * itself.
   */
  ensure(floats: number): void {
    this.refresh();
    if (floats <= this.floats.length) return;
    if (floats > MAX_ARENA_FLOATS) {
      throw new RangeError(`a vector arena holds at most ${MAX_ARENA_FLOATS} floats; asked for ${floats}`);
    }
    const have = this.memory.buffer.byteLength / PAGE_BYTES;
    const want = Math.ceil((floats * 4) / PAGE_BYTES);
    this.memory.grow(want - have);
    this.refresh();
  }
}
