/**
 * @module words
 * Words of a question or a sentence as /v1/chat compares them: Unicode letters and digits,
 * lower-cased, with a light English suffix strip so "indexes" meets "index", minus the
 * commonest English function words. Used to build the full-text query (a question's
 * stopwords would match nearly every row and cost a BM25 lookup each, while adding almost no
 * relevance) and to score sentences for extractive answers.
 */

/** The commonest English function words and question words. */
export const STOPWORDS: ReadonlySet<string> = new Set(
  ('a an and are as at be been but by can could did do does for from had has have how i if in into is it its ' +
    'me my no not of on or our so than that the their them then there these they this those to us was we were ' +
    'what when where which who whom whose why will with would you your about tell please explain describe give ' +
    'list show').split(' '),
);

/** The words of `text` as they appear (original case), for a full-text query; stopwords dropped unless nothing else remains. */
export function queryWords(text: string): string[] {
  const words = text.match(/[\p{L}\p{N}_]+/gu) ?? [];
  const kept = words.filter((w) => !STOPWORDS.has(w.toLowerCase()));
  return kept.length > 0 ? kept : words;
}

/** Comparable terms of `text`: lower-cased, suffix-stripped, stopwords dropped. */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? []) {
    if (STOPWORDS.has(word)) continue;
    out.push(stem(word));
  }
  return out;
}

/** A deliberately small suffix strip; FTS5's porter stemmer does the real work on the SQL side. */
function stem(word: string): string {
  if (word.length > 5 && word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (word.length > 4 && /(?:xes|ches|shes|sses)$/.test(word)) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith('s') && !word.endsWith('ss')) return word.slice(0, -1);
  return word;
}
