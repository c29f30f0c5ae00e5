/**
 * @module lexer
 * Turns SQL text into tokens with their source positions. The dialect is SQLite's plus MySQL's
 * lexical habits: backtick identifiers, double-quoted strings, `#` comments. Keywords are not
 * a token kind: SQLite lets most keywords be names, so the parser decides from context.
 */
import { QuiverError, type SourcePosition } from '../../core/index.ts';

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

// Characters are classed by code through a table, without a string or a regular expression per
// character: a request may hold megabytes of SQL, and lexing runs on the engine's thread.
// Every character from U+0080 up may start or continue a name, as in SQLite.
const IDENT_START = 1;
const IDENT_PART = 2;
const DIGIT = 4;
const HEX_DIGIT = 8;
const DIGIT_OR_UNDERSCORE = 16;
const CLASSES = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z_]/.test(ch)) CLASSES[c] |= IDENT_START;
  if (/[A-Za-z0-9_$]/.test(ch)) CLASSES[c] |= IDENT_PART;
  if (/[0-9]/.test(ch)) CLASSES[c] |= DIGIT | DIGIT_OR_UNDERSCORE;
  if (/[0-9A-Fa-f]/.test(ch)) CLASSES[c] |= HEX_DIGIT;
  if (ch === '_') CLASSES[c] |= DIGIT_OR_UNDERSCORE;
}

/** Whether the character at `i` (NaN past the end) is of `cls`. */
function isAt(sql: string, i: number, cls: number): boolean {
  const c = sql.charCodeAt(i);
  return c < 128 ? (CLASSES[c] & cls) !== 0 : c >= 128 && (cls & (IDENT_START | IDENT_PART)) !== 0;
}

/** The end of the run of characters of `cls` that starts at `from`. */
function skip(cls: number, sql: string, from: number): number {
  let i = from;
  while (isAt(sql, i, cls)) i++;
  return i;
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
 * LIMIT_EXCEEDED past `maxTokens`: lexing and parsing run on the engine's thread, which
 * megabytes of tiny tokens would hold up for every other request.
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
    if (isAt(sql, i, IDENT_START)) {
      i = skip(IDENT_PART, sql, i);
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
    if (isAt(sql, i, DIGIT) || (ch === '.' && isAt(sql, i + 1, DIGIT))) {
      if (ch === '0' && (sql[i + 1] === 'x' || sql[i + 1] === 'X') && isAt(sql, i + 2, HEX_DIGIT)) {
        i = skip(HEX_DIGIT, sql, i + 2);
      } else {
        i = skip(DIGIT_OR_UNDERSCORE, sql, i);
        if (sql[i] === '.') i = skip(DIGIT, sql, i + 1);
        if ((sql[i] === 'e' || sql[i] === 'E') && isAt(sql, sql[i + 1] === '+' || sql[i + 1] === '-' ? i + 2 : i + 1, DIGIT)) {
          i = skip(DIGIT, sql, i + (sql[i + 1] === '+' || sql[i + 1] === '-' ? 2 : 1));
        }
      }
      if (isAt(sql, i, IDENT_PART)) throw syntaxError(sql, start, `malformed number '${sql.slice(start, i + 1)}'`);
      const text = sql.slice(start, i);
      tokens.push({ kind: 'number', value: text, text, start, end: i });
      continue;
    }
    if (ch === '?') {
      i = skip(DIGIT, sql, i + 1);
      const text = sql.slice(start, i);
      tokens.push({ kind: 'param', value: text, text, start, end: i });
      continue;
    }
    if ((ch === ':' || ch === '@' || ch === '$') && isAt(sql, i + 1, IDENT_START)) {
      i = skip(IDENT_PART, sql, i + 1);
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
