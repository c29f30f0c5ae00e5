/**
 * @module index/lifecycle/merge-policy
 * Which segments to merge, decided by a pure function of the segment list (Tantivy's
 * LogMergePolicy, adapted): no clock, no I/O, no state, so every decision can be tested as a
 * table. Two reasons to merge:
 *
 * - too many segments of similar size: segments are grouped into levels by log2 of their alive
 *   rows (a level spans `levelLogSize`; everything below `minLevelRows` counts as one level),
 *   and a level with `minSegments` or more is merged into one. Each search visits every
 *   segment, so fewer, larger segments answer faster; merging only similar sizes keeps the
 *   total rewrite cost O(n log n) over the index's life.
 * - too many deletes: a segment whose deleted fraction passes `maxDeletedFraction` is rewritten
 *   alone, dropping its dead rows (they still cost memory and route searches). A segment with
 *   no alive row left is simply dropped.
 */

/** What the policy sees of a segment. */
export interface SegmentSummary {
  id: number;
  rows: number;
  aliveRows: number;
}

export interface MergePolicy {
  /** A level merges once it holds this many segments. */
  minSegments: number;
  /** Width of a level in log2(rows). */
  levelLogSize: number;
  /** Segments below this many alive rows all count as this size (one bottom level). */
  minLevelRows: number;
  /** No merge produces a segment with more alive rows than this. */
  maxMergedRows: number;
  /** A segment whose deleted fraction exceeds this is rewritten. */
  maxDeletedFraction: number;
}

export const DEFAULT_MERGE_POLICY: Readonly<MergePolicy> = {
  minSegments: 4,
  levelLogSize: 0.75,
  minLevelRows: 10_000,
  maxMergedRows: 4_000_000,
  maxDeletedFraction: 0.2,
};

/** Groups of segment ids to merge, most urgent first; each group becomes one segment. */
export function chooseMerges(segments: readonly SegmentSummary[], policy: MergePolicy = DEFAULT_MERGE_POLICY): number[][] {
  const groups: number[][] = [];
  const taken = new Set<number>();
  for (const s of segments) {
    const deleted = s.rows === 0 ? 0 : (s.rows - s.aliveRows) / s.rows;
    if (s.aliveRows === 0 || deleted > policy.maxDeletedFraction) {
      groups.push([s.id]);
      taken.add(s.id);
    }
  }
  const rest = segments
    .filter((s) => !taken.has(s.id))
    .map((s) => ({ id: s.id, alive: s.aliveRows, log: Math.log2(Math.max(s.aliveRows, policy.minLevelRows, 1)) }))
    .sort((a, b) => b.alive - a.alive || a.id - b.id);
  let i = 0;
  while (i < rest.length) {
    const top = rest[i].log;
    let j = i;
    while (j < rest.length && rest[j].log > top - policy.levelLogSize) j++;
    const level = rest.slice(i, j);
    i = j;
    if (level.length < policy.minSegments) continue;
    // Smallest first, so a cap on merged rows keeps the cheap merges.
    level.reverse();
    const group: number[] = [];
    let rows = 0;
    for (const s of level) {
      if (rows + s.alive > policy.maxMergedRows) break;
      group.push(s.id);
      rows += s.alive;
    }
    if (group.length >= 2) groups.push(group.sort((a, b) => a - b));
  }
  return groups;
}
