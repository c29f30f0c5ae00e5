/** Reciprocal rank fusion as a pure function: the formula, weights, ties, and a brute-force oracle. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { reciprocalRankFusion } from '../../src/chat/fusion.ts';

describe('reciprocalRankFusion', () => {
  it('scores Σ weight / (rrfK + rank), ranks 1-based', () => {
    const fused = reciprocalRankFusion([{ weight: 1, keys: ['a', 'b', 'c'] }, { weight: 1, keys: ['c', 'a'] }], 60);
    expect(fused.map((f) => f.key)).toEqual(['a', 'c', 'b']);
    expect(fused[0]).toEqual({ key: 'a', score: 1 / 61 + 1 / 62, ranks: [1, 2] });
    expect(fused[1]).toEqual({ key: 'c', score: 1 / 63 + 1 / 61, ranks: [3, 1] });
    expect(fused[2]).toEqual({ key: 'b', score: 1 / 62, ranks: [2, null] });
  });

  it('lets a weight favour one list', () => {
    const lists = (w: number) => [{ weight: 1, keys: ['v1', 'v2'] }, { weight: w, keys: ['t1', 't2'] }];
    expect(reciprocalRankFusion(lists(1), 60)[0].key).toBe('v1');
    expect(reciprocalRankFusion(lists(2), 60)[0].key).toBe('t1');
    expect(reciprocalRankFusion(lists(0), 60).map((f) => f.score)).toEqual([1 / 61, 1 / 62, 0, 0]);
  });

  it('makes a smaller rrfK reward the top ranks more', () => {
    // b is 3rd in both lists; a and c are 1st in one each.
    const lists = [{ weight: 1, keys: ['a', 'x', 'b'] }, { weight: 1, keys: ['c', 'y', 'b'] }];
    expect(reciprocalRankFusion(lists, 60)[0].key).toBe('b');
    expect(reciprocalRankFusion(lists, 0).map((f) => f.key).slice(0, 3)).toEqual(['a', 'c', 'b']);
  });

  it('breaks ties by best rank, then by first appearance', () => {
    const fused = reciprocalRankFusion([{ weight: 1, keys: ['x', 'y'] }, { weight: 1, keys: ['y2', 'x2'] }], 60);
    expect(fused.map((f) => f.key)).toEqual(['x', 'y2', 'y', 'x2']);
  });

  it('counts a repeated key at its first rank only', () => {
    expect(reciprocalRankFusion([{ weight: 1, keys: ['a', 'a', 'b'] }], 60)).toEqual([
      { key: 'a', score: 1 / 61, ranks: [1] },
      { key: 'b', score: 1 / 63, ranks: [3] },
    ]);
  });

  it('agrees with a brute-force sum on random lists', () => {
    const list = fc.uniqueArray(fc.integer({ min: 0, max: 30 }).map(String), { maxLength: 20 });
    fc.assert(
      fc.property(list, list, fc.double({ min: 0, max: 5, noNaN: true }), fc.integer({ min: 0, max: 100 }), (a, b, w, k) => {
        const fused = reciprocalRankFusion([{ weight: 1, keys: a }, { weight: w, keys: b }], k);
        const keys = new Set([...a, ...b]);
        expect(fused.map((f) => f.key).sort()).toEqual([...keys].sort());
        for (const f of fused) {
          const ra = a.indexOf(f.key);
          const rb = b.indexOf(f.key);
          const expected = (ra >= 0 ? 1 / (k + ra + 1) : 0) + (rb >= 0 ? w / (k + rb + 1) : 0);
          expect(f.score).toBeCloseTo(expected, 12);
        }
        for (let i = 1; i < fused.length; i++) expect(fused[i - 1].score).toBeGreaterThanOrEqual(fused[i].score);
      }),
    );
  });
});
