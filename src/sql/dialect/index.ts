/**
 * @module dialect
 * The door to Quiver's SQL dialect (SQLite's grammar plus the MySQL forms users bring): the
 * lexer, the parser, the AST types, the printer of Quiver's dialect, and how names and strings
 * are quoted. Everything else in Quiver reads and writes SQL text through here; the translation
 * to SQLite (src/sql/lower) extends the printer.
 * @example
 * import { parseStatement, type A } from '../dialect/index.ts';
 * const s: A.Statement = parseStatement('SELECT 1');
 */
export type * as A from './ast.ts';
export { isBareTypeWord } from './keywords.ts';
export { positionOf, tokenize, type Token } from './lexer.ts';
export { MAX_EXPR_DEPTH } from './parser/cursor.ts';
export { MAX_TREE_DEPTH, parseExpression, parseScript, parseStatement } from './parser/statement.ts';
export { P_AND, P_CONCAT, Printer, printColumnDef, printExpression, printIdent, printStatement, printTableConstraint } from './print.ts';
export { identifier, quoteIdent, quoteString, type QuoteStyle } from './quote.ts';
