/**
 * @module parser/cursor
 * The parser's position in the token stream and everything every statement family needs from
 * it: looking at and consuming tokens, names, the nesting count that keeps hostile input off
 * the stack, and syntax errors that carry the line and column. It knows no grammar; the family
 * modules (expr, select, dml, ddl, admin) are functions that take a cursor and move it.
 */
import type * as A from '../ast.ts';
import { QuiverError } from '../../../core/index.ts';
import { positionOf, tokenize, type Token } from '../lexer.ts';
import { RESERVED } from '../keywords.ts';

/**
 * Deeper nesting than this is refused, so hostile input cannot blow the JS stack: each level of
 * parentheses, subquery, CTE or nested statement counts (a scalar subquery counts twice). Each
 * level costs the recursive descent many frames, so the bound sits well under the nesting that
 * overflows Node's default main-thread stack, leaving a margin for the caller's own frames.
 */
export const MAX_EXPR_DEPTH = 200;

/** A position in the tokens of one request; family functions read from it and advance it. */
export class Cursor {
  readonly tokens: Token[];
  /** Index of the current token; families move it back to retry another reading. */
  pos = 0;
  private depth = 0;
  /** Positional parameters seen in the current statement, for SQLite's `?` numbering. */
  positionalCount = 0;

  constructor(
    readonly sql: string,
    maxTokens?: number,
  ) {
    this.tokens = tokenize(sql, maxTokens);
  }

  get tok(): Token {
    return this.tokens[this.pos];
  }

  /** The token `offset` ahead; past the end, the final eof. */
  peek(offset = 1): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)];
  }

  /** Consumes and returns the current token; eof is never consumed. */
  next(): Token {
    const t = this.tokens[this.pos];
    if (t.kind !== 'eof') this.pos++;
    return t;
  }

  /** Where the last consumed token ends: the end of the node just read. */
  get lastEnd(): number {
    return this.pos > 0 ? this.tokens[this.pos - 1].end : 0;
  }

  isWord(word: string, t: Token = this.tok): boolean {
    return t.kind === 'word' && t.value === word;
  }

  isOp(op: string, t: Token = this.tok): boolean {
    return t.kind === 'op' && t.value === op;
  }

  /** Consumes `words` if they all come next, else nothing. */
  acceptWord(...words: string[]): boolean {
    for (let i = 0; i < words.length; i++) {
      if (!this.isWord(words[i], this.peek(i))) return false;
    }
    this.pos += words.length;
    return true;
  }

  acceptOp(op: string): boolean {
    if (!this.isOp(op)) return false;
    this.pos++;
    return true;
  }

  expectWord(...words: string[]): void {
    for (const word of words) {
      if (!this.acceptWord(word)) throw this.error(`expected ${word}`);
    }
  }

  expectOp(op: string): void {
    if (!this.acceptOp(op)) throw this.error(`expected '${op}'`);
  }

  atEnd(): boolean {
    return this.tok.kind === 'eof';
  }

  expectEnd(): void {
    if (!this.atEnd()) throw this.error('expected end of input');
  }

  /** A SYNTAX_ERROR at `t`: what was expected, the token found, its line and column. */
  error(expected: string, t: Token = this.tok): QuiverError {
    const position = positionOf(this.sql, t.start);
    const near = t.kind === 'eof' ? 'end of input' : `'${t.text}'`;
    return new QuiverError(
      'SYNTAX_ERROR',
      `${expected} near ${near} at line ${position.line}, column ${position.column}`,
      { position },
    );
  }

  /** An UNSUPPORTED_STATEMENT at `t`: valid SQL elsewhere that Quiver refuses. */
  unsupported(message: string, t: Token = this.tok): QuiverError {
    return new QuiverError('UNSUPPORTED_STATEMENT', message, { position: positionOf(this.sql, t.start) });
  }

  /** A name: a quoted identifier, or a word that is not reserved. Strings are accepted as
   * names where MySQL and SQLite accept them (aliases, some DDL names). */
  name(what = 'a name', allowString = false): string {
    const t = this.tok;
    if (t.kind === 'ident' || (t.kind === 'word' && !RESERVED.has(t.value)) || (allowString && t.kind === 'string')) {
      this.pos++;
      return t.kind === 'word' ? t.text : t.value;
    }
    throw this.error(`expected ${what}`);
  }

  isName(t: Token = this.tok): boolean {
    return t.kind === 'ident' || (t.kind === 'word' && !RESERVED.has(t.value));
  }

  /** `name` or `schema.name`. */
  qualifiedName(what: string): A.QualifiedName {
    const start = this.tok.start;
    const first = this.name(what);
    if (this.isOp('.') && this.isName(this.peek())) {
      this.pos++;
      const name = this.name(what);
      return { schema: first, name, start, end: this.lastEnd };
    }
    return { name: first, start, end: this.lastEnd };
  }

  /** `(name, ...)`. */
  nameList(what: string): string[] {
    this.expectOp('(');
    const names: string[] = [];
    do names.push(this.name(what));
    while (this.acceptOp(','));
    this.expectOp(')');
    return names;
  }

  /** Opens one nesting level (close it with leave); past MAX_EXPR_DEPTH it is a SYNTAX_ERROR. */
  enter(): void {
    if (++this.depth > MAX_EXPR_DEPTH) {
      throw new QuiverError('SYNTAX_ERROR', `expression nested deeper than ${MAX_EXPR_DEPTH} levels; simplify it`, {
        position: positionOf(this.sql, this.tok.start),
      });
    }
  }

  /** Closes the level opened by enter. */
  leave(): void {
    this.depth--;
  }

  /** Runs `parse` one nesting level deeper. */
  nested<T>(parse: () => T): T {
    this.enter();
    try {
      return parse();
    } finally {
      this.leave();
    }
  }
}
