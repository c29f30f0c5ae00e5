/**
 * @module index/lifecycle/layout
 * Where the live rows of one index are. Every live row is in exactly one place — a segment,
 * the frozen tail of a running flush, or the tail — and `location` says which. The index
 * inserts into the tail and deletes wherever the row is; a flush (./flush.ts) and a merge
 * (./merge.ts) move rows into a new segment, each in one synchronous step, so a search (which
 * reads segments, frozen tail and tail together) never sees a row twice or misses it. Only the
 * index's thread reads or changes a layout; other threads search views of it (../view-data.ts).
 */
import type { Segment } from '../segment/segment.ts';
import type { Tail } from './tail.ts';

/** A place a live row can be. */
export type Location = Segment | Tail;

/** The places of one index and where each live row is. */
export interface Layout {
  segments: Segment[];
  /** The tail a running flush is building a segment from: takes no inserts, still searched. */
  frozen: Tail | null;
  /** Takes every insert. */
  tail: Tail;
  readonly location: Map<number, Location>;
}
