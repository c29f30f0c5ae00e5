/**
 * @module retrieval
 * /v1/chat's retrieval, written as Quiver SQL and run through Engine.execute, so the planner,
 * the vector index and the embedding cache do the work they do for any query:
 *
 * ```sql
 * SELECT rowid, doc, dept, DISTANCE(vec, EMBEDDING(:chat_question, 'm', 100), 'COSINE') AS _quiver_distance
 * FROM docs WHERE (<filter>) ORDER BY _quiver_distance LIMIT :chat_n;
 * SELECT rowid, doc, dept, MATCH (doc) AGAINST (:chat_words) AS _quiver_score
 * FROM docs WHERE (<filter>) AND MATCH (doc) AGAINST (:chat_words) ORDER BY _quiver_score DESC, rowid LIMIT :chat_n
 * ```
 *
 * The full-text statement is written so the translation to SQLite can hand its ORDER BY and
 * LIMIT to FTS5 (src/sql/lower/fulltext-rewrite.ts, fulltextTopN): with no filter, only the top
 * `candidates` (row id, BM25) pairs are kept before the table is read. Keep its shape — WHERE nothing but the filter and the MATCH,
 * ORDER BY the score then rowid — or the text side scores, joins and sorts every match again.
 *
 * Both statements go in one request, so they read one snapshot. Each side fetches
 * `candidates` rows (more than k, so fusion has something to reorder), then reciprocal rank
 * fusion keeps the best k. The filter arrives already checked and re-printed (filter.ts);
 * identifiers are printed and literals quoted by the dialect's functions (the sql door), so no
 * user text reaches the SQL unparsed.
 */
import { printIdent, quoteString, type Engine, type SqlValue } from '../sql/index.ts';
import type { CompiledFilter } from './filter.ts';
import { reciprocalRankFusion, type RankedList } from './fusion.ts';
import type { FusionSettings } from './request.ts';
import type { RetrievalTarget } from './target.ts';
import { queryWords } from './words.ts';

/** What retrieval needs of the engine. */
export type ChatEngine = Pick<Engine, 'execute' | 'describeTable'>;

/** One retrieved row, numbered for citation. */
export interface Source {
  /** The passage's number in the prompt and in the answer's citations: [1], [2], ... */
  citation: number;
  rowId: number | bigint;
  text: string | null;
  /** Distance to the question under the column's metric; null if the row was not among the vector candidates. */
  distance: number | null;
  /** BM25 relevance (higher is better); null if the row was not among the full-text candidates. */
  textScore: number | null;
  fusedScore: number;
  vectorRank: number | null;
  textRank: number | null;
  /** The row's other columns (vectors omitted). */
  columns: Record<string, SqlValue>;
}

export interface Retrieved {
  sources: Source[];
  /** Rows each side returned before fusion. */
  vectorHits: number;
  textHits: number;
}

export interface RetrievalParams {
  question: string;
  k: number;
  candidates: number;
  fusion: FusionSettings;
}

/** An alias no column of the table has, so ORDER BY cannot mean a column instead. */
function freeAlias(base: string, columns: readonly string[]): string {
  const taken = new Set(columns.map((c) => c.toLowerCase()));
  let alias = base;
  for (let i = 2; taken.has(alias.toLowerCase()); i++) alias = `${base}${i}`;
  return alias;
}

/** The retrieval statements for `target` (exported for tests and EXPLAIN). */
export function retrievalSql(target: RetrievalTarget, filter: CompiledFilter | undefined, allColumns: readonly string[]): { vector?: string; text?: string } {
  const table = printIdent(target.table);
  const text = printIdent(target.textColumn);
  const projection = ['rowid', text, ...target.otherColumns.map(printIdent)].join(', ');
  const where = filter ? `(${filter.sql})` : undefined;
  const out: { vector?: string; text?: string } = {};
  if (target.vector) {
    const v = target.vector;
    const alias = freeAlias('_quiver_distance', allColumns);
    const distance = `DISTANCE(${printIdent(v.column)}, EMBEDDING(:chat_question, ${quoteString(v.model)}, ${v.dims}), ${quoteString(v.metric.toUpperCase())})`;
    out.vector = `SELECT ${projection}, ${distance} AS ${alias} FROM ${table}${where ? ` WHERE ${where}` : ''} ORDER BY ${alias} LIMIT :chat_n`;
  }
  if (target.fulltextIndex) {
    const alias = freeAlias('_quiver_score', allColumns);
    const match = `MATCH (${text}) AGAINST (:chat_words)`;
    const conditions = where ? `${where} AND ${match}` : match;
    out.text = `SELECT ${projection}, ${match} AS ${alias} FROM ${table} WHERE ${conditions} ORDER BY ${alias} DESC, rowid LIMIT :chat_n`;
  }
  return out;
}

interface Hit {
  rowId: number | bigint;
  text: SqlValue;
  others: SqlValue[];
  value: number | null;
}

/** Runs retrieval for `target`: both sides in one request, fused by reciprocal rank fusion. */
export async function retrieve(
  engine: ChatEngine,
  target: RetrievalTarget,
  request: RetrievalParams,
  filter: CompiledFilter | undefined,
  allColumns: readonly string[],
): Promise<Retrieved> {
  const statements = retrievalSql(target, filter, allColumns);
  const words = queryWords(request.question);
  // A question without a single word matches no row by full text; skip that side.
  const runText = statements.text !== undefined && words.length > 0;
  const sql = [statements.vector, runText ? statements.text : undefined].filter((s): s is string => s !== undefined);
  if (sql.length === 0) return { sources: [], vectorHits: 0, textHits: 0 };

  const params: Record<string, unknown> = { ...filter?.params, chat_n: request.candidates };
  if (statements.vector) params.chat_question = request.question;
  if (runText) params.chat_words = words.join(' ');
  const { results } = await engine.execute(sql.join(';\n'), params);

  const width = 2 + target.otherColumns.length;
  const toHits = (rows: SqlValue[][]): Hit[] =>
    rows.map((row) => ({
      rowId: row[0] as number | bigint,
      text: row[1],
      others: row.slice(2, width),
      value: typeof row[width] === 'number' ? (row[width] as number) : null,
    }));
  let next = 0;
  // A row without a vector has no distance; it is not a vector hit.
  const vectorHits = statements.vector ? toHits(results[next++].rows).filter((h) => h.value !== null) : [];
  const textHits = runText ? toHits(results[next++].rows) : [];

  const byKey = new Map<string, { hit: Hit; distance: number | null; textScore: number | null }>();
  for (const h of vectorHits) byKey.set(String(h.rowId), { hit: h, distance: h.value, textScore: null });
  for (const h of textHits) {
    const known = byKey.get(String(h.rowId));
    if (known) known.textScore = h.value;
    else byKey.set(String(h.rowId), { hit: h, distance: null, textScore: h.value });
  }
  // The weights say how two lists compare; a single list is ranked as it is.
  const hybrid = statements.vector !== undefined && runText;
  const lists: RankedList[] = [
    { weight: hybrid ? request.fusion.vectorWeight : 1, keys: vectorHits.map((h) => String(h.rowId)) },
    { weight: hybrid ? request.fusion.textWeight : 1, keys: textHits.map((h) => String(h.rowId)) },
  ];
  const fused = reciprocalRankFusion(lists, request.fusion.rrfK)
    // A side with weight 0 contributes nothing; rows only it found are not sources.
    .filter((f) => f.score > 0)
    .slice(0, request.k);
  const sources = fused.map((f, i): Source => {
    const { hit, distance, textScore } = byKey.get(f.key)!;
    const columns: Record<string, SqlValue> = {};
    target.otherColumns.forEach((name, j) => (columns[name] = hit.others[j]));
    return {
      citation: i + 1,
      rowId: hit.rowId,
      text: passageText(hit.text),
      distance,
      textScore,
      fusedScore: f.score,
      vectorRank: f.ranks[0],
      textRank: f.ranks[1],
      columns,
    };
  });
  return { sources, vectorHits: vectorHits.length, textHits: textHits.length };
}

function passageText(value: SqlValue): string | null {
  if (value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  // A blob is not a passage.
  return null;
}
