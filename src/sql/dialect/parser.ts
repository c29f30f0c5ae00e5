/**
 * @module parser
 * A recursive-descent parser from tokens to the typed AST in ast.ts. It accepts SQLite's
 * grammar (so standard SQL passes through intact) and the MySQL / AliSQL / PolarDB forms Quiver
 * users write. Statement kinds not listed here do not parse: that is the whitelist — ATTACH,
 * DETACH and VACUUM INTO never reach SQLite. Syntax errors carry the line and column.
 */
import type * as A from './ast.ts';
import { QuiverError } from '../../core/index.ts';
import { positionOf, tokenize, type Token } from './lexer.ts';

/**
 * Deeper nesting than this is refused, so hostile input cannot blow the JS stack: each level of
 * parentheses, subquery, CTE or nested statement counts (a scalar subquery counts twice). One
 * level costs the recursive descent about 25 frames; measured on a cold parser on Node's
 * default main-thread stack, 340 parentheses or 260 scalar subqueries overflowed it, so 200 keeps
 * a margin for the caller's own frames.
 */
export const MAX_EXPR_DEPTH = 200;

/**
 * Deepest syntax tree accepted, in nodes from the statement down. SQLite refuses expressions
 * deeper than 1000 (SQLITE_MAX_EXPR_DEPTH) anyway, so nothing that could run is lost.
 */
export const MAX_TREE_DEPTH = 1000;

/** Words that never stand alone as a name or an alias without quoting. */
const RESERVED = new Set(
  ('ADD ALL ALTER AND AS BETWEEN BY CASE CAST CHECK COLLATE COMMIT CONSTRAINT CREATE CROSS ' +
    'CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP DEFAULT DEFERRABLE DELETE DISTINCT DROP ELSE END ' +
    'ESCAPE EXCEPT EXISTS FOREIGN FROM FULL GLOB GROUP HAVING IN INDEX INDEXED INNER INSERT INTERSECT ' +
    'INTO IS ISNULL JOIN LEFT LIKE LIMIT MATCH NATURAL NOT NOTNULL NULL OFFSET ON OR ORDER OUTER ' +
    'PRIMARY REFERENCES REGEXP RETURNING RIGHT SELECT SET TABLE THEN TO UNION UNIQUE UPDATE USING ' +
    'VALUES WHEN WHERE WINDOW').split(' '),
);

/** Words that end a column's type name and start its constraints. */
const COLUMN_CONSTRAINT_WORDS = new Set(
  'CONSTRAINT PRIMARY NOT NULL UNIQUE CHECK DEFAULT COLLATE REFERENCES GENERATED AS AUTO_INCREMENT AUTOINCREMENT COMMENT KEY CHARACTER CHARSET'.split(' '),
);

const CONFLICT_ACTIONS = new Set(['ROLLBACK', 'ABORT', 'REPLACE', 'FAIL', 'IGNORE']);

// Binary operators by precedence level, tighter levels last (SQLite's table).
const COMPARISON_OPS = new Set(['<', '<=', '>', '>=']);
const BITWISE_OPS = new Set(['&', '|', '<<', '>>']);
const ADDITIVE_OPS = new Set(['+', '-']);
const MULTIPLICATIVE_OPS = new Set(['*', '/', '%']);
const CONCAT_OPS = new Set(['||', '->', '->>']);

/** Whether a word of a type name can be printed bare: one the parser reads as part of the type. */
export function isBareTypeWord(word: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_$]*$/.test(word) && !RESERVED.has(word.toUpperCase()) && !COLUMN_CONSTRAINT_WORDS.has(word.toUpperCase());
}

/**
 * Parses a whole request: statements separated by `;`. Empty statements are skipped. More
 * than `maxTokens` tokens is a LIMIT_EXCEEDED (see tokenize).
 */
export function parseScript(sql: string, maxTokens?: number): A.Statement[] {
  return refuseStackOverflow(() => new Parser(sql, maxTokens).script());
}

/** Parses exactly one statement (a trailing `;` is allowed). */
export function parseStatement(sql: string): A.Statement {
  const statements = parseScript(sql);
  if (statements.length !== 1) {
    throw new QuiverError('SYNTAX_ERROR', `expected one statement, got ${statements.length}`);
  }
  return statements[0];
}

/** Parses a standalone expression, such as a /v1/chat filter. */
export function parseExpression(sql: string): A.Expr {
  return refuseStackOverflow(() => {
    const parser = new Parser(sql);
    const expr = parser.expr();
    parser.expectEnd();
    checkTreeDepth(expr, sql);
    return expr;
  });
}

/**
 * The net under MAX_EXPR_DEPTH: should a nesting the counter does not see still exhaust the
 * stack, the answer is the same clear syntax error, not a RangeError that becomes a 500.
 */
function refuseStackOverflow<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      throw new QuiverError('SYNTAX_ERROR', 'the SQL is nested too deeply to parse; simplify it');
    }
    throw e;
  }
}

/**
 * Refuses a tree deeper than MAX_TREE_DEPTH nodes, walking it with an explicit stack. Chains
 * such as `a + b + c ...`, `x COLLATE c COLLATE c ...` or `SELECT ... UNION SELECT ...` build
 * deep trees without the parser recursing, and everything downstream (emit, the planner,
 * SQLite) walks trees recursively.
 */
function checkTreeDepth(root: object, sql: string): void {
  // Two parallel stacks, no tuple or array of values per node: this walks every node of
  // requests megabytes long.
  const nodes: object[] = [root];
  const depths: number[] = [0];
  while (nodes.length > 0) {
    const node = nodes.pop() as Record<string, unknown>;
    const above = depths.pop()!;
    const isArray = Array.isArray(node);
    const depth = !isArray && typeof node.kind === 'string' ? above + 1 : above;
    if (depth > MAX_TREE_DEPTH) {
      const start = node.start;
      throw new QuiverError(
        'SYNTAX_ERROR',
        `expression nested deeper than ${MAX_TREE_DEPTH} levels (each operator of a chain such as a + b + c is a level); simplify it`,
        typeof start === 'number' ? { position: positionOf(sql, start) } : {},
      );
    }
    if (isArray) {
      for (const child of node as unknown as unknown[]) {
        if (child !== null && typeof child === 'object') {
          nodes.push(child);
          depths.push(depth);
        }
      }
    } else {
      for (const key in node) {
        const child = node[key];
        if (child !== null && typeof child === 'object') {
          nodes.push(child);
          depths.push(depth);
        }
      }
    }
  }
}

class Parser {
  private readonly tokens: Token[];
  private pos = 0;
  private depth = 0;
  /** Positional parameters seen in the current statement. */
  private positionalCount = 0;

  constructor(
    private readonly sql: string,
    maxTokens?: number,
  ) {
    this.tokens = tokenize(sql, maxTokens);
  }

  // -------------------------------------------------------------------------------------------
  // Token helpers

  private get tok(): Token {
    return this.tokens[this.pos];
  }

  private peek(offset = 1): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)];
  }

  private next(): Token {
    const t = this.tokens[this.pos];
    if (t.kind !== 'eof') this.pos++;
    return t;
  }

  private get lastEnd(): number {
    return this.pos > 0 ? this.tokens[this.pos - 1].end : 0;
  }

  private isWord(word: string, t: Token = this.tok): boolean {
    return t.kind === 'word' && t.value === word;
  }

  private isOp(op: string, t: Token = this.tok): boolean {
    return t.kind === 'op' && t.value === op;
  }

  private acceptWord(...words: string[]): boolean {
    for (let i = 0; i < words.length; i++) {
      if (!this.isWord(words[i], this.peek(i))) return false;
    }
    this.pos += words.length;
    return true;
  }

  private acceptOp(op: string): boolean {
    if (!this.isOp(op)) return false;
    this.pos++;
    return true;
  }

  private expectWord(...words: string[]): void {
    for (const word of words) {
      if (!this.acceptWord(word)) throw this.error(`expected ${word}`);
    }
  }

  private expectOp(op: string): void {
    if (!this.acceptOp(op)) throw this.error(`expected '${op}'`);
  }

  private atEnd(): boolean {
    return this.tok.kind === 'eof';
  }

  expectEnd(): void {
    if (!this.atEnd()) throw this.error('expected end of input');
  }

  error(expected: string, t: Token = this.tok): QuiverError {
    const position = positionOf(this.sql, t.start);
    const near = t.kind === 'eof' ? 'end of input' : `'${t.text}'`;
    return new QuiverError(
      'SYNTAX_ERROR',
      `${expected} near ${near} at line ${position.line}, column ${position.column}`,
      { position },
    );
  }

  /** A name: a quoted identifier, or a word that is not reserved. Strings are accepted as
   * names where MySQL and SQLite accept them (aliases, some DDL names). */
  private name(what = 'a name', allowString = false): string {
    const t = this.tok;
    if (t.kind === 'ident' || (t.kind === 'word' && !RESERVED.has(t.value)) || (allowString && t.kind === 'string')) {
      this.pos++;
      return t.kind === 'word' ? t.text : t.value;
    }
    throw this.error(`expected ${what}`);
  }

  private isName(t: Token = this.tok): boolean {
    return t.kind === 'ident' || (t.kind === 'word' && !RESERVED.has(t.value));
  }

  private qualifiedName(what: string): A.QualifiedName {
    const start = this.tok.start;
    const first = this.name(what);
    if (this.isOp('.') && this.isName(this.peek())) {
      this.pos++;
      const name = this.name(what);
      return { schema: first, name, start, end: this.lastEnd };
    }
    return { name: first, start, end: this.lastEnd };
  }

  private nameList(what: string): string[] {
    this.expectOp('(');
    const names: string[] = [];
    do names.push(this.name(what));
    while (this.acceptOp(','));
    this.expectOp(')');
    return names;
  }

  /** An optional alias: `AS name` or a bare name. */
  private alias(): string | undefined {
    if (this.acceptWord('AS')) return this.name('an alias', true);
    if (this.isName() || this.tok.kind === 'string') {
      // MySQL index hints look like aliases: FROM t FORCE INDEX (vi).
      if (['FORCE', 'USE', 'IGNORE'].includes(this.tok.value) && (this.isWord('INDEX', this.peek()) || this.isWord('KEY', this.peek()))) {
        return undefined;
      }
      return this.name('an alias', true);
    }
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Scripts and statements

  script(): A.Statement[] {
    const statements: A.Statement[] = [];
    for (;;) {
      while (this.acceptOp(';'));
      if (this.atEnd()) break;
      this.positionalCount = 0;
      const statement = this.statement();
      checkTreeDepth(statement, this.sql);
      statements.push(statement);
      if (!this.atEnd() && !this.isOp(';')) throw this.error("expected ';' or end of input");
    }
    return statements;
  }

  /** A statement; nested ones (EXPLAIN's, a trigger's body) count towards MAX_EXPR_DEPTH. */
  private statement(): A.Statement {
    return this.nested(() => this.statementAt());
  }

  private statementAt(): A.Statement {
    const t = this.tok;
    if (t.kind === 'op' && t.value === '(') return this.select();
    if (t.kind !== 'word') throw this.error('expected a statement');
    switch (t.value) {
      case 'SELECT':
      case 'VALUES':
        return this.select();
      case 'WITH':
        return this.withStatement();
      case 'INSERT':
      case 'REPLACE':
        return this.insert();
      case 'UPDATE':
        return this.update();
      case 'DELETE':
        return this.delete();
      case 'CREATE':
        return this.create();
      case 'DROP':
        return this.drop();
      case 'ALTER':
        return this.alterTable();
      case 'TRUNCATE':
        return this.truncate();
      case 'REINDEX':
      case 'ANALYZE':
      case 'VACUUM':
        return this.maintenance();
      case 'BEGIN':
      case 'START':
      case 'COMMIT':
      case 'END':
      case 'ROLLBACK':
      case 'SAVEPOINT':
      case 'RELEASE':
        return this.transaction();
      case 'SHOW':
        return this.show();
      case 'DESCRIBE':
      case 'DESC':
        return this.describe();
      case 'EXPLAIN':
        return this.explain();
      case 'PRAGMA':
        return this.pragma();
      case 'OPTIMIZE': {
        const start = this.next().start;
        this.acceptWord('TABLE');
        return { kind: 'optimize', table: this.qualifiedName('a table name'), start, end: this.lastEnd };
      }
      case 'SET':
        return this.setStatement();
      case 'ATTACH':
      case 'DETACH':
        throw new QuiverError(
          'UNSUPPORTED_STATEMENT',
          `${t.value} is not allowed: a Quiver database is one file and cannot reach others`,
          { position: positionOf(this.sql, t.start) },
        );
      default:
        throw this.error('expected a statement');
    }
  }

  private withStatement(): A.Statement {
    const start = this.tok.start;
    const withClause = this.withClause();
    let statement: A.SelectStatement | A.InsertStatement | A.UpdateStatement | A.DeleteStatement;
    if (this.isWord('INSERT') || this.isWord('REPLACE')) statement = this.insert();
    else if (this.isWord('UPDATE')) statement = this.update();
    else if (this.isWord('DELETE')) statement = this.delete();
    else statement = this.select();
    statement.with = withClause;
    statement.start = start;
    return statement;
  }

  private withClause(): A.WithClause {
    const start = this.tok.start;
    this.expectWord('WITH');
    const recursive = this.acceptWord('RECURSIVE');
    const ctes: A.CommonTableExpr[] = [];
    do {
      const cteStart = this.tok.start;
      const name = this.name('a table name');
      const columns = this.isOp('(') ? this.nameList('a column name') : undefined;
      this.expectWord('AS');
      let materialized: A.CommonTableExpr['materialized'];
      if (this.acceptWord('MATERIALIZED')) materialized = 'MATERIALIZED';
      else if (this.acceptWord('NOT', 'MATERIALIZED')) materialized = 'NOT MATERIALIZED';
      this.expectOp('(');
      const select = this.select();
      this.expectOp(')');
      ctes.push({ name, columns, materialized, select, start: cteStart, end: this.lastEnd });
    } while (this.acceptOp(','));
    return { recursive, ctes, start, end: this.lastEnd };
  }

  // -------------------------------------------------------------------------------------------
  // SELECT

  /** A SELECT; subqueries, CTEs and parenthesised operands count towards MAX_EXPR_DEPTH. */
  select(): A.SelectStatement {
    return this.nested(() => this.selectAt());
  }

  private selectAt(): A.SelectStatement {
    const start = this.tok.start;
    const withClause = this.isWord('WITH') ? this.withClause() : undefined;
    let body = this.selectOperand();
    for (;;) {
      let op: A.CompoundSelect['op'] | undefined;
      if (this.acceptWord('UNION', 'ALL')) op = 'UNION ALL';
      else if (this.acceptWord('UNION')) op = this.acceptWord('DISTINCT') ? 'UNION' : 'UNION';
      else if (this.acceptWord('INTERSECT')) op = 'INTERSECT';
      else if (this.acceptWord('EXCEPT')) op = 'EXCEPT';
      if (!op) break;
      const right = this.selectOperand();
      body = { kind: 'compound', op, left: body, right, start: body.start, end: this.lastEnd };
    }
    const orderBy = this.acceptWord('ORDER', 'BY') ? this.orderingTerms() : [];
    let limit: A.Expr | undefined;
    let offset: A.Expr | undefined;
    if (this.acceptWord('LIMIT')) {
      limit = this.expr();
      if (this.acceptWord('OFFSET')) offset = this.expr();
      else if (this.acceptOp(',')) {
        // LIMIT offset, count (MySQL and SQLite)
        offset = limit;
        limit = this.expr();
      }
    }
    return { kind: 'select', with: withClause, body, orderBy, limit, offset, start, end: this.lastEnd };
  }

  private selectOperand(): A.SelectBody {
    if (this.isOp('(') && (this.isWord('SELECT', this.peek()) || this.isWord('VALUES', this.peek()) || this.isWord('WITH', this.peek()))) {
      // A parenthesised operand of a compound (MySQL allows it); SQLite has no such syntax, so
      // it is kept only when it has no clauses of its own that would need the parentheses.
      const open = this.tok;
      this.pos++;
      const inner = this.select();
      this.expectOp(')');
      if (inner.with || inner.orderBy.length || inner.limit) {
        throw this.error('ORDER BY and LIMIT inside a parenthesised compound operand are not supported', open);
      }
      return inner.body;
    }
    if (this.isWord('VALUES')) return this.valuesClause();
    return this.selectCore();
  }

  private valuesClause(): A.ValuesClause {
    const start = this.tok.start;
    this.expectWord('VALUES');
    const rows: A.Expr[][] = [];
    do {
      this.acceptWord('ROW'); // MySQL 8: VALUES ROW(1, 2)
      rows.push(this.parenExprList());
    } while (this.acceptOp(','));
    return { kind: 'values', rows, start, end: this.lastEnd };
  }

  private parenExprList(): A.Expr[] {
    this.expectOp('(');
    const items: A.Expr[] = [];
    if (!this.isOp(')')) {
      do items.push(this.expr());
      while (this.acceptOp(','));
    }
    this.expectOp(')');
    return items;
  }

  private selectCore(): A.SelectCore {
    const start = this.tok.start;
    this.expectWord('SELECT');
    let distinct = false;
    if (this.acceptWord('DISTINCT')) distinct = true;
    else this.acceptWord('ALL');
    const columns: A.ResultColumn[] = [];
    do columns.push(this.resultColumn());
    while (this.acceptOp(','));
    const from = this.acceptWord('FROM') ? this.fromClause() : undefined;
    const where = this.acceptWord('WHERE') ? this.expr() : undefined;
    let groupBy: A.Expr[] = [];
    let having: A.Expr | undefined;
    if (this.acceptWord('GROUP', 'BY')) {
      groupBy = this.exprList();
    }
    if (this.acceptWord('HAVING')) having = this.expr();
    const windows: A.SelectCore['windows'] = [];
    if (this.acceptWord('WINDOW')) {
      do {
        const name = this.name('a window name');
        this.expectWord('AS');
        windows.push({ name, spec: this.windowSpec() });
      } while (this.acceptOp(','));
    }
    return { kind: 'core', distinct, columns, from, where, groupBy, having, windows, start, end: this.lastEnd };
  }

  private resultColumn(): A.ResultColumn {
    const start = this.tok.start;
    if (this.acceptOp('*')) return { kind: 'star', start, end: this.lastEnd };
    if (this.isName() && this.isOp('.', this.peek()) && this.isOp('*', this.peek(2))) {
      const table = this.name('a table name');
      this.pos += 2;
      return { kind: 'star', table, start, end: this.lastEnd };
    }
    const expr = this.expr();
    const end = this.lastEnd;
    const alias = this.alias();
    return { kind: 'expr', expr, alias, start, end };
  }

  private exprList(): A.Expr[] {
    const items: A.Expr[] = [];
    do items.push(this.expr());
    while (this.acceptOp(','));
    return items;
  }

  private orderingTerms(): A.OrderingTerm[] {
    const terms: A.OrderingTerm[] = [];
    do {
      const start = this.tok.start;
      const expr = this.expr();
      let direction: A.OrderingTerm['direction'];
      if (this.acceptWord('ASC')) direction = 'ASC';
      else if (this.acceptWord('DESC')) direction = 'DESC';
      let nulls: A.OrderingTerm['nulls'];
      if (this.acceptWord('NULLS', 'FIRST')) nulls = 'FIRST';
      else if (this.acceptWord('NULLS', 'LAST')) nulls = 'LAST';
      terms.push({ expr, direction, nulls, start, end: this.lastEnd });
    } while (this.acceptOp(','));
    return terms;
  }

  private fromClause(): A.FromItem {
    let left = this.fromItem();
    for (;;) {
      const start = left.start;
      let op: string | undefined;
      if (this.acceptOp(',')) op = ',';
      else {
        const words: string[] = [];
        const save = this.pos;
        if (this.acceptWord('NATURAL')) words.push('NATURAL');
        if (this.acceptWord('LEFT')) words.push('LEFT');
        else if (this.acceptWord('RIGHT')) words.push('RIGHT');
        else if (this.acceptWord('FULL')) words.push('FULL');
        else if (this.acceptWord('INNER')) words.push('INNER');
        else if (this.acceptWord('CROSS')) words.push('CROSS');
        if ((words.includes('LEFT') || words.includes('RIGHT') || words.includes('FULL')) && this.acceptWord('OUTER')) words.push('OUTER');
        if (this.acceptWord('JOIN')) op = [...words, 'JOIN'].join(' ');
        else if (words.length) {
          this.pos = save;
          throw this.error('expected JOIN');
        }
      }
      if (!op) return left;
      const right = this.fromItem();
      let on: A.Expr | undefined;
      let using: string[] | undefined;
      if (op !== ',') {
        if (this.acceptWord('ON')) on = this.expr();
        else if (this.acceptWord('USING')) using = this.nameList('a column name');
      }
      left = { kind: 'join', op, left, right, on, using, start, end: this.lastEnd };
    }
  }

  private fromItem(): A.FromItem {
    const start = this.tok.start;
    if (this.acceptOp('(')) {
      if (this.isWord('SELECT') || this.isWord('VALUES') || this.isWord('WITH')) {
        const select = this.select();
        this.expectOp(')');
        const alias = this.alias();
        return { kind: 'subquery', select, alias, start, end: this.lastEnd };
      }
      const inner = this.nested(() => this.fromClause());
      this.expectOp(')');
      return inner;
    }
    const name = this.qualifiedName('a table name');
    if (this.isOp('(')) {
      const args = this.parenExprList();
      const alias = this.alias();
      return { kind: 'tablefn', name, args, alias, start, end: this.lastEnd };
    }
    const alias = this.alias();
    const indexHint = this.indexHint();
    return { kind: 'table', name, alias, indexHint, start, end: this.lastEnd };
  }

  private indexHint(): A.TableRef['indexHint'] {
    if (this.acceptWord('INDEXED', 'BY')) return { type: 'INDEXED BY', names: [this.name('an index name')] };
    if (this.acceptWord('NOT', 'INDEXED')) return { type: 'NOT INDEXED', names: [] };
    for (const type of ['FORCE', 'USE', 'IGNORE'] as const) {
      if (this.isWord(type) && (this.isWord('INDEX', this.peek()) || this.isWord('KEY', this.peek()))) {
        this.pos += 2;
        if (this.acceptWord('FOR')) {
          if (!this.acceptWord('JOIN')) {
            if (this.acceptWord('ORDER') || this.acceptWord('GROUP')) this.expectWord('BY');
            else throw this.error('expected JOIN, ORDER BY or GROUP BY');
          }
        }
        return { type, names: this.nameList('an index name') };
      }
    }
    return undefined;
  }

  private windowSpec(): A.WindowSpec {
    const start = this.tok.start;
    if (!this.isOp('(')) {
      const name = this.name('a window name');
      return { name, partitionBy: [], orderBy: [], start, end: this.lastEnd };
    }
    this.expectOp('(');
    let base: string | undefined;
    if (this.isName() && !['PARTITION', 'ORDER', 'RANGE', 'ROWS', 'GROUPS'].includes(this.tok.value)) base = this.name('a window name');
    const partitionBy = this.acceptWord('PARTITION', 'BY') ? this.exprList() : [];
    const orderBy = this.acceptWord('ORDER', 'BY') ? this.orderingTerms() : [];
    let frame: (string | A.Expr)[] | undefined;
    if (this.isWord('RANGE') || this.isWord('ROWS') || this.isWord('GROUPS')) {
      frame = [];
      const frameWords = new Set(['RANGE', 'ROWS', 'GROUPS', 'BETWEEN', 'AND', 'UNBOUNDED', 'PRECEDING', 'FOLLOWING', 'CURRENT', 'ROW', 'EXCLUDE', 'NO', 'OTHERS', 'GROUP', 'TIES']);
      while (!this.isOp(')') && this.tok.kind !== 'eof') {
        if (this.tok.kind === 'word' && frameWords.has(this.tok.value)) frame.push(this.next().value);
        else frame.push(this.addExpr());
      }
    }
    this.expectOp(')');
    return { base, partitionBy, orderBy, frame, start, end: this.lastEnd };
  }

  // -------------------------------------------------------------------------------------------
  // Expressions, lowest precedence first (SQLite's table: OR, AND, NOT, equality, comparison,
  // bitwise, additive, multiplicative, concatenation, unary, COLLATE).

  expr(): A.Expr {
    if (++this.depth > MAX_EXPR_DEPTH) {
      throw new QuiverError('SYNTAX_ERROR', `expression nested deeper than ${MAX_EXPR_DEPTH} levels; simplify it`, {
        position: positionOf(this.sql, this.tok.start),
      });
    }
    try {
      return this.orExpr();
    } finally {
      this.depth--;
    }
  }

  private orExpr(): A.Expr {
    let left = this.andExpr();
    while (this.acceptWord('OR')) {
      const right = this.andExpr();
      left = { kind: 'binary', op: 'OR', left, right, start: left.start, end: this.lastEnd };
    }
    return left;
  }

  private andExpr(): A.Expr {
    let left = this.notExpr();
    while (this.acceptWord('AND')) {
      const right = this.notExpr();
      left = { kind: 'binary', op: 'AND', left, right, start: left.start, end: this.lastEnd };
    }
    return left;
  }

  private notExpr(): A.Expr {
    // NOT binds looser than comparisons: NOT a = b is NOT (a = b).
    const start = this.tok.start;
    if (this.isWord('NOT') && !this.isWord('EXISTS', this.peek())) {
      this.pos++;
      this.enter();
      try {
        const operand = this.notExpr();
        return { kind: 'unary', op: 'NOT', operand, start, end: this.lastEnd };
      } finally {
        this.depth--;
      }
    }
    return this.equalityExpr();
  }

  /** Runs `parse` one nesting level deeper. */
  private nested<T>(parse: () => T): T {
    this.enter();
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  private enter(): void {
    if (++this.depth > MAX_EXPR_DEPTH) {
      throw new QuiverError('SYNTAX_ERROR', `expression nested deeper than ${MAX_EXPR_DEPTH} levels; simplify it`, {
        position: positionOf(this.sql, this.tok.start),
      });
    }
  }

  private equalityExpr(): A.Expr {
    let left = this.comparisonExpr();
    for (;;) {
      const start = left.start;
      const t = this.tok;
      if (t.kind === 'op' && (t.value === '=' || t.value === '==' || t.value === '!=' || t.value === '<>')) {
        this.pos++;
        const right = this.comparisonExpr();
        left = { kind: 'binary', op: t.value as A.BinaryOp, left, right, start, end: this.lastEnd };
        continue;
      }
      if (this.acceptWord('IS')) {
        let op: A.BinaryOp = 'IS';
        if (this.acceptWord('NOT')) op = 'IS NOT';
        if (this.acceptWord('DISTINCT', 'FROM')) op = op === 'IS' ? 'IS NOT' : 'IS';
        const right = this.comparisonExpr();
        left = { kind: 'binary', op, left, right, start, end: this.lastEnd };
        continue;
      }
      if (this.acceptWord('ISNULL')) {
        left = { kind: 'nulltest', not: false, expr: left, start, end: this.lastEnd };
        continue;
      }
      if (this.acceptWord('NOTNULL') || this.acceptWord('NOT', 'NULL')) {
        left = { kind: 'nulltest', not: true, expr: left, start, end: this.lastEnd };
        continue;
      }
      const save = this.pos;
      const not = this.acceptWord('NOT');
      if (this.acceptWord('BETWEEN')) {
        const low = this.comparisonExpr();
        this.expectWord('AND');
        const high = this.comparisonExpr();
        left = { kind: 'between', not, expr: left, low, high, start, end: this.lastEnd };
        continue;
      }
      if (this.acceptWord('IN')) {
        left = this.inTail(left, not);
        continue;
      }
      const likeOp = ['LIKE', 'GLOB', 'REGEXP', 'MATCH'].find((w) => this.isWord(w)) as A.LikeExpr['op'] | undefined;
      if (likeOp) {
        this.pos++;
        const right = this.comparisonExpr();
        const escape = this.acceptWord('ESCAPE') ? this.comparisonExpr() : undefined;
        left = { kind: 'like', op: likeOp, not, left, right, escape, start, end: this.lastEnd };
        continue;
      }
      this.pos = save;
      return left;
    }
  }

  private inTail(left: A.Expr, not: boolean): A.InExpr {
    const start = left.start;
    if (this.acceptOp('(')) {
      if (this.isWord('SELECT') || this.isWord('VALUES') || this.isWord('WITH')) {
        const select = this.select();
        this.expectOp(')');
        return { kind: 'in', not, expr: left, select, start, end: this.lastEnd };
      }
      const list: A.Expr[] = [];
      if (!this.isOp(')')) {
        do list.push(this.expr());
        while (this.acceptOp(','));
      }
      this.expectOp(')');
      return { kind: 'in', not, expr: left, list, start, end: this.lastEnd };
    }
    const table = this.qualifiedName('a table name or a parenthesised list');
    return { kind: 'in', not, expr: left, table, start, end: this.lastEnd };
  }

  private comparisonExpr(): A.Expr {
    return this.leftAssociative(COMPARISON_OPS, () => this.bitwiseExpr());
  }

  private bitwiseExpr(): A.Expr {
    return this.leftAssociative(BITWISE_OPS, () => this.addExpr());
  }

  private addExpr(): A.Expr {
    return this.leftAssociative(ADDITIVE_OPS, () => this.mulExpr());
  }

  private mulExpr(): A.Expr {
    return this.leftAssociative(MULTIPLICATIVE_OPS, () => this.concatExpr());
  }

  private concatExpr(): A.Expr {
    return this.leftAssociative(CONCAT_OPS, () => this.unaryExpr());
  }

  /** One precedence level of left-associative binary operators: operand (op operand)*. */
  private leftAssociative(ops: ReadonlySet<string>, operand: () => A.Expr): A.Expr {
    let left = operand();
    for (;;) {
      const t = this.tok;
      if (t.kind !== 'op' || !ops.has(t.value)) return left;
      this.pos++;
      const right = operand();
      left = { kind: 'binary', op: t.value as A.BinaryOp, left, right, start: left.start, end: this.lastEnd };
    }
  }

  private unaryExpr(): A.Expr {
    const t = this.tok;
    if (t.kind === 'op' && (t.value === '-' || t.value === '+' || t.value === '~')) {
      this.pos++;
      this.enter();
      try {
        const operand = this.unaryExpr();
        return { kind: 'unary', op: t.value as A.UnaryExpr['op'], operand, start: t.start, end: this.lastEnd };
      } finally {
        this.depth--;
      }
    }
    return this.postfixExpr();
  }

  private postfixExpr(): A.Expr {
    let expr = this.primary();
    while (this.acceptWord('COLLATE')) {
      const collation = this.name('a collation name', true);
      expr = { kind: 'collate', expr, collation, start: expr.start, end: this.lastEnd };
    }
    return expr;
  }

  private primary(): A.Expr {
    const t = this.tok;
    const start = t.start;
    switch (t.kind) {
      case 'number':
        this.pos++;
        return { kind: 'literal', type: 'number', value: t.value, start, end: t.end };
      case 'string':
        this.pos++;
        return { kind: 'literal', type: 'string', value: t.value, start, end: t.end };
      case 'blob':
        this.pos++;
        return { kind: 'literal', type: 'blob', value: t.value, start, end: t.end };
      case 'param': {
        this.pos++;
        // SQLite's numbering: `?` takes the next number, `?NNN` is NNN and moves the count on.
        let index: number | undefined;
        if (t.value === '?') index = ++this.positionalCount;
        else if (t.value.startsWith('?')) this.positionalCount = Math.max(this.positionalCount, (index = Number(t.value.slice(1))));
        return { kind: 'param', text: t.value, index, start, end: t.end };
      }
      case 'op':
        if (t.value === '(') return this.parenthesised();
        throw this.error('expected an expression');
      case 'ident':
        return this.columnOrFunction();
      case 'word':
        break;
      default:
        throw this.error('expected an expression');
    }
    switch (t.value) {
      case 'NULL':
      case 'TRUE':
      case 'FALSE':
      case 'CURRENT_TIME':
      case 'CURRENT_DATE':
      case 'CURRENT_TIMESTAMP':
        if (!this.isOp('(', this.peek())) {
          this.pos++;
          return { kind: 'literal', type: 'keyword', value: t.value, start, end: t.end };
        }
        break;
      case 'CASE':
        return this.caseExpr();
      case 'CAST': {
        this.pos++;
        this.expectOp('(');
        const expr = this.expr();
        this.expectWord('AS');
        const type = this.typeName();
        if (!type) throw this.error('expected a type name');
        this.expectOp(')');
        return { kind: 'cast', expr, type, start, end: this.lastEnd };
      }
      case 'NOT':
      case 'EXISTS': {
        // SQLite's grammar takes NOT as an operand too: `1 + NOT 0` is `1 + (NOT 0)`.
        if (t.value === 'NOT' && !this.isWord('EXISTS', this.peek())) return this.notExpr();
        const not = this.acceptWord('NOT');
        this.expectWord('EXISTS');
        this.expectOp('(');
        const select = this.select();
        this.expectOp(')');
        return { kind: 'exists', not, select, start, end: this.lastEnd };
      }
      case 'RAISE':
        if (this.isOp('(', this.peek())) return this.raise();
        break;
      case 'MATCH':
        if (this.isOp('(', this.peek())) return this.matchAgainst();
        break;
    }
    return this.columnOrFunction();
  }

  private parenthesised(): A.Expr {
    const start = this.tok.start;
    this.expectOp('(');
    if (this.isWord('SELECT') || this.isWord('VALUES') || this.isWord('WITH')) {
      const select = this.select();
      this.expectOp(')');
      return { kind: 'subquery', select, start, end: this.lastEnd };
    }
    const first = this.expr();
    if (this.acceptOp(')')) {
      // Keep the user's parentheses in the span so a result column is named as written.
      return { ...first, start, end: this.lastEnd } as A.Expr;
    }
    const items = [first];
    while (this.acceptOp(',')) items.push(this.expr());
    this.expectOp(')');
    return { kind: 'row', items, start, end: this.lastEnd };
  }

  private caseExpr(): A.CaseExpr {
    const start = this.tok.start;
    this.expectWord('CASE');
    const operand = this.isWord('WHEN') ? undefined : this.expr();
    const whens: A.CaseExpr['whens'] = [];
    while (this.acceptWord('WHEN')) {
      const when = this.expr();
      this.expectWord('THEN');
      whens.push({ when, then: this.expr() });
    }
    if (whens.length === 0) throw this.error('expected WHEN');
    const elseExpr = this.acceptWord('ELSE') ? this.expr() : undefined;
    this.expectWord('END');
    return { kind: 'case', operand, whens, else: elseExpr, start, end: this.lastEnd };
  }

  /** MySQL's `MATCH (col, ...) AGAINST (expr [IN NATURAL LANGUAGE MODE])`. */
  private matchAgainst(): A.MatchAgainstExpr {
    const start = this.tok.start;
    this.expectWord('MATCH');
    this.expectOp('(');
    const columns: A.ColumnExpr[] = [];
    do {
      const column = this.columnOrFunction();
      if (column.kind !== 'column') throw this.error('expected a column name in MATCH (...)');
      columns.push(column);
    } while (this.acceptOp(','));
    this.expectOp(')');
    this.expectWord('AGAINST');
    this.expectOp('(');
    const query = this.bitwiseExpr();
    if (this.acceptWord('IN')) {
      if (this.isWord('BOOLEAN')) {
        throw new QuiverError('UNSUPPORTED_STATEMENT', 'MATCH ... AGAINST (... IN BOOLEAN MODE) is not supported; natural language mode is', {
          position: positionOf(this.sql, this.tok.start),
        });
      }
      this.expectWord('NATURAL', 'LANGUAGE', 'MODE');
    }
    this.expectOp(')');
    return { kind: 'matchAgainst', columns, query, start, end: this.lastEnd };
  }

  private raise(): A.RaiseExpr {
    const start = this.tok.start;
    this.expectWord('RAISE');
    this.expectOp('(');
    const action = this.next().value as A.RaiseExpr['action'];
    if (!['IGNORE', 'ROLLBACK', 'ABORT', 'FAIL'].includes(action)) throw this.error('expected IGNORE, ROLLBACK, ABORT or FAIL');
    const message = action !== 'IGNORE' && this.acceptOp(',') ? this.expr() : undefined;
    this.expectOp(')');
    return { kind: 'raise', action, message, start, end: this.lastEnd };
  }

  private columnOrFunction(): A.Expr {
    const t = this.tok;
    const start = t.start;
    if (!this.isName()) throw this.error('expected an expression');
    if (t.kind === 'word' && this.isOp('(', this.peek())) return this.functionCall();
    const parts = [this.name('a column name')];
    while (this.isOp('.') && parts.length < 3) {
      this.pos++;
      parts.push(this.name('a column name'));
    }
    const column = parts[parts.length - 1];
    if (parts.length === 3) return { kind: 'column', schema: parts[0], table: parts[1], column, start, end: this.lastEnd };
    if (parts.length === 2) return { kind: 'column', table: parts[0], column, start, end: this.lastEnd };
    return { kind: 'column', column, start, end: this.lastEnd };
  }

  private functionCall(): A.FunctionExpr {
    const start = this.tok.start;
    const name = this.next().text;
    this.expectOp('(');
    const fn: A.FunctionExpr = { kind: 'function', name, distinct: false, star: false, args: [], start, end: start };
    if (this.acceptOp('*')) fn.star = true;
    else if (!this.isOp(')')) {
      if (this.acceptWord('DISTINCT')) fn.distinct = true;
      else this.acceptWord('ALL');
      fn.args = this.exprList();
      if (this.acceptWord('ORDER', 'BY')) fn.orderBy = this.orderingTerms();
      if (this.acceptWord('SEPARATOR')) fn.separator = this.expr();
    }
    this.expectOp(')');
    if (this.acceptWord('FILTER')) {
      this.expectOp('(');
      this.expectWord('WHERE');
      fn.filter = this.expr();
      this.expectOp(')');
    }
    if (this.acceptWord('OVER')) fn.over = this.windowSpec();
    fn.end = this.lastEnd;
    return fn;
  }

  /** A type name: words, then optional numeric arguments. Undefined if none is written. */
  private typeName(): A.TypeName | undefined {
    const start = this.tok.start;
    const words: string[] = [];
    // A quoted word is always part of the type, never a keyword that ends it.
    while (this.tok.kind === 'ident' || (this.tok.kind === 'word' && !COLUMN_CONSTRAINT_WORDS.has(this.tok.value) && !RESERVED.has(this.tok.value))) {
      words.push(this.tok.kind === 'word' ? this.tok.value : this.tok.value.toUpperCase());
      this.pos++;
    }
    if (words.length === 0) return undefined;
    const args: string[] = [];
    if (this.acceptOp('(')) {
      do {
        const sign = this.acceptOp('-') ? '-' : this.acceptOp('+') ? '+' : '';
        const t = this.next();
        if (t.kind !== 'number' && !(t.kind === 'string' && sign === '')) throw this.error('expected a number in the type', t);
        args.push(t.kind === 'string' ? `'${t.value.replace(/'/g, "''")}'` : sign + t.value);
      } while (this.acceptOp(','));
      this.expectOp(')');
      // MySQL writes attributes after the size: INT(11) UNSIGNED ZEROFILL.
      while (this.isWord('UNSIGNED') || this.isWord('SIGNED') || this.isWord('ZEROFILL')) words.push(this.next().value);
    }
    return { name: words.join(' '), args, start, end: this.lastEnd };
  }

  // -------------------------------------------------------------------------------------------
  // INSERT, UPDATE, DELETE

  private conflictClause(): A.ConflictAction | undefined {
    if (this.acceptWord('ON', 'CONFLICT')) {
      const action = this.next();
      if (!CONFLICT_ACTIONS.has(action.value)) throw this.error('expected ROLLBACK, ABORT, FAIL, IGNORE or REPLACE', action);
      return action.value as A.ConflictAction;
    }
    return undefined;
  }

  private orConflict(): A.ConflictAction | undefined {
    if (!this.acceptWord('OR')) return undefined;
    const action = this.next();
    if (!CONFLICT_ACTIONS.has(action.value)) throw this.error('expected ROLLBACK, ABORT, FAIL, IGNORE or REPLACE', action);
    return action.value as A.ConflictAction;
  }

  private insert(): A.InsertStatement {
    const start = this.tok.start;
    let verb: A.InsertStatement['verb'] = 'INSERT';
    let orConflict: A.ConflictAction | undefined;
    if (this.acceptWord('REPLACE')) verb = 'REPLACE';
    else {
      this.expectWord('INSERT');
      orConflict = this.orConflict();
      if (!orConflict && this.acceptWord('IGNORE')) orConflict = 'IGNORE'; // MySQL INSERT IGNORE
    }
    if (!this.acceptWord('INTO') && verb === 'INSERT') throw this.error('expected INTO');
    const table = this.qualifiedName('a table name');
    const alias = this.acceptWord('AS') ? this.name('an alias') : undefined;
    let columns: string[] | undefined;
    if (this.isOp('(') && !this.isWord('SELECT', this.peek()) && !this.isWord('WITH', this.peek()) && !this.isWord('VALUES', this.peek())) {
      columns = this.nameList('a column name');
    }
    let source: A.InsertStatement['source'];
    if (this.acceptWord('DEFAULT', 'VALUES')) source = { kind: 'defaults' };
    else if (this.isWord('VALUES') || this.isWord('VALUE')) {
      this.pos++;
      const rows: A.Expr[][] = [];
      do rows.push(this.parenExprList());
      while (this.acceptOp(','));
      source = { kind: 'values', rows };
    } else source = { kind: 'select', select: this.select() };
    const upsert: A.UpsertClause[] = [];
    while (this.isWord('ON') && this.isWord('CONFLICT', this.peek())) upsert.push(this.upsertClause());
    const returning = this.returning();
    return { kind: 'insert', verb, orConflict, table, alias, columns, source, upsert, returning, start, end: this.lastEnd };
  }

  private upsertClause(): A.UpsertClause {
    const start = this.tok.start;
    this.expectWord('ON', 'CONFLICT');
    let target: A.UpsertClause['target'];
    if (this.acceptOp('(')) {
      const columns = this.indexedColumns();
      this.expectOp(')');
      const where = this.acceptWord('WHERE') ? this.expr() : undefined;
      target = { columns, where };
    }
    this.expectWord('DO');
    if (this.acceptWord('NOTHING')) return { target, start, end: this.lastEnd };
    this.expectWord('UPDATE', 'SET');
    const set = this.setClauses();
    const where = this.acceptWord('WHERE') ? this.expr() : undefined;
    return { target, set, where, start, end: this.lastEnd };
  }

  private setClauses(): A.SetClause[] {
    const clauses: A.SetClause[] = [];
    do {
      const start = this.tok.start;
      let columns: string[];
      if (this.isOp('(')) columns = this.nameList('a column name');
      else {
        let name = this.name('a column name');
        // MySQL lets the column be qualified: SET t.a = 1.
        if (this.acceptOp('.')) name = this.name('a column name');
        columns = [name];
      }
      this.expectOp('=');
      clauses.push({ columns, value: this.expr(), start, end: this.lastEnd });
    } while (this.acceptOp(','));
    return clauses;
  }

  private returning(): A.ResultColumn[] | undefined {
    if (!this.acceptWord('RETURNING')) return undefined;
    const columns: A.ResultColumn[] = [];
    do columns.push(this.resultColumn());
    while (this.acceptOp(','));
    return columns;
  }

  private update(): A.UpdateStatement {
    const start = this.tok.start;
    this.expectWord('UPDATE');
    const orConflict = this.orConflict();
    const table = this.qualifiedName('a table name');
    const alias = this.isWord('SET') ? undefined : this.alias();
    const indexHint = this.indexHint();
    this.expectWord('SET');
    const set = this.setClauses();
    const from = this.acceptWord('FROM') ? this.fromClause() : undefined;
    const where = this.acceptWord('WHERE') ? this.expr() : undefined;
    const { orderBy, limit, offset } = this.orderLimit();
    const returning = this.returning();
    return { kind: 'update', orConflict, table, alias, indexHint, set, from, where, orderBy, limit, offset, returning, start, end: this.lastEnd };
  }

  private orderLimit(): { orderBy: A.OrderingTerm[]; limit?: A.Expr; offset?: A.Expr } {
    const orderBy = this.acceptWord('ORDER', 'BY') ? this.orderingTerms() : [];
    let limit: A.Expr | undefined;
    let offset: A.Expr | undefined;
    if (this.acceptWord('LIMIT')) {
      limit = this.expr();
      if (this.acceptWord('OFFSET')) offset = this.expr();
      else if (this.acceptOp(',')) {
        offset = limit;
        limit = this.expr();
      }
    }
    return { orderBy, limit, offset };
  }

  private delete(): A.DeleteStatement {
    const start = this.tok.start;
    this.expectWord('DELETE');
    this.expectWord('FROM');
    const table = this.qualifiedName('a table name');
    const alias = this.isWord('WHERE') ? undefined : this.alias();
    const indexHint = this.indexHint();
    const where = this.acceptWord('WHERE') ? this.expr() : undefined;
    const { orderBy, limit, offset } = this.orderLimit();
    const returning = this.returning();
    return { kind: 'delete', table, alias, indexHint, where, orderBy, limit, offset, returning, start, end: this.lastEnd };
  }

  // -------------------------------------------------------------------------------------------
  // CREATE

  private create(): A.Statement {
    const start = this.tok.start;
    this.expectWord('CREATE');
    const temp = this.acceptWord('TEMP') || this.acceptWord('TEMPORARY');
    if (this.acceptWord('TABLE')) return this.createTable(start, temp);
    if (this.acceptWord('VIEW')) return this.createView(start, temp);
    if (this.acceptWord('TRIGGER')) return this.createTrigger(start, temp);
    if (temp) throw this.error('expected TABLE, VIEW or TRIGGER after TEMP');
    if (this.acceptWord('VECTOR')) {
      this.expectWord('INDEX');
      return this.createVectorIndex(start);
    }
    if (this.acceptWord('FULLTEXT')) {
      this.expectWord('INDEX');
      const ifNotExists = this.ifNotExists();
      const name = this.name('an index name');
      this.expectWord('ON');
      const table = this.name('a table name');
      const colStart = this.tok.start;
      const columns = this.nameList('a column name');
      return { kind: 'createFulltextIndex', ifNotExists, name, table, index: { name, columns, start: colStart, end: this.lastEnd }, start, end: this.lastEnd };
    }
    const unique = this.acceptWord('UNIQUE');
    if (this.acceptWord('INDEX')) return this.createIndex(start, unique);
    if (this.isWord('VIRTUAL')) {
      throw new QuiverError('UNSUPPORTED_STATEMENT', 'CREATE VIRTUAL TABLE is not supported', { position: positionOf(this.sql, this.tok.start) });
    }
    throw this.error('expected TABLE, INDEX, VECTOR INDEX, FULLTEXT INDEX, VIEW or TRIGGER');
  }

  private ifNotExists(): boolean {
    return this.acceptWord('IF', 'NOT', 'EXISTS');
  }

  private createTable(start: number, temp: boolean): A.CreateTableStatement {
    const ifNotExists = this.ifNotExists();
    const name = this.qualifiedName('a table name');
    const stmt: A.CreateTableStatement = {
      kind: 'createTable', temp, ifNotExists, name, columns: [], constraints: [], indexes: [], vectorIndexes: [], fulltextIndexes: [],
      options: [], withoutRowid: false, strict: false, start, end: start,
    };
    if (this.acceptWord('AS')) {
      stmt.asSelect = this.select();
      stmt.end = this.lastEnd;
      return stmt;
    }
    this.expectOp('(');
    do {
      if (!this.tableElement(stmt)) stmt.columns.push(this.columnDef());
    } while (this.acceptOp(','));
    this.expectOp(')');
    this.tableOptions(stmt);
    stmt.end = this.lastEnd;
    return stmt;
  }

  /** Parses a table constraint or inline index if one starts here; false for a column. */
  private tableElement(stmt: A.CreateTableStatement): boolean {
    const start = this.tok.start;
    const t = this.tok;
    if (t.kind !== 'word') return false;
    const next = this.peek();
    // A column may be named like a keyword (`key`, `index`); a constraint keyword is followed
    // by a keyword or a parenthesis, a column name by its type.
    if (this.isWord('VECTOR') && (this.isWord('INDEX', next) || this.isWord('KEY', next))) {
      this.pos += 2;
      stmt.vectorIndexes.push(this.vectorIndexBody(start, 'inline'));
      return true;
    }
    if ((t.value === 'KEY' || t.value === 'INDEX') && (this.isOp('(', next) || this.isName(next))) {
      this.pos++;
      const indexName = this.isOp('(') ? undefined : this.name('an index name');
      this.skipMysqlIndexType();
      this.expectOp('(');
      const columns = this.indexedColumns();
      this.expectOp(')');
      stmt.indexes.push({ name: indexName, unique: false, columns, start, end: this.lastEnd });
      return true;
    }
    if (t.value === 'FULLTEXT' && (this.isWord('INDEX', next) || this.isWord('KEY', next))) {
      this.pos += 2;
      const indexName = this.isOp('(') ? undefined : this.name('an index name');
      stmt.fulltextIndexes.push({ name: indexName, columns: this.nameList('a column name'), start, end: this.lastEnd });
      return true;
    }
    if (t.value === 'SPATIAL') {
      throw new QuiverError('UNSUPPORTED_STATEMENT', 'SPATIAL indexes are not supported', { position: positionOf(this.sql, t.start) });
    }
    let constraintName: string | undefined;
    if (this.acceptWord('CONSTRAINT')) constraintName = this.name('a constraint name');
    const c = this.tok;
    if (this.acceptWord('PRIMARY', 'KEY')) {
      this.skipMysqlIndexType();
      this.expectOp('(');
      const columns = this.indexedColumns();
      const autoIncrement = this.acceptWord('AUTOINCREMENT');
      this.expectOp(')');
      const onConflict = this.conflictClause();
      stmt.constraints.push({ kind: 'primaryKey', constraintName, columns, onConflict, autoIncrement, start, end: this.lastEnd });
      return true;
    }
    if (this.isWord('UNIQUE') && (this.isOp('(', next) || this.isWord('KEY', next) || this.isWord('INDEX', next) || this.isName(next))) {
      this.pos++;
      let indexName: string | undefined;
      if (this.acceptWord('KEY') || this.acceptWord('INDEX') || !this.isOp('(')) {
        if (!this.isOp('(')) indexName = this.name('an index name');
      }
      this.skipMysqlIndexType();
      this.expectOp('(');
      const columns = this.indexedColumns();
      this.expectOp(')');
      const onConflict = this.conflictClause();
      stmt.constraints.push({ kind: 'unique', constraintName: constraintName ?? indexName, columns, onConflict, start, end: this.lastEnd });
      return true;
    }
    if (this.acceptWord('CHECK')) {
      this.expectOp('(');
      const expr = this.expr();
      this.expectOp(')');
      stmt.constraints.push({ kind: 'check', constraintName, expr, start, end: this.lastEnd });
      return true;
    }
    if (this.acceptWord('FOREIGN', 'KEY')) {
      const columns = this.nameList('a column name');
      const ref = this.foreignKeyRef();
      stmt.constraints.push({ kind: 'foreignKey', constraintName, columns, ref, start, end: this.lastEnd });
      return true;
    }
    if (constraintName !== undefined) throw this.error('expected PRIMARY KEY, UNIQUE, CHECK or FOREIGN KEY', c);
    return false;
  }

  /** MySQL's `USING BTREE|HASH` on index definitions: accepted, meaningless here. */
  private skipMysqlIndexType(): void {
    if (this.acceptWord('USING')) {
      if (!this.acceptWord('BTREE') && !this.acceptWord('HASH')) throw this.error('expected BTREE or HASH');
    }
  }

  private indexedColumns(): A.IndexedColumn[] {
    const columns: A.IndexedColumn[] = [];
    do {
      const start = this.tok.start;
      let expr = this.expr();
      let collation: string | undefined;
      if (expr.kind === 'collate') {
        collation = expr.collation;
        expr = expr.expr;
      }
      let direction: A.IndexedColumn['direction'];
      if (this.acceptWord('ASC')) direction = 'ASC';
      else if (this.acceptWord('DESC')) direction = 'DESC';
      columns.push({ expr, collation, direction, start, end: this.lastEnd });
    } while (this.acceptOp(','));
    return columns;
  }

  private columnDef(): A.ColumnDef {
    const start = this.tok.start;
    const name = this.name('a column name', true);
    const type = this.typeName();
    const column: A.ColumnDef = { name, type, constraints: [], start, end: start };
    for (;;) {
      const cStart = this.tok.start;
      let constraintName: string | undefined;
      if (this.acceptWord('CONSTRAINT')) constraintName = this.name('a constraint name');
      const base = { constraintName, start: cStart };
      if (this.acceptWord('PRIMARY', 'KEY')) {
        let direction: 'ASC' | 'DESC' | undefined;
        if (this.acceptWord('ASC')) direction = 'ASC';
        else if (this.acceptWord('DESC')) direction = 'DESC';
        const onConflict = this.conflictClause();
        const autoIncrement = this.acceptWord('AUTOINCREMENT') || this.acceptWord('AUTO_INCREMENT');
        column.constraints.push({ ...base, kind: 'primaryKey', direction, onConflict, autoIncrement, end: this.lastEnd });
      } else if (this.acceptWord('NOT', 'NULL')) {
        column.constraints.push({ ...base, kind: 'notNull', onConflict: this.conflictClause(), end: this.lastEnd });
      } else if (this.acceptWord('NULL')) {
        column.constraints.push({ ...base, kind: 'null', end: this.lastEnd });
      } else if (this.acceptWord('UNIQUE')) {
        this.acceptWord('KEY');
        column.constraints.push({ ...base, kind: 'unique', onConflict: this.conflictClause(), end: this.lastEnd });
      } else if (this.acceptWord('KEY')) {
        // MySQL: `id INT KEY` means PRIMARY KEY.
        column.constraints.push({ ...base, kind: 'primaryKey', autoIncrement: false, end: this.lastEnd });
      } else if (this.acceptWord('CHECK')) {
        this.expectOp('(');
        const expr = this.expr();
        this.expectOp(')');
        column.constraints.push({ ...base, kind: 'check', expr, end: this.lastEnd });
      } else if (this.acceptWord('DEFAULT')) {
        column.constraints.push({ ...base, kind: 'default', expr: this.defaultValue(), end: this.lastEnd });
      } else if (this.acceptWord('COLLATE')) {
        column.constraints.push({ ...base, kind: 'collate', collation: this.name('a collation name', true), end: this.lastEnd });
      } else if (this.isWord('REFERENCES')) {
        column.constraints.push({ ...base, kind: 'references', ref: this.foreignKeyRef(), end: this.lastEnd });
      } else if (this.isWord('GENERATED') || this.isWord('AS')) {
        if (this.acceptWord('GENERATED')) this.expectWord('ALWAYS');
        this.expectWord('AS');
        this.expectOp('(');
        const expr = this.expr();
        this.expectOp(')');
        let storage: 'STORED' | 'VIRTUAL' | undefined;
        if (this.acceptWord('STORED')) storage = 'STORED';
        else if (this.acceptWord('VIRTUAL')) storage = 'VIRTUAL';
        column.constraints.push({ ...base, kind: 'generated', expr, storage, end: this.lastEnd });
      } else if (constraintName === undefined && (this.acceptWord('AUTO_INCREMENT') || this.acceptWord('AUTOINCREMENT'))) {
        column.constraints.push({ ...base, kind: 'autoIncrement', end: this.lastEnd });
      } else if (constraintName === undefined && this.acceptWord('COMMENT')) {
        const t = this.next();
        if (t.kind !== 'string') throw this.error('expected a string after COMMENT', t);
        column.comment = t.value;
      } else if (constraintName === undefined && (this.acceptWord('CHARACTER', 'SET') || this.acceptWord('CHARSET'))) {
        // MySQL character sets: every SQLite string is Unicode, so this is accepted and dropped.
        this.name('a character set name', true);
      } else if (constraintName !== undefined) {
        throw this.error('expected a constraint after CONSTRAINT name');
      } else break;
    }
    column.end = this.lastEnd;
    return column;
  }

  /** DEFAULT takes a literal, a signed number, a keyword constant, or a parenthesised expression. */
  private defaultValue(): A.Expr {
    const t = this.tok;
    if (this.isOp('(')) return this.primary();
    if (t.kind === 'op' && (t.value === '-' || t.value === '+')) {
      this.pos++;
      const operand = this.primary();
      return { kind: 'unary', op: t.value as '-' | '+', operand, start: t.start, end: this.lastEnd };
    }
    if (t.kind === 'word' && this.isOp('(', this.peek())) return this.functionCall();
    if (t.kind === 'word' && !['NULL', 'TRUE', 'FALSE', 'CURRENT_TIME', 'CURRENT_DATE', 'CURRENT_TIMESTAMP'].includes(t.value)) {
      // SQLite reads a bare word as a string default.
      this.pos++;
      return { kind: 'literal', type: 'string', value: t.text, start: t.start, end: t.end };
    }
    return this.primary();
  }

  private foreignKeyRef(): A.ForeignKeyRef {
    const start = this.tok.start;
    this.expectWord('REFERENCES');
    const table = this.name('a table name');
    const columns = this.isOp('(') ? this.nameList('a column name') : undefined;
    const clauses: string[] = [];
    for (;;) {
      if (this.acceptWord('ON')) {
        const event = this.next();
        if (event.value !== 'DELETE' && event.value !== 'UPDATE') throw this.error('expected DELETE or UPDATE', event);
        let action: string;
        if (this.acceptWord('SET', 'NULL')) action = 'SET NULL';
        else if (this.acceptWord('SET', 'DEFAULT')) action = 'SET DEFAULT';
        else if (this.acceptWord('CASCADE')) action = 'CASCADE';
        else if (this.acceptWord('RESTRICT')) action = 'RESTRICT';
        else if (this.acceptWord('NO', 'ACTION')) action = 'NO ACTION';
        else throw this.error('expected SET NULL, SET DEFAULT, CASCADE, RESTRICT or NO ACTION');
        clauses.push(`ON ${event.value} ${action}`);
      } else if (this.acceptWord('MATCH')) {
        clauses.push(`MATCH ${this.name('a match type')}`);
      } else if (this.isWord('DEFERRABLE') || (this.isWord('NOT') && this.isWord('DEFERRABLE', this.peek()))) {
        let clause = this.acceptWord('NOT') ? 'NOT DEFERRABLE' : 'DEFERRABLE';
        this.expectWord('DEFERRABLE');
        if (this.acceptWord('INITIALLY')) {
          if (this.acceptWord('DEFERRED')) clause += ' INITIALLY DEFERRED';
          else if (this.acceptWord('IMMEDIATE')) clause += ' INITIALLY IMMEDIATE';
          else throw this.error('expected DEFERRED or IMMEDIATE');
        }
        clauses.push(clause);
      } else break;
    }
    return { table, columns, clauses, start, end: this.lastEnd };
  }

  /** Table options after the closing parenthesis: SQLite's and MySQL's. */
  private tableOptions(stmt: A.CreateTableStatement): void {
    for (;;) {
      this.acceptOp(',');
      if (this.acceptWord('WITHOUT')) {
        if (!this.acceptWord('ROWID')) throw this.error('expected ROWID');
        stmt.withoutRowid = true;
        continue;
      }
      if (this.acceptWord('STRICT')) {
        stmt.strict = true;
        continue;
      }
      if (this.tok.kind !== 'word') return;
      const words: string[] = [this.next().value];
      // Options such as DEFAULT CHARSET=x, CHARACTER SET x, DEFAULT COLLATE x.
      while (this.tok.kind === 'word' && ['CHARSET', 'CHARACTER', 'SET', 'COLLATE'].includes(this.tok.value)) words.push(this.next().value);
      this.acceptOp('=');
      const t = this.next();
      if (t.kind !== 'string' && t.kind !== 'word' && t.kind !== 'number' && t.kind !== 'ident') throw this.error('expected a table option value', t);
      const name = words.join(' ');
      const value = t.kind === 'word' ? t.text : t.value;
      if (name === 'COMMENT') stmt.comment = value;
      stmt.options.push({ name, value });
    }
  }

  private vectorIndexBody(start: number, declaredAs: A.VectorIndexDef['declaredAs']): A.VectorIndexDef {
    const name = this.isOp('(') ? undefined : this.name('an index name');
    this.expectOp('(');
    const column = this.name('a column name');
    this.expectOp(')');
    return { name, column, options: this.indexOptions(), declaredAs, start, end: this.lastEnd };
  }

  /**
   * `m=6 distance=cosine`, as AliSQL writes them after a vector index, and pgvector's
   * `WITH (m = 16, quantization = 'int8')`; either form, or both, in any order.
   */
  private indexOptions(): { name: string; value: string }[] {
    const options: { name: string; value: string }[] = [];
    const option = () => {
      const name = this.next().value.toLowerCase();
      this.pos++;
      const t = this.next();
      if (t.kind !== 'word' && t.kind !== 'number' && t.kind !== 'string') throw this.error('expected an option value', t);
      options.push({ name, value: t.kind === 'word' ? t.text : t.value });
    };
    for (;;) {
      if (this.tok.kind === 'word' && this.isOp('=', this.peek())) {
        option();
      } else if (this.isWord('WITH') && this.isOp('(', this.peek())) {
        this.pos += 2;
        for (;;) {
          if (this.tok.kind !== 'word' || !this.isOp('=', this.peek())) throw this.error('expected an index option: name = value');
          option();
          if (!this.isOp(',')) break;
          this.pos++;
        }
        this.expectOp(')');
      } else {
        return options;
      }
    }
  }

  private createVectorIndex(start: number): A.CreateVectorIndexStatement {
    const ifNotExists = this.ifNotExists();
    const name = this.name('an index name');
    this.expectWord('ON');
    const table = this.name('a table name');
    const colStart = this.tok.start;
    this.expectOp('(');
    const column = this.name('a column name');
    this.expectOp(')');
    const index: A.VectorIndexDef = { name, column, options: this.indexOptions(), declaredAs: 'statement', start: colStart, end: this.lastEnd };
    return { kind: 'createVectorIndex', ifNotExists, name, table, index, start, end: this.lastEnd };
  }

  private createIndex(start: number, unique: boolean): A.CreateIndexStatement {
    const ifNotExists = this.ifNotExists();
    const name = this.qualifiedName('an index name');
    this.skipMysqlIndexType();
    this.expectWord('ON');
    const table = this.name('a table name');
    this.expectOp('(');
    const columns = this.indexedColumns();
    this.expectOp(')');
    const where = this.acceptWord('WHERE') ? this.expr() : undefined;
    return { kind: 'createIndex', unique, ifNotExists, name, table, columns, where, start, end: this.lastEnd };
  }

  private createView(start: number, temp: boolean): A.CreateViewStatement {
    const ifNotExists = this.ifNotExists();
    const name = this.qualifiedName('a view name');
    const columns = this.isOp('(') ? this.nameList('a column name') : undefined;
    this.expectWord('AS');
    const select = this.select();
    return { kind: 'createView', temp, ifNotExists, name, columns, select, start, end: this.lastEnd };
  }

  private createTrigger(start: number, temp: boolean): A.CreateTriggerStatement {
    const ifNotExists = this.ifNotExists();
    const name = this.qualifiedName('a trigger name');
    let timing: A.CreateTriggerStatement['timing'];
    if (this.acceptWord('BEFORE')) timing = 'BEFORE';
    else if (this.acceptWord('AFTER')) timing = 'AFTER';
    else if (this.acceptWord('INSTEAD', 'OF')) timing = 'INSTEAD OF';
    let event: A.CreateTriggerStatement['event'];
    let updateOf: string[] | undefined;
    if (this.acceptWord('DELETE')) event = 'DELETE';
    else if (this.acceptWord('INSERT')) event = 'INSERT';
    else if (this.acceptWord('UPDATE')) {
      event = 'UPDATE';
      if (this.acceptWord('OF')) {
        updateOf = [];
        do updateOf.push(this.name('a column name'));
        while (this.acceptOp(','));
      }
    } else throw this.error('expected DELETE, INSERT or UPDATE');
    this.expectWord('ON');
    const table = this.name('a table name');
    const forEachRow = this.acceptWord('FOR', 'EACH', 'ROW');
    const when = this.acceptWord('WHEN') ? this.expr() : undefined;
    this.expectWord('BEGIN');
    const body: A.CreateTriggerStatement['body'] = [];
    while (!this.isWord('END')) {
      const s = this.statement();
      if (s.kind !== 'insert' && s.kind !== 'update' && s.kind !== 'delete' && s.kind !== 'select') {
        throw this.error('a trigger body holds only INSERT, UPDATE, DELETE and SELECT statements');
      }
      body.push(s);
      this.expectOp(';');
    }
    this.expectWord('END');
    if (body.length === 0) throw this.error('expected at least one statement in the trigger body');
    return { kind: 'createTrigger', temp, ifNotExists, name, timing, event, updateOf, table, forEachRow, when, body, start, end: this.lastEnd };
  }

  // -------------------------------------------------------------------------------------------
  // DROP, ALTER, TRUNCATE, maintenance

  private drop(): A.DropStatement {
    const start = this.tok.start;
    this.expectWord('DROP');
    const t = this.next();
    if (t.kind !== 'word' || !['TABLE', 'INDEX', 'VIEW', 'TRIGGER'].includes(t.value)) {
      throw this.error('expected TABLE, INDEX, VIEW or TRIGGER', t);
    }
    const ifExists = this.acceptWord('IF', 'EXISTS');
    const name = this.qualifiedName(`a ${t.value.toLowerCase()} name`);
    const table = t.value === 'INDEX' && this.acceptWord('ON') ? this.name('a table name') : undefined;
    if (t.value === 'TABLE' && this.isOp(',')) {
      throw this.error('drop one table per statement (DROP TABLE a; DROP TABLE b)');
    }
    return { kind: 'drop', object: t.value as A.DropStatement['object'], ifExists, name, table, start, end: this.lastEnd };
  }

  private alterTable(): A.AlterTableStatement {
    const start = this.tok.start;
    this.expectWord('ALTER', 'TABLE');
    const table = this.qualifiedName('a table name');
    let action: A.AlterAction;
    if (this.acceptWord('RENAME')) {
      if (this.acceptWord('TO') || this.acceptWord('AS')) action = { kind: 'renameTable', to: this.name('a table name') };
      else {
        this.acceptWord('COLUMN');
        const from = this.name('a column name');
        this.expectWord('TO');
        action = { kind: 'renameColumn', from, to: this.name('a column name') };
      }
    } else if (this.acceptWord('ADD')) {
      this.acceptWord('COLUMN');
      action = { kind: 'addColumn', column: this.columnDef() };
    } else if (this.acceptWord('DROP')) {
      this.acceptWord('COLUMN');
      action = { kind: 'dropColumn', name: this.name('a column name') };
    } else if (this.acceptWord('MODIFY')) {
      this.acceptWord('COLUMN');
      action = { kind: 'modifyColumn', column: this.columnDef() };
    } else throw this.error('expected RENAME, ADD, DROP or MODIFY');
    return { kind: 'alterTable', table, action, start, end: this.lastEnd };
  }

  private truncate(): A.TruncateStatement {
    const start = this.tok.start;
    this.expectWord('TRUNCATE');
    this.acceptWord('TABLE');
    const table = this.qualifiedName('a table name');
    return { kind: 'truncate', table, start, end: this.lastEnd };
  }

  private maintenance(): A.MaintenanceStatement {
    const start = this.tok.start;
    const verb = this.next().value as A.MaintenanceStatement['verb'];
    const target = this.isName() ? this.qualifiedName('a name') : undefined;
    if (verb === 'VACUUM' && this.isWord('INTO')) {
      throw new QuiverError('UNSUPPORTED_STATEMENT', 'VACUUM INTO is not allowed: it writes a file outside the database', {
        position: positionOf(this.sql, this.tok.start),
      });
    }
    return { kind: 'maintenance', verb, target, start, end: this.lastEnd };
  }

  // -------------------------------------------------------------------------------------------
  // Transactions, SHOW, DESCRIBE, EXPLAIN, PRAGMA

  private transaction(): A.TransactionStatement {
    const start = this.tok.start;
    const word = this.next().value;
    const done = (action: A.TransactionStatement['action'], extra: Partial<A.TransactionStatement> = {}): A.TransactionStatement => ({
      kind: 'transaction', action, ...extra, start, end: this.lastEnd,
    });
    switch (word) {
      case 'BEGIN': {
        let mode: string | undefined;
        if (this.acceptWord('DEFERRED')) mode = 'DEFERRED';
        else if (this.acceptWord('IMMEDIATE')) mode = 'IMMEDIATE';
        else if (this.acceptWord('EXCLUSIVE')) mode = 'EXCLUSIVE';
        this.acceptWord('TRANSACTION') || this.acceptWord('WORK');
        return done('BEGIN', { mode });
      }
      case 'START':
        this.expectWord('TRANSACTION');
        return done('BEGIN');
      case 'COMMIT':
      case 'END':
        this.acceptWord('TRANSACTION') || this.acceptWord('WORK');
        return done('COMMIT');
      case 'ROLLBACK': {
        this.acceptWord('TRANSACTION') || this.acceptWord('WORK');
        if (this.acceptWord('TO')) {
          this.acceptWord('SAVEPOINT');
          return done('ROLLBACK', { savepoint: this.name('a savepoint name') });
        }
        return done('ROLLBACK');
      }
      case 'SAVEPOINT':
        return done('SAVEPOINT', { savepoint: this.name('a savepoint name') });
      default:
        this.acceptWord('SAVEPOINT');
        return done('RELEASE', { savepoint: this.name('a savepoint name') });
    }
  }

  private show(): A.ShowStatement {
    const start = this.tok.start;
    this.expectWord('SHOW');
    this.acceptWord('FULL');
    if (this.acceptWord('TABLES')) {
      let like: string | undefined;
      if (this.acceptWord('LIKE')) {
        const t = this.next();
        if (t.kind !== 'string') throw this.error('expected a pattern string', t);
        like = t.value;
      }
      return { kind: 'show', what: 'TABLES', like, start, end: this.lastEnd };
    }
    if (this.acceptWord('CREATE', 'TABLE')) {
      return { kind: 'show', what: 'CREATE TABLE', table: this.name('a table name'), start, end: this.lastEnd };
    }
    if (this.acceptWord('COLUMNS') || this.acceptWord('FIELDS')) {
      if (!this.acceptWord('FROM')) this.expectWord('IN');
      return { kind: 'show', what: 'COLUMNS', table: this.name('a table name'), start, end: this.lastEnd };
    }
    if (this.acceptWord('EMBEDDING', 'MODELS')) return { kind: 'show', what: 'EMBEDDING MODELS', start, end: this.lastEnd };
    if (this.acceptWord('PROCESSLIST')) return { kind: 'show', what: 'PROCESSLIST', start, end: this.lastEnd };
    if (this.acceptWord('INDEX', 'STATUS') || this.acceptWord('VECTOR', 'INDEX', 'STATUS')) {
      const table = this.acceptWord('FROM') || this.acceptWord('IN') ? this.name('a table name') : undefined;
      return { kind: 'show', what: 'INDEX STATUS', table, start, end: this.lastEnd };
    }
    if (this.acceptWord('INDEX') || this.acceptWord('INDEXES') || this.acceptWord('KEYS')) {
      if (!this.acceptWord('FROM')) this.expectWord('IN');
      return { kind: 'show', what: 'INDEX', table: this.name('a table name'), start, end: this.lastEnd };
    }
    throw this.error('expected TABLES, CREATE TABLE, COLUMNS, INDEX, INDEX STATUS, EMBEDDING MODELS or PROCESSLIST');
  }

  private setStatement(): A.SetStatement {
    const start = this.tok.start;
    this.expectWord('SET');
    this.acceptWord('SESSION');
    const name = this.name('a setting name').toLowerCase();
    if (!this.acceptOp('=')) this.expectOp(':=');
    return { kind: 'set', name, value: this.expr(), start, end: this.lastEnd };
  }

  private describe(): A.ShowStatement {
    const start = this.tok.start;
    this.next();
    return { kind: 'show', what: 'COLUMNS', table: this.name('a table name'), start, end: this.lastEnd };
  }

  private explain(): A.ExplainStatement {
    const start = this.tok.start;
    this.expectWord('EXPLAIN');
    const queryPlan = this.acceptWord('QUERY', 'PLAN');
    const statement = this.statement();
    if (statement.kind === 'explain') throw this.error('EXPLAIN cannot explain an EXPLAIN');
    return { kind: 'explain', queryPlan, statement, start, end: this.lastEnd };
  }

  private pragma(): A.PragmaStatement {
    const start = this.tok.start;
    this.expectWord('PRAGMA');
    const name = this.qualifiedName('a pragma name');
    let value: string | undefined;
    const readValue = (): string => {
      const sign = this.acceptOp('-') ? '-' : '';
      const t = this.next();
      if (t.kind === 'eof' || t.kind === 'op') throw this.error('expected a pragma value', t);
      return sign + (t.kind === 'word' ? t.text : t.value);
    };
    if (this.acceptOp('=')) value = readValue();
    else if (this.acceptOp('(')) {
      value = readValue();
      this.expectOp(')');
    }
    return { kind: 'pragma', name, value, start, end: this.lastEnd };
  }
}
