/**
 * @module index/row-filter
 * How a caller restricts a search to some rows: a predicate on row ids, or an
 * {@link AllowedRowBitSet} — the planner's "allowed row ids as a bitmap" for filtered ANN
 * (DESIGN.md, decision 5), named for what a set bit means. Either is checked inside graph
 * traversal for each node that could enter the results, never used to prune the walk.
 */

/** True if the row may be returned. Must be pure and cheap: it runs inside the search loop. */
export type RowFilter = (rowId: number) => boolean;

/**
 * Bit r set = row id r may be returned. Sized by the largest row id, so it suits SQLite's dense
 * integer rowids; for sparse or huge ids pass a predicate over a Set instead.
 */
export class AllowedRowBitSet {
  readonly words: Uint32Array;
  private count = 0;

  /** Room for row ids 0..maxRowId. */
  constructor(maxRowId: number) {
    if (!Number.isSafeInteger(maxRowId) || maxRowId < 0) {
      throw new RangeError(`maxRowId must be a non-negative safe integer; got ${maxRowId}`);
    }
    this.words = new Uint32Array(Math.floor(maxRowId / 32) + 1);
  }

  /** The bitset whose `words` another thread posted (a class instance crosses threads as plain data). */
  static fromWords(words: Uint32Array): AllowedRowBitSet {
    const set = new AllowedRowBitSet(0);
    (set as { words: Uint32Array }).words = words;
    for (const w of words) {
      let v = w;
      while (v !== 0) {
        v &= v - 1;
        set.count++;
      }
    }
    return set;
  }

  /** A bitset allowing exactly `rowIds`. */
  static of(rowIds: Iterable<number>): AllowedRowBitSet {
    const ids = [...rowIds];
    const set = new AllowedRowBitSet(ids.reduce((a, b) => (b > a ? b : a), 0));
    for (const id of ids) set.add(id);
    return set;
  }

  add(rowId: number): void {
    const w = Math.floor(rowId / 32);
    const bit = 1 << (rowId % 32);
    if ((this.words[w] & bit) === 0) {
      this.words[w] |= bit;
      this.count++;
    }
  }

  has(rowId: number): boolean {
    const w = Math.floor(rowId / 32);
    return w < this.words.length && ((this.words[w] >>> (rowId % 32)) & 1) !== 0;
  }

  /** How many row ids are allowed. */
  get size(): number {
    return this.count;
  }

  /** The bitset as a predicate. */
  toFilter(): RowFilter {
    const words = this.words;
    return (rowId) => {
      const w = Math.floor(rowId / 32);
      return w < words.length && ((words[w] >>> (rowId % 32)) & 1) !== 0;
    };
  }
}
