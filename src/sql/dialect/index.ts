/**
 * @module dialect
 * The door to Quiver's SQL dialect (SQLite's grammar plus the MySQL forms users bring): the
 * lexer, the parser and the AST types. Everything else in Quiver reads SQL text through here;
 * printing an AST back is the lowering's job (src/sql/lower).
 * @example
 * import { parseStatement, type A } from '../dialect/index.ts';
 * const s: A.Statement = parseStatement('SELECT 1');
 */
export type * as A from './ast.ts';
export { isBareTypeWord } from './keywords.ts';
export { positionOf, tokenize, type Token } from './lexer.ts';
export { MAX_EXPR_DEPTH } from './parser/cursor.ts';
export { MAX_TREE_DEPTH, parseExpression, parseScript, parseStatement } from './parser/statement.ts';
