/**
 * @module bench/load/vectors
 * The load workload's "embedding model": a deterministic function from a text to a unit vector
 * with cluster structure, so an HNSW graph over it behaves as over real embeddings (neighbours
 * are near, queries land near data) rather than over uniform noise, where every point is about
 * equally far from every other. A text names its topic with a `t<n>` word; its vector is the
 * topic's centroid plus noise seeded by the whole text, normalised. A text with no topic word
 * gets one from its hash. The provider (./provider.ts) answers with these vectors and the
 * driver builds its query vectors with the same function, so queries are drawn like the rows.
 */
import { Random } from '../lib/random.ts';

/** Topics (clusters); queries and rows are spread evenly over them. */
export const TOPICS = 256;
/** Noise norm beside a unit centroid: neighbouring clusters overlap a little, as topics do. */
const NOISE = 0.6;
/** Decimals kept per element: JSON stays short, float32 keeps the rest. */
const SCALE = 1e5;
const CENTROID_SEED = 0x5eed;

const TOPIC_WORD = /\bt(\d+)\b/;

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** Standard normal values (Box-Muller) from `random`. */
function gaussian(random: Random, count: number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - random.next()));
    const a = 2 * Math.PI * random.next();
    out[i] = r * Math.cos(a);
    if (i + 1 < count) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

function normalise(v: Float64Array): Float64Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s) || 1;
  return v.map((x) => x / n);
}

/** Unit centroids per dims, built once per process. */
const centroids = new Map<number, Float64Array[]>();

function centroidsOf(dims: number): Float64Array[] {
  let list = centroids.get(dims);
  if (!list) {
    const random = new Random(CENTROID_SEED + dims);
    list = Array.from({ length: TOPICS }, () => normalise(gaussian(random, dims)));
    centroids.set(dims, list);
  }
  return list;
}

/** The topic a text belongs to: its `t<n>` word modulo TOPICS, else its hash's. */
export function topicOf(text: string): number {
  const match = TOPIC_WORD.exec(text);
  return (match ? Number(match[1]) : fnv1a(text)) % TOPICS;
}

/** The unit vector of `text`, `dims` long, on a 1e-5 grid. */
export function textVector(text: string, dims: number): number[] {
  const centroid = centroidsOf(dims)[topicOf(text)];
  const noise = normalise(gaussian(new Random(fnv1a(text)), dims));
  const v = normalise(centroid.map((c, i) => c + NOISE * noise[i]));
  return Array.from(v, (x) => Math.round(x * SCALE) / SCALE);
}
