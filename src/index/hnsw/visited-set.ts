/**
 * @module index/hnsw/visited-set
 * The visited set v of algorithm 2, as hnswlib keeps it: one Uint16Array of marks indexed by
 * node and a generation number. A node is visited when its mark equals the current generation,
 * so starting a search costs one increment instead of clearing or allocating a set; only when
 * the generation wraps (every 65,535 searches) are the marks zeroed. One instance belongs to
 * one searcher on one thread.
 */

export class VisitedSet {
  marks: Uint16Array;
  generation = 0;

  constructor(capacity: number) {
    this.marks = new Uint16Array(Math.max(1, capacity));
  }

  /** Starts a new search over nodes [0, capacity); returns the generation that marks a visit. */
  next(capacity: number): number {
    if (capacity > this.marks.length) {
      this.marks = new Uint16Array(capacity);
      this.generation = 0;
    }
    if (this.generation === 0xffff) {
      this.marks.fill(0);
      this.generation = 0;
    }
    return ++this.generation;
  }
}
