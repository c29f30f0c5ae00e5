/**
 * @module tests/index/merge-policy.test
 * The merge policy as a table: a pure function of the segment list, so each case is input and
 * expected groups, nothing else.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MERGE_POLICY, chooseMerges, type SegmentSummary } from '../../src/index/testing.ts';

const seg = (id: number, rows: number, aliveRows = rows): SegmentSummary => ({ id, rows, aliveRows });
const policy = { ...DEFAULT_MERGE_POLICY, minSegments: 3, minLevelRows: 1000, maxMergedRows: 1_000_000, maxDeletedFraction: 0.25 };

describe('chooseMerges', () => {
  const cases: [string, SegmentSummary[], number[][]][] = [
    ['nothing to do with no segments', [], []],
    ['nothing with fewer than minSegments per level', [seg(1, 5000), seg(2, 5000)], []],
    ['merges a full level of similar sizes', [seg(1, 5000), seg(2, 4800), seg(3, 5100)], [[1, 2, 3]]],
    ['treats everything under minLevelRows as one level', [seg(1, 10), seg(2, 900), seg(3, 500)], [[1, 2, 3]]],
    ['keeps sizes from different levels apart', [seg(1, 100_000), seg(2, 5000), seg(3, 5000)], []],
    [
      'merges each full level separately',
      [seg(1, 100_000), seg(2, 90_000), seg(3, 95_000), seg(4, 2000), seg(5, 2100), seg(6, 2050)],
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
    ],
    ['rewrites a segment past the deleted fraction, alone', [seg(1, 10_000, 7000), seg(2, 50_000)], [[1]]],
    ['drops a segment with nothing alive', [seg(4, 10_000, 0)], [[4]]],
    ['counts alive rows, not rows, for levels', [seg(1, 8000, 7000), seg(2, 100_000, 7100), seg(3, 7000)], [[2]]],
  ];
  for (const [name, segments, expected] of cases) {
    it(name, () => {
      expect(chooseMerges(segments, policy)).toEqual(expected);
    });
  }

  it('never merges past maxMergedRows, taking the smallest first', () => {
    const groups = chooseMerges([seg(1, 400_000), seg(2, 380_000), seg(3, 390_000), seg(4, 410_000)], { ...policy, maxMergedRows: 900_000 });
    expect(groups).toEqual([[2, 3]]);
  });

  it('is pure: the same list gives the same answer, and the input is untouched', () => {
    const input = [seg(3, 5000), seg(1, 5000), seg(2, 5000)];
    const copy = structuredClone(input);
    expect(chooseMerges(input, policy)).toEqual(chooseMerges(input, policy));
    expect(input).toEqual(copy);
  });
});
