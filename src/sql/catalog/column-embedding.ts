/**
 * @module catalog/column-embedding
 * What a generated column's `EMBEDDING(text, 'model' [, dims])` says: where its text comes from,
 * which model, which dims. The catalog reads it once from the column's stored expression when
 * it loads, and everything that needs it (predicting the texts an INSERT embeds, /v1/chat
 * finding the question's model) reads it from there.
 */
import { parseExpression } from '../dialect/index.ts';

/** A generated column's EMBEDDING() call. */
export interface ColumnEmbedding {
  /** The column the text is read from; undefined when the text is another expression. */
  source: string | undefined;
  model: string;
  /** EMBEDDING()'s dims argument: undefined without one, null when it is not an integer literal. */
  dims: number | null | undefined;
}

/** The EMBEDDING() call of a generated column's expression; null when the expression is something else. */
export function parseColumnEmbedding(expression: string): ColumnEmbedding | null {
  let e;
  try {
    e = parseExpression(expression);
  } catch {
    // Not ours to report: the column was accepted when it was created.
    return null;
  }
  if (e.kind !== 'function' || e.name.toLowerCase() !== 'embedding' || (e.args.length !== 2 && e.args.length !== 3)) return null;
  const [text, model, dims] = e.args;
  if (model.kind !== 'literal' || model.type !== 'string') return null;
  const integer = dims?.kind === 'literal' && dims.type === 'number' && /^\d+$/.test(dims.value) ? Number(dims.value) : null;
  return { source: text.kind === 'column' ? text.column : undefined, model: model.value, dims: dims === undefined ? undefined : integer };
}
