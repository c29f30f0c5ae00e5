/**
 * @module index/segment/alive-bitset
 * A segment's delete bitmap, named for what a set bit means (Tantivy's AliveBitSet): bit n set
 * = node n's row is alive and may be returned. A delete clears the bit at once; the node stays
 * in the graph and keeps routing searches until a merge drops it (PolarDB's delete bitmap).
 * Bits only ever go from set to clear, so the dead count is a version: a segment whose count
 * has not moved since it was written need not be written again. Bits past `size` in the last
 * word are always clear, so the words can be scanned and counted without masking.
 */

/**
 * What a search reads of a segment's alive bits: an AliveBitSet, or the copy of one that a
 * view took (the owner keeps clearing bits in place, so a view cannot share the words).
 */
export interface AliveRows {
  readonly words: Uint32Array;
  readonly deadCount: number;
  readonly aliveCount: number;
}

export class AliveBitSet implements AliveRows {
  readonly size: number;
  readonly words: Uint32Array;
  private dead: number;

  private constructor(size: number, words: Uint32Array, dead: number) {
    this.size = size;
    this.words = words;
    this.dead = dead;
  }

  /** Every one of `size` rows alive. */
  static allAlive(size: number): AliveBitSet {
    const words = new Uint32Array(wordCount(size));
    words.fill(0xffffffff);
    const rest = size & 31;
    if (rest !== 0) words[words.length - 1] = (2 ** rest - 1) >>> 0;
    return new AliveBitSet(size, words, 0);
  }

  /** A bitset over existing words (e.g. read from a file); null if bits past `size` are set. */
  static fromWords(size: number, words: Uint32Array): AliveBitSet | null {
    if (words.length !== wordCount(size)) return null;
    const rest = size & 31;
    if (rest !== 0 && words[words.length - 1] >>> rest !== 0) return null;
    let alive = 0;
    for (let i = 0; i < words.length; i++) alive += popcount(words[i]);
    return new AliveBitSet(size, words, size - alive);
  }

  isAlive(n: number): boolean {
    return ((this.words[n >>> 5] >>> (n & 31)) & 1) !== 0;
  }

  /** Clears bit n; true if it was set. */
  kill(n: number): boolean {
    const w = n >>> 5;
    const bit = 1 << (n & 31);
    if ((this.words[w] & bit) === 0) return false;
    this.words[w] &= ~bit;
    this.dead++;
    return true;
  }

  get deadCount(): number {
    return this.dead;
  }

  get aliveCount(): number {
    return this.size - this.dead;
  }

  /** An independent copy (a snapshot for a file written while deletes go on). */
  clone(): AliveBitSet {
    return new AliveBitSet(this.size, this.words.slice(), this.dead);
  }

  /**
   * A plain copy to post to another thread with a view: the words are copied only when some
   * bit is clear (a search reads them only then).
   */
  snapshot(): AliveRows {
    return { words: this.dead > 0 ? this.words.slice() : NO_WORDS, deadCount: this.dead, aliveCount: this.aliveCount };
  }
}

const NO_WORDS = new Uint32Array(0);

export function wordCount(size: number): number {
  return (size + 31) >>> 5;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}
