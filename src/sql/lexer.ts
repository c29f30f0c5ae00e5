/**
 * @module lexer
 * Turns SQL text into tokens with their source positions. The dialect is SQLite's plus MySQL's
 * lexical habits: backtick identifiers, double-quoted strings, `#` comments. Keywords are not
 * a token kind: SQLite lets most keywords be names, so the parser decides from context.
 */
import { QuiverError, type SourcePosition } from './errors.ts';

export type TokenKind =
  | 'word' // a bare word: keyword or identifier, decided by the parser
  | 'ident' // a quoted identifier: `x` or [x]
  | 'string' // '...' or "..." (MySQL: double quotes delimit strings)
  | 'number'
  | 'blob' // X'ABCD'
  | 'param' // ?, ?NNN, :name, @name, $name
  | 'op' // punctuation and operators
  | 'eof';

export interface Token {
  kind: TokenKind;
  /** Decoded value: identifier name, string contents, operator text, upper-cased word. */
  value: string;
  /** The word as written (for words whose case matters, such as names). */
  text: string;
  start: number;
  end: number;
}

const OPERATORS = ['||', '<<', '>>', '<=', '>=', '==', '!=', '<>', '->>', '->', ':='];
const OPERATOR_STARTS = new Set(OPERATORS.map((o) => o[0]));
const SINGLE = '(),;.*/%+-<>=&|~';

// Runs of characters are matched with sticky patterns, not character by character: a request
// may hold megabytes of SQL, and the lexer must stay linear and allocate per token, not per
// character.
const IDENT_PARTS = /[A-Za-z0-9_$\u0080-\uffff]*/y;
const DIGITS = /[0-9]*/y;
const DIGITS_OR_UNDERSCORES = /[0-9_]*/y;
const HEX_DIGITS = /[0-9A-Fa-f]*/y;

/** The end of the run of `pattern` (a sticky `[...]*`) that starts at `from`. */
function skip(pattern: RegExp, sql: string, from: number): number {
  pattern.lastIndex = from;
  pattern.test(sql);
  return pattern.lastIndex;
}

function isIdentStart(ch: string): boolean {
  return /[A-Za-z_\u0080-\uffff]/.test(ch);
}

function isIdentPart(ch: string): boolean {
  return /[A-Za-z0-9_$\u0080-\uffff]/.test(ch);
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= '0' && ch <= '9';
}

/** 1-based line and column of an offset, for error messages. */
export function positionOf(sql: string, offset: number): SourcePosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < sql.length; i++) {
    if (sql.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function syntaxError(sql: string, offset: number, detail: string): QuiverError {
  const position = positionOf(sql, offset);
  return new QuiverError('SYNTAX_ERROR', `${detail} at line ${position.line}, column ${position.column}`, { position });
}

/**
 * Splits `sql` into tokens, ending with one `eof` token. Throws SYNTAX_ERROR on bad input, and
 * LIMIT_EXCEEDED past `maxTokens`: lexing and parsing run on the engine's thread at about a
 * microsecond a token, so megabytes of tiny tokens would hold it for seconds.
 */
export function tokenize(sql: string, maxTokens = Infinity): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    if (tokens.length > maxTokens) {
      throw new QuiverError(
        'LIMIT_EXCEEDED',
        `the SQL holds more than ${maxTokens} tokens; at most ${maxTokens} are allowed per request (QUIVER_MAX_SQL_TOKENS): split it, or bind values as params`,
      );
    }
    const ch = sql[i];
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f' || ch === '\v') {
      i++;
      continue;
    }
    // Comments: `-- ...`, `# ...` (MySQL) and `/* ... */`.
    if ((ch === '-' && sql[i + 1] === '-') || ch === '#') {
      while (i < n && sql[i] !== '\n') i++;
      continue;
    }
    if (ch === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      i = close < 0 ? n : close + 2; // SQLite accepts an unterminated comment at the end
      continue;
    }
    const start = i;
    if ((ch === 'x' || ch === 'X') && sql[i + 1] === "'") {
      const close = sql.indexOf("'", i + 2);
      if (close < 0) throw syntaxError(sql, start, 'unterminated blob literal');
      const hex = sql.slice(i + 2, close);
      if (!/^[0-9A-Fa-f]*$/.test(hex) || hex.length % 2 !== 0) {
        throw syntaxError(sql, start, 'a blob literal needs an even number of hex digits');
      }
      i = close + 1;
      tokens.push({ kind: 'blob', value: hex, text: sql.slice(start, i), start, end: i });
      continue;
    }
    if (isIdentStart(ch)) {
      i = skip(IDENT_PARTS, sql, i);
      const text = sql.slice(start, i);
      tokens.push({ kind: 'word', value: text.toUpperCase(), text, start, end: i });
      continue;
    }
    if (ch === "'" || ch === '"' || ch === '`' || ch === '[') {
      const close = ch === '[' ? ']' : ch;
      // Whole runs up to the next closing character, so a multi-megabyte literal costs a few
      // slices; a doubled closing character (not for `]`) stands for one.
      const parts: string[] = [];
      let from = i + 1;
      for (;;) {
        const at = sql.indexOf(close, from);
        if (at < 0) {
          const what = ch === "'" || ch === '"' ? 'string' : 'quoted identifier';
          throw syntaxError(sql, start, `unterminated ${what}`);
        }
        if (close !== ']' && sql[at + 1] === close) {
          parts.push(sql.slice(from, at + 1));
          from = at + 2;
          continue;
        }
        parts.push(sql.slice(from, at));
        i = at + 1;
        break;
      }
      const value = parts.length === 1 ? parts[0] : parts.join('');
      const kind = ch === "'" || ch === '"' ? 'string' : 'ident';
      tokens.push({ kind, value, text: sql.slice(start, i), start, end: i });
      continue;
    }
    if (isDigit(ch) || (ch === '.' && isDigit(sql[i + 1]))) {
      if (ch === '0' && (sql[i + 1] === 'x' || sql[i + 1] === 'X') && /[0-9A-Fa-f]/.test(sql[i + 2] ?? '')) {
        i = skip(HEX_DIGITS, sql, i + 2);
      } else {
        i = skip(DIGITS_OR_UNDERSCORES, sql, i);
        if (sql[i] === '.') i = skip(DIGITS, sql, i + 1);
        if ((sql[i] === 'e' || sql[i] === 'E') && isDigit(sql[i + 1] === '+' || sql[i + 1] === '-' ? sql[i + 2] : sql[i + 1])) {
          i = skip(DIGITS, sql, i + (sql[i + 1] === '+' || sql[i + 1] === '-' ? 2 : 1));
        }
      }
      if (i < n && isIdentPart(sql[i])) throw syntaxError(sql, start, `malformed number '${sql.slice(start, i + 1)}'`);
      const text = sql.slice(start, i);
      tokens.push({ kind: 'number', value: text, text, start, end: i });
      continue;
    }
    if (ch === '?') {
      i = skip(DIGITS, sql, i + 1);
      const text = sql.slice(start, i);
      tokens.push({ kind: 'param', value: text, text, start, end: i });
      continue;
    }
    if ((ch === ':' || ch === '@' || ch === '$') && isIdentStart(sql[i + 1] ?? '')) {
      i = skip(IDENT_PARTS, sql, i + 1);
      const text = sql.slice(start, i);
      tokens.push({ kind: 'param', value: text, text, start, end: i });
      continue;
    }
    const op = OPERATOR_STARTS.has(ch) ? OPERATORS.find((o) => sql.startsWith(o, i)) : undefined;
    if (op) {
      i += op.length;
      tokens.push({ kind: 'op', value: op, text: op, start, end: i });
      continue;
    }
    if (SINGLE.includes(ch)) {
      i++;
      tokens.push({ kind: 'op', value: ch, text: ch, start, end: i });
      continue;
    }
    if (ch === '!') throw syntaxError(sql, start, "unexpected '!'; write != or NOT");
    throw syntaxError(sql, start, `unexpected character '${ch}'`);
  }
  tokens.push({ kind: 'eof', value: '', text: '', start: n, end: n });
  return tokens;
}
