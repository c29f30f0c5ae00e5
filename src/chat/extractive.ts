/**
 * @module extractive
 * The answer /v1/chat gives when no chat model is configured (the offline quick start): the
 * retrieved passages' own sentences that best answer the question, each cited, and marked
 * `"mode": "extractive"` — quoted text, never generated text. A sentence's score mixes two
 * signals: how close its embedding is to the question's (the same model as the retrieval,
 * through EMBEDDING() in SQL, so the built-in model works offline), and how much of the
 * question's vocabulary it covers, each term weighted by its rarity among the candidate
 * sentences (idf), so "HashMatch" counts for more than "operator". Pure apart from
 * `sentenceDistances`, which asks the engine.
 */
import type { ChatEngine, Source } from './retrieval.ts';
import { terms } from './words.ts';
import { quoteString } from '../sql/index.ts';

/** At most this many sentences make the answer. */
export const MAX_ANSWER_SENTENCES = 3;
/** Sentences considered, from the best sources first; bounds the embedding work. */
export const MAX_CANDIDATE_SENTENCES = 200;
/** A sentence longer than this is cut; a passage without punctuation is one long "sentence". */
export const MAX_SENTENCE_CHARS = 1_000;
/** Share of a sentence's score from embedding similarity (the rest from term coverage). */
export const SIMILARITY_WEIGHT = 0.5;
/** After the best sentence, others join the answer only if they score at least this share of it. */
export const MIN_RELATIVE_SCORE = 0.75;

export interface CandidateSentence {
  citation: number;
  sentence: string;
}

export interface Extract extends CandidateSentence {
  score: number;
  /** idf-weighted share of the question's terms the sentence holds, 0..1. */
  overlap: number;
  /** 1 − cosine distance to the question, clamped to 0..1; null when not computed. */
  similarity: number | null;
}

/** Splits a passage into sentences: at . ! ? followed by space, after 。！？, and at line breaks. */
export function splitSentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+|(?<=[。！？])|\n+/u)
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter((s) => /[\p{L}\p{N}]/u.test(s))
    .map((s) => (s.length > MAX_SENTENCE_CHARS ? `${s.slice(0, MAX_SENTENCE_CHARS)}…` : s));
}

/** The sentences of `sources`, best source first, without repeats, at most MAX_CANDIDATE_SENTENCES. */
export function candidateSentences(sources: readonly Source[]): CandidateSentence[] {
  const seen = new Set<string>();
  const out: CandidateSentence[] = [];
  for (const source of sources) {
    for (const sentence of splitSentences(source.text ?? '')) {
      if (out.length >= MAX_CANDIDATE_SENTENCES) return out;
      const key = sentence.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ citation: source.citation, sentence });
    }
  }
  return out;
}

/**
 * Scores every candidate for `question`, best first. `distances` (cosine, one per candidate,
 * from the retrieval's embedding model) may be absent, then only term coverage counts.
 */
export function rankSentences(question: string, candidates: readonly CandidateSentence[], distances?: readonly (number | null)[]): Extract[] {
  const questionTerms = [...new Set(terms(question))];
  const sentenceTerms = candidates.map((c) => new Set(terms(c.sentence)));
  const df = new Map<string, number>();
  for (const set of sentenceTerms) for (const t of set) df.set(t, (df.get(t) ?? 0) + 1);
  const idf = (t: string) => Math.log(1 + candidates.length / (1 + (df.get(t) ?? 0)));
  const total = questionTerms.reduce((sum, t) => sum + idf(t), 0);
  const scored = candidates.map((c, i): Extract & { position: number } => {
    const overlap = total > 0 ? questionTerms.filter((t) => sentenceTerms[i].has(t)).reduce((sum, t) => sum + idf(t), 0) / total : 0;
    const d = distances?.[i];
    const similarity = typeof d === 'number' && Number.isFinite(d) ? Math.min(1, Math.max(0, 1 - d)) : null;
    const score = similarity === null ? overlap : SIMILARITY_WEIGHT * similarity + (1 - SIMILARITY_WEIGHT) * overlap;
    return { ...c, score, overlap, similarity, position: i };
  });
  return scored.sort((a, b) => b.score - a.score || a.position - b.position).map(({ position: _, ...e }) => e);
}

/** The sentences that make the answer: the best, and those close to it, at most MAX_ANSWER_SENTENCES. */
export function chooseExtracts(ranked: readonly Extract[]): Extract[] {
  if (ranked.length === 0) return [];
  const best = ranked[0].score;
  return ranked.filter((e, i) => i === 0 || (best > 0 && e.score >= MIN_RELATIVE_SCORE * best)).slice(0, MAX_ANSWER_SENTENCES);
}

/** The answer text: each chosen sentence with its citation before the closing punctuation ("... IMCI [1]."). */
export function extractiveText(extracts: readonly Extract[]): string {
  return extracts
    .map((e) => {
      const [, body, end] = /^(.*?)([.!?。！？…]*)$/su.exec(e.sentence)!;
      return `${body} [${e.citation}]${end || '.'}`;
    })
    .join(' ');
}

/**
 * Cosine distances from `question` to each sentence under embedding model `model` at `dims`,
 * computed by one SELECT of EMBEDDING() calls (cached, batched, offline for the built-in model).
 */
export async function sentenceDistances(engine: ChatEngine, model: string, dims: number, question: string, sentences: readonly string[]): Promise<(number | null)[]> {
  if (sentences.length === 0) return [];
  const m = quoteString(model);
  const q = `EMBEDDING(:chat_question, ${m}, ${dims})`;
  const columns = sentences.map((_, i) => `DISTANCE(${q}, EMBEDDING(:chat_s${i}, ${m}, ${dims}), 'COSINE')`);
  const params: Record<string, unknown> = { chat_question: question };
  sentences.forEach((s, i) => (params[`chat_s${i}`] = s));
  const { results } = await engine.execute(`SELECT ${columns.join(', ')}`, params);
  const row = results[0]?.rows[0] ?? [];
  return sentences.map((_, i) => (typeof row[i] === 'number' ? (row[i] as number) : null));
}
