/**
 * @module tests/sql/fuzz-corpus
 * What the fuzz suites mutate and how: a corpus of real statements (the SLT scripts, the seeds,
 * and extras each suite adds), a tokenizer coarse enough to cut any text, and mutations over its
 * tokens. Shared by the parser's suite (fuzz-parser.test.ts) and the HTTP one (tests/api/fuzz.test.ts).
 */
import fs from 'node:fs';
import fc from 'fast-check';
import { parseScript } from '../../../src/sql/dialect/index.ts';
import { parseScript as parseSlt } from '../../slt/format.ts';

/** Every statement of the SLT scripts and the seeds, then `extra`, without repeats. */
export function loadCorpus(extra: readonly string[] = []): string[] {
  const statements = new Set<string>();
  const sltDir = new URL('../../slt/', import.meta.url);
  for (const file of fs.readdirSync(sltDir).filter((f) => f.endsWith('.slt')).sort()) {
    for (const record of parseSlt(fs.readFileSync(new URL(file, sltDir), 'utf8'))) {
      if ('sql' in record && record.sql.trim() !== '') statements.add(record.sql);
    }
  }
  const seedDir = new URL('../../fixtures/seeds/', import.meta.url);
  for (const file of fs.readdirSync(seedDir).filter((f) => f.endsWith('.sql')).sort()) {
    const text = fs.readFileSync(new URL(file, seedDir), 'utf8');
    try {
      for (const s of parseScript(text)) statements.add(text.slice(s.start, s.end));
    } catch {
      for (const s of text.split(';')) if (s.trim() !== '') statements.add(s);
    }
  }
  for (const s of extra) statements.add(s);
  return [...statements];
}

/** Splits SQL into tokens for mutation: words, numbers, quoted runs, single characters. */
export function tokens(sql: string): string[] {
  return sql.match(/[A-Za-z_][A-Za-z0-9_$]*|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|'(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|\S/g) ?? [];
}

/**
 * One change to a token list; `at` is taken modulo its length. `literal` and `name` replace a
 * literal or a name (the `at`-th of them), so the statement keeps its shape but meets new values.
 */
export type Mutation =
  | { op: 'delete' | 'duplicate' | 'truncate'; at: number }
  | { op: 'swap'; at: number; with: number }
  | { op: 'insert' | 'replace' | 'literal' | 'name'; at: number; token: string };

/** Mutations that cut and splice tokens, inserting or replacing with `token`s. */
export function structuralMutation(token: fc.Arbitrary<string>): fc.Arbitrary<Mutation> {
  return fc.oneof(
    fc.record({ op: fc.constantFrom('delete' as const, 'duplicate' as const, 'truncate' as const), at: fc.nat() }),
    fc.record({ op: fc.constant('swap' as const), at: fc.nat(), with: fc.nat() }),
    fc.record({ op: fc.constantFrom('insert' as const, 'replace' as const), at: fc.nat(), token }),
  );
}

const isLiteral = (t: string): boolean => /^([0-9'"]|\.[0-9]|[xX]')/.test(t);
const isName = (t: string): boolean => /^[A-Za-z_`]/.test(t) && !/^[xX]'/.test(t);

/** `sql` with `mutations` applied in order to its tokens, joined by spaces. */
export function mutate(sql: string, mutations: readonly Mutation[]): string {
  const ts = tokens(sql);
  for (const m of mutations) {
    const at = ts.length === 0 ? 0 : m.at % ts.length;
    switch (m.op) {
      case 'literal':
      case 'name': {
        const places = ts.flatMap((t, i) => ((m.op === 'literal' ? isLiteral(t) : isName(t)) ? [i] : []));
        if (places.length) ts[places[m.at % places.length]] = m.token;
        break;
      }
      case 'delete':
        ts.splice(at, 1);
        break;
      case 'duplicate':
        if (ts.length) ts.splice(at, 0, ts[at]);
        break;
      case 'truncate':
        ts.length = at;
        break;
      case 'swap': {
        const other = ts.length === 0 ? 0 : m.with % ts.length;
        [ts[at], ts[other]] = [ts[other], ts[at]];
        break;
      }
      case 'insert':
        ts.splice(at, 0, m.token);
        break;
      case 'replace':
        ts[at] = m.token;
        break;
    }
  }
  return ts.filter((t) => t !== undefined).join(' ');
}
