/**
 * @module fusion
 * Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): ranked lists of row keys
 * become one ranking where a row's score is Σ weight_i / (rrfK + rank_i) over the lists it
 * appears in, ranks 1-based. Only ranks matter, so a cosine distance and a BM25 score need no
 * common scale. Pure and deterministic: ties go to the row with the better best rank, then to
 * the row seen first (list order, then rank), so the same lists always fuse the same way.
 */

export interface RankedList {
  /** The list's weight in the sum; 0 leaves the list out. */
  weight: number;
  /** Row keys, best first; a key appearing twice counts at its first rank. */
  keys: readonly string[];
}

export interface FusedRow {
  key: string;
  score: number;
  /** The row's 1-based rank in each input list, null where it is absent. */
  ranks: (number | null)[];
}

/** Fuses `lists` with constant `rrfK`; every key of every list appears once in the result, best first. */
export function reciprocalRankFusion(lists: readonly RankedList[], rrfK: number): FusedRow[] {
  const rows = new Map<string, FusedRow & { order: number }>();
  lists.forEach((list, i) => {
    list.keys.forEach((key, position) => {
      let row = rows.get(key);
      if (!row) {
        row = { key, score: 0, ranks: lists.map(() => null), order: rows.size };
        rows.set(key, row);
      }
      if (row.ranks[i] !== null) return;
      const rank = position + 1;
      row.ranks[i] = rank;
      row.score += list.weight / (rrfK + rank);
    });
  });
  const best = (r: FusedRow) => Math.min(...r.ranks.map((x) => x ?? Infinity));
  return [...rows.values()]
    .sort((a, b) => b.score - a.score || best(a) - best(b) || a.order - b.order)
    .map(({ key, score, ranks }) => ({ key, score, ranks }));
}
