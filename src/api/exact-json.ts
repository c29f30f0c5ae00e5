/**
 * @module exact-json
 * JSON.parse that keeps integers exact. JSON.parse makes every number a double, so an integer
 * beyond 2^53 (a 64-bit id) is rounded before any code can look at it; `parseExactJson` gives
 * such an integer literal as the bigint it spells, and everything else as JSON.parse does: a
 * number written with a fraction or an exponent stays a double, as every JSON reader takes it.
 *
 * Node 20's JSON.parse shows a reviver no source text (that needs V8's
 * --harmony-json-parse-with-source), and a library parser would read every body in JavaScript
 * rather than with V8's own parser. So V8 parses and validates every body, and only a body with
 * a run of 16 or more digits (an integer of 15 digits or fewer is below 2^53) is read a second
 * time, by the small reader below, which may assume its text is valid JSON.
 */

/**
 * 16 digits that may start an integer literal: a fraction's digits follow a '.' or a digit.
 * (A consumed character rather than a lookbehind: V8 scans this several times faster.)
 */
const MAYBE_UNSAFE_INTEGER = /(?:^|[^\d.])\d{16}/;

const NUMBER = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;

/** Parses JSON text as JSON.parse does (and throws its SyntaxError), except that integers past ±(2^53 - 1) are bigints. */
export function parseExactJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  return MAYBE_UNSAFE_INTEGER.test(text) ? readValidJson(text) : value;
}

interface Frame {
  container: unknown[] | Record<string, unknown>;
  /** In an object: the key read, whose value comes next. */
  key: string | undefined;
}

/**
 * Reads text that JSON.parse has accepted. Iterative, with its own stack, so nesting as deep
 * as JSON.parse takes cannot overflow the JS stack.
 */
function readValidJson(text: string): unknown {
  const stack: Frame[] = [];
  let root: unknown;
  const put = (value: unknown): void => {
    const top = stack[stack.length - 1];
    if (top === undefined) root = value;
    else if (Array.isArray(top.container)) top.container.push(value);
    else {
      // As JSON.parse does, `__proto__` becomes an own property rather than the prototype.
      Object.defineProperty(top.container, top.key!, { value, writable: true, enumerable: true, configurable: true });
      top.key = undefined;
    }
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '{' || c === '[') {
      const container = c === '{' ? {} : [];
      put(container);
      stack.push({ container, key: undefined });
      i++;
    } else if (c === '}' || c === ']') {
      stack.pop();
      i++;
    } else if (c === '"') {
      const end = closingQuote(text, i);
      const raw = text.slice(i, end + 1);
      const s = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
      const top = stack[stack.length - 1];
      if (top !== undefined && !Array.isArray(top.container) && top.key === undefined) top.key = s;
      else put(s);
      i = end + 1;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text)!;
      const n = Number(m[0]);
      put(m[1] === undefined && m[2] === undefined && !Number.isSafeInteger(n) ? BigInt(m[0]) : n);
      i = NUMBER.lastIndex;
    } else if (c === 't') {
      put(true);
      i += 4;
    } else if (c === 'f') {
      put(false);
      i += 5;
    } else if (c === 'n') {
      put(null);
      i += 4;
    } else i++; // whitespace, ',' and ':'
  }
  return root;
}

/** Index of the quote that closes the string opening at `open`: the first one not escaped by an odd run of backslashes. */
function closingQuote(text: string, open: number): number {
  let at = open;
  for (;;) {
    at = text.indexOf('"', at + 1);
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}
