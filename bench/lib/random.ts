/**
 * @module bench/lib/random
 * A seeded pseudo-random source, so every run of a benchmark loads the same rows and sends the
 * same request bodies, and Quiver and the baseline see identical data. The generator is
 * mulberry32 (Tommy Ettinger's 32-bit mixer): tiny and fast, and statistical quality is not
 * what a benchmark's data needs.
 */

/** Decimals kept per vector element: realistic JSON length without 17-digit doubles. */
const VECTOR_DECIMALS = 1e6;

export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** `dims` values in [-1, 1), rounded to six decimals. */
  vector(dims: number): number[] {
    const out = new Array<number>(dims);
    for (let i = 0; i < dims; i++) out[i] = Math.round((this.next() * 2 - 1) * VECTOR_DECIMALS) / VECTOR_DECIMALS;
    return out;
  }
}
