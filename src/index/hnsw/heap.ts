/**
 * @module index/hnsw/heap
 * A binary min-heap of (key, node) pairs over two typed arrays, the priority queue behind the
 * candidate set C and the result set W of algorithm 2 (SEARCH-LAYER). W must pop its farthest
 * element, so callers keep it as a min-heap of negated keys rather than a second class, and
 * empty it nearest first with `drainNegated`. A heap grows by doubling and is reused across
 * searches (`clear()` only resets the size), so a warm search allocates nothing.
 */

const INITIAL_CAPACITY = 64;

export class MinHeap {
  keys: Float64Array;
  nodes: Int32Array;
  size = 0;

  constructor(capacity = INITIAL_CAPACITY) {
    this.keys = new Float64Array(Math.max(1, capacity));
    this.nodes = new Int32Array(Math.max(1, capacity));
  }

  clear(): void {
    this.size = 0;
  }

  /** The smallest key; undefined behaviour on an empty heap (callers check `size`). */
  topKey(): number {
    return this.keys[0];
  }

  topNode(): number {
    return this.nodes[0];
  }

  push(key: number, node: number): void {
    if (this.size === this.keys.length) this.grow();
    const keys = this.keys;
    const nodes = this.nodes;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pk = keys[parent];
      if (pk <= key) break;
      keys[i] = pk;
      nodes[i] = nodes[parent];
      i = parent;
    }
    keys[i] = key;
    nodes[i] = node;
  }

  /** Removes the top: the last element takes its place and sifts down. */
  pop(): void {
    const size = --this.size;
    if (size > 0) this.replaceTop(this.keys[size], this.nodes[size]);
  }

  /** Replaces the top with (key, node) and restores order: a pop and a push in one sift. */
  replaceTop(key: number, node: number): void {
    const size = this.size;
    const keys = this.keys;
    const nodes = this.nodes;
    let i = 0;
    const half = size >> 1;
    while (i < half) {
      let child = 2 * i + 1;
      let ck = keys[child];
      const right = child + 1;
      if (right < size && keys[right] < ck) {
        child = right;
        ck = keys[right];
      }
      if (key <= ck) break;
      keys[i] = ck;
      nodes[i] = nodes[child];
      i = child;
    }
    keys[i] = key;
    nodes[i] = node;
  }

  /**
   * Empties a heap of negated keys (a result set W) into the out arrays nearest first, with the
   * keys restored; returns how many.
   */
  drainNegated(outNodes: Int32Array, outKeys: Float64Array): number {
    const found = this.size;
    for (let i = found - 1; i >= 0; i--) {
      outNodes[i] = this.nodes[0];
      outKeys[i] = -this.keys[0];
      this.pop();
    }
    return found;
  }

  private grow(): void {
    const keys = new Float64Array(this.keys.length * 2);
    const nodes = new Int32Array(this.nodes.length * 2);
    keys.set(this.keys);
    nodes.set(this.nodes);
    this.keys = keys;
    this.nodes = nodes;
  }
}
