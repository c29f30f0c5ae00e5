/** Extractive answers as pure functions: sentence splitting, scoring by term coverage and similarity, choice, citation. */
import { describe, expect, it } from 'vitest';
import {
  MAX_ANSWER_SENTENCES,
  MAX_CANDIDATE_SENTENCES,
  candidateSentences,
  chooseExtracts,
  extractiveText,
  rankSentences,
  splitSentences,
} from '../../src/chat/extractive.ts';
import type { Source } from '../../src/chat/index.ts';

function source(citation: number, text: string): Source {
  return { citation, rowId: citation, text, distance: null, textScore: null, fusedScore: 0, vectorRank: null, textRank: null, columns: {} };
}

describe('splitSentences', () => {
  it('splits at sentence ends and line breaks, and drops empty pieces', () => {
    expect(splitSentences('HashMatch is a join. It hashes!  Why?\nNext line\n\n...')).toEqual(['HashMatch is a join.', 'It hashes!', 'Why?', 'Next line']);
  });

  it('keeps decimals and versions whole', () => {
    expect(splitSentences('Version 1.2 is out. It costs 3.5 dollars.')).toEqual(['Version 1.2 is out.', 'It costs 3.5 dollars.']);
  });

  it('splits after CJK sentence ends without spaces', () => {
    expect(splitSentences('向量索引很快。全文检索也很快！')).toEqual(['向量索引很快。', '全文检索也很快！']);
  });

  it('cuts a sentence that never ends', () => {
    const [only] = splitSentences('word '.repeat(400));
    expect(only.length).toBeLessThanOrEqual(1001);
    expect(only.endsWith('…')).toBe(true);
  });
});

describe('candidateSentences', () => {
  it('takes sources in order, without repeated sentences, each with its citation', () => {
    const got = candidateSentences([source(1, 'A is one. B is two.'), source(2, 'b is two. C is three.')]);
    expect(got).toEqual([
      { citation: 1, sentence: 'A is one.' },
      { citation: 1, sentence: 'B is two.' },
      { citation: 2, sentence: 'C is three.' },
    ]);
  });

  it('stops at MAX_CANDIDATE_SENTENCES', () => {
    const text = Array.from({ length: MAX_CANDIDATE_SENTENCES + 50 }, (_, i) => `Sentence ${i}.`).join(' ');
    expect(candidateSentences([source(1, text)])).toHaveLength(MAX_CANDIDATE_SENTENCES);
  });
});

describe('rankSentences', () => {
  const candidates = [
    { citation: 1, sentence: 'PolarDB IMCI is a column store.' },
    { citation: 1, sentence: 'HashMatch is a join operator in PolarDB IMCI.' },
    { citation: 2, sentence: 'The puppy chased the ball.' },
  ];

  it('ranks by idf-weighted coverage of the question, rare words counting more', () => {
    const ranked = rankSentences('What is HashMatch in PolarDB?', candidates);
    expect(ranked.map((e) => e.sentence)[0]).toBe('HashMatch is a join operator in PolarDB IMCI.');
    expect(ranked[0].overlap).toBe(1);
    expect(ranked[0].similarity).toBeNull();
    expect(ranked[1].overlap).toBeGreaterThan(0);
    expect(ranked[1].overlap).toBeLessThan(0.5);
    expect(ranked[2].overlap).toBe(0);
  });

  it('matches plurals and case', () => {
    const [best] = rankSentences('vector INDEXES', [{ citation: 1, sentence: 'A vector index.' }, { citation: 2, sentence: 'Nothing here.' }]);
    expect(best.citation).toBe(1);
    expect(best.overlap).toBe(1);
  });

  it('mixes in embedding similarity when distances are given', () => {
    // No shared words: only the similarity can rank, and the closer sentence wins.
    const ranked = rankSentences('canine', candidates, [0.9, 0.8, 0.2]);
    expect(ranked[0].sentence).toBe('The puppy chased the ball.');
    expect(ranked[0].similarity).toBeCloseTo(0.8, 12);
    expect(ranked[0].score).toBeCloseTo(0.4, 12);
  });

  it('keeps candidate order among equal scores', () => {
    const ranked = rankSentences('zzz', candidates);
    expect(ranked.map((e) => e.sentence)).toEqual(candidates.map((c) => c.sentence));
  });
});

describe('chooseExtracts and extractiveText', () => {
  it('takes the best sentence and those close to it, at most MAX_ANSWER_SENTENCES', () => {
    const e = (score: number, citation: number) => ({ citation, sentence: `S${citation}.`, score, overlap: score, similarity: null });
    expect(chooseExtracts([e(1, 1), e(0.9, 2), e(0.2, 3)]).map((x) => x.citation)).toEqual([1, 2]);
    expect(chooseExtracts([e(1, 1), e(1, 2), e(1, 3), e(1, 4), e(1, 5)])).toHaveLength(MAX_ANSWER_SENTENCES);
    expect(chooseExtracts([e(0, 1), e(0, 2)]).map((x) => x.citation)).toEqual([1]);
    expect(chooseExtracts([])).toEqual([]);
  });

  it('cites each sentence before its closing punctuation', () => {
    const e = (sentence: string, citation: number) => ({ citation, sentence, score: 1, overlap: 1, similarity: null });
    expect(extractiveText([e('HashMatch is a join operator.', 1), e('Is it fast?', 3), e('No punctuation', 2)])).toBe(
      'HashMatch is a join operator [1]. Is it fast [3]? No punctuation [2].',
    );
    expect(extractiveText([])).toBe('');
  });
});
