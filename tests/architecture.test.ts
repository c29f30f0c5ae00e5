/**
 * The import rules of src/ (DESIGN.md "Layout", issue 13), read from the source itself: every
 * `import ... from`, `import type`, `export ... from`, side-effect `import '...'`, dynamic
 * `import()` and worker entry `new URL('./x.ts', import.meta.url)` of every .ts file under src/
 * is resolved to a file, and the resulting graph must keep the directions between the top-level
 * modules (core imports no module of ours; util only core; index and embed only core and util;
 * sql neither api nor chat; chat not api), reach another module only through its door
 * `src/<m>/index.ts`, reach another sub-module of src/sql only through that folder's
 * `index.ts`, and hold no cycle between modules. The rules are one pure function,
 * {@link checkArchitecture}, tested first on small synthetic graphs (a clean one passes; one
 * violation of each kind is reported, and only it), so a passing run on the real tree means
 * what it says. A failure lists every offender as `file -> import`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------------------------------------
// The rules

/** For each top-level module `src/<m>/`, the other modules it may import. */
export const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  core: [],
  util: ['core'],
  index: ['core', 'util'],
  embed: ['core', 'util'],
  sql: ['core', 'util', 'index', 'embed'],
  chat: ['core', 'util', 'index', 'embed', 'sql'],
  cluster: ['core', 'util', 'sql'],
  api: ['core', 'util', 'index', 'embed', 'sql', 'chat', 'cluster'],
};

/** Files directly in src/sql that a sub-module of src/sql may import. */
const SQL_ROOT_SHARED = new Set(['src/sql/types.ts']);

export type ImportKind = 'import' | 'import type' | 'export from' | 'side effect' | 'dynamic import' | 'worker';

/** One import of one file; paths are repository-relative with forward slashes. */
export interface ImportEdge {
  from: string;
  specifier: string;
  kind: ImportKind;
  /** The file the specifier resolves to; null when a relative specifier names no file. */
  to: string | null;
}

export type Rule = 'module' | 'unresolved' | 'direction' | 'door' | 'sql-door' | 'cycle';

export interface Violation {
  rule: Rule;
  /** `file -> import` (for a cycle, one such pair per step of the cycle). */
  offender: string;
  why: string;
}

/** The top-level module of a repository path under src/ (`src/sql/plan/x.ts` -> `sql`); undefined outside one. */
export function moduleOf(file: string): string | undefined {
  const parts = file.split('/');
  return parts[0] === 'src' && parts.length > 2 ? parts[1] : undefined;
}

/** The sub-module of a file inside src/sql (`dialect`, `plan`, ...); undefined for the sql root and outside sql. */
function sqlSubmoduleOf(file: string): string | undefined {
  const parts = file.split('/');
  return parts[0] === 'src' && parts[1] === 'sql' && parts.length > 3 ? parts[2] : undefined;
}

function show(e: ImportEdge): string {
  return `${e.from} -> ${e.specifier}`;
}

/**
 * Every violation of the import rules in the graph of `files` and their `edges`, under the
 * module directions `mayImport`. Imports that do not stay under src/ (packages, node:) are
 * not our modules and are ignored; a relative import that names no file is reported, so a
 * typo cannot hide an import from the rules.
 */
export function checkArchitecture(
  files: readonly string[],
  edges: readonly ImportEdge[],
  mayImport: Readonly<Record<string, readonly string[]>> = MAY_IMPORT,
): Violation[] {
  const out: Violation[] = [];
  for (const file of files) {
    const m = moduleOf(file);
    if (m === undefined || !Object.hasOwn(mayImport, m)) {
      out.push({
        rule: 'module',
        offender: file,
        why: `is not in a module the import rules know (${Object.keys(mayImport).join(', ')}): add the module to MAY_IMPORT with the directions it may take`,
      });
    }
  }
  /** Module -> module -> the imports that make that dependency, for the cycle check. */
  const moduleEdges = new Map<string, Map<string, ImportEdge[]>>();
  for (const e of edges) {
    if (e.to === null) {
      out.push({ rule: 'unresolved', offender: show(e), why: 'names no file' });
      continue;
    }
    const from = moduleOf(e.from);
    const to = moduleOf(e.to);
    if (from === undefined || to === undefined) continue;
    if (from !== to) {
      const allowed = mayImport[from];
      if (allowed !== undefined && !allowed.includes(to)) {
        out.push({
          rule: 'direction',
          offender: show(e),
          why: `${from} may not import ${to} (${from} imports ${allowed.length ? allowed.join(', ') : 'no module of ours'})`,
        });
      }
      if (e.to !== `src/${to}/index.ts`) {
        out.push({ rule: 'door', offender: show(e), why: `reaches into ${to} past its door src/${to}/index.ts (got ${e.to})` });
      }
      const targets = moduleEdges.get(from) ?? new Map<string, ImportEdge[]>();
      moduleEdges.set(from, targets);
      targets.set(to, [...(targets.get(to) ?? []), e]);
    } else if (from === 'sql') {
      const a = sqlSubmoduleOf(e.from);
      const b = sqlSubmoduleOf(e.to);
      if (a !== undefined && b !== undefined && a !== b && e.to !== `src/sql/${b}/index.ts`) {
        out.push({ rule: 'sql-door', offender: show(e), why: `reaches into src/sql/${b}/ past its door src/sql/${b}/index.ts (got ${e.to})` });
      }
      if (a !== undefined && b === undefined && !SQL_ROOT_SHARED.has(e.to)) {
        out.push({
          rule: 'sql-door',
          offender: show(e),
          why: `a sub-module of src/sql may import from the sql root only ${[...SQL_ROOT_SHARED].join(', ')} (got ${e.to}; src/sql/index.ts is the door for callers outside sql)`,
        });
      }
    }
  }
  for (const cycle of moduleCycles(moduleEdges)) {
    const steps = cycle.map((m, i) => {
      const next = cycle[(i + 1) % cycle.length];
      return moduleEdges.get(m)!.get(next)!;
    });
    out.push({
      rule: 'cycle',
      offender: steps.map((imports) => show(imports[0]) + (imports.length > 1 ? ` (and ${imports.length - 1} more)` : '')).join('; '),
      why: `modules import each other in a cycle: ${[...cycle, cycle[0]].join(' -> ')}`,
    });
  }
  return out;
}

/** One cycle (as a list of modules, smallest first) per strongly connected group of modules (Tarjan). */
function moduleCycles(graph: ReadonlyMap<string, ReadonlyMap<string, unknown>>): string[][] {
  const nodes = [...new Set([...graph.keys(), ...[...graph.values()].flatMap((t) => [...t.keys()])])].sort();
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of [...(graph.get(v)?.keys() ?? [])].sort()) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) groups.push(group.sort());
    }
  };
  for (const v of nodes) if (!index.has(v)) visit(v);
  // In each group, the shortest way from its first module back to it (breadth first).
  return groups.map((group) => {
    const start = group[0];
    const previous = new Map<string, string>();
    const queue = [start];
    while (queue.length && !previous.has(start)) {
      const v = queue.shift()!;
      for (const w of [...(graph.get(v)?.keys() ?? [])].sort()) {
        if (!group.includes(w) || previous.has(w)) continue;
        previous.set(w, v);
        if (w === start) break;
        queue.push(w);
      }
    }
    const cycle: string[] = [];
    for (let v = previous.get(start)!; v !== start; v = previous.get(v)!) cycle.unshift(v);
    return [start, ...cycle];
  });
}

// ---------------------------------------------------------------------------------------------
// Reading the imports

/**
 * `source` with comments blanked and the insides of string, template and regex literals
 * replaced by `_`, every character at its place: patterns run on it can find a quote-delimited
 * specifier without being fooled by `import` in a comment or a string, and the specifier is
 * read back from `source` at the same offsets.
 */
export function maskSource(source: string): string {
  const out = source.split('');
  const blank = (from: number, to: number, fill: string): void => {
    for (let i = from; i < to; i++) if (out[i] !== '\n') out[i] = fill;
  };
  /** For each template literal we are inside a `${` of: the brace depth at which it closes. */
  const templates: number[] = [];
  let depth = 0;
  let i = 0;
  /** The last significant code character, and the word it ends (to tell a regex from a division). */
  let lastChar = '';
  let lastWord = '';
  /** Whether white space came after lastChar. */
  let gap = false;
  const scanTemplate = (start: number): void => {
    // From just after ` (or after the } closing a substitution) to the closing ` or a `${`.
    let j = start;
    while (j < source.length) {
      if (source[j] === '\\') j += 2;
      else if (source[j] === '`') {
        blank(start, j, '_');
        i = j + 1;
        lastChar = '`';
        return;
      } else if (source[j] === '$' && source[j + 1] === '{') {
        blank(start, j, '_');
        templates.push(depth);
        depth++;
        i = j + 2;
        lastChar = '{';
        return;
      } else j++;
    }
    blank(start, source.length, '_');
    i = source.length;
  };
  while (i < source.length) {
    const c = source[i];
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      const end = source.indexOf('\n', i);
      const stop = end === -1 ? source.length : end;
      blank(i, stop, ' ');
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end === -1 ? source.length : end + 2;
      blank(i, stop, ' ');
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < source.length && source[j] !== c && source[j] !== '\n') j += source[j] === '\\' ? 2 : 1;
      blank(i + 1, j, '_');
      i = j + 1;
      lastChar = c;
    } else if (c === '`') {
      scanTemplate(i + 1);
    } else if (c === '/' && (lastChar === '' || '(,=:[!&|?{};+-*%<>~^'.includes(lastChar) || REGEX_AFTER_WORDS.has(lastWord))) {
      let j = i + 1;
      let inClass = false;
      while (j < source.length && source[j] !== '\n' && (inClass || source[j] !== '/')) {
        if (source[j] === '\\') j++;
        else if (source[j] === '[') inClass = true;
        else if (source[j] === ']') inClass = false;
        j++;
      }
      blank(i + 1, j, '_');
      i = j + 1;
      lastChar = '/';
      lastWord = '';
    } else {
      if (c === '{') depth++;
      else if (c === '}') {
        depth--;
        if (templates.length && templates[templates.length - 1] === depth) {
          templates.pop();
          scanTemplate(i + 1);
          continue;
        }
      }
      if (/\s/.test(c)) gap = true;
      else {
        if (/[\w$]/.test(c)) lastWord = !gap && /[\w$]/.test(lastChar) ? lastWord + c : c;
        else lastWord = '';
        lastChar = c;
        gap = false;
      }
      i++;
    }
  }
  return out.join('');
}

/** Words after which a `/` starts a regex literal rather than a division. */
const REGEX_AFTER_WORDS = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'yield', 'await']);

/** A quoted string in masked source (its inside is all `_`), the inside captured as `spec`. */
const QUOTED = String.raw`(?<q>['"\`])(?<spec>[^'"\`]*)\k<q>`;
const IMPORT_PATTERNS: readonly [RegExp, (m: RegExpMatchArray) => ImportKind][] = [
  // import x from '...', import type { X } from '...', export * from '...', export { a } from '...'
  [
    new RegExp(String.raw`(?<![\w$.])(?<keyword>import|export)(?<clause>[\w$\s{},*]*?)\bfrom\s*` + QUOTED, 'dg'),
    (m) => (m.groups!.keyword === 'export' ? 'export from' : /^\s*type[\s{*]/.test(m.groups!.clause) ? 'import type' : 'import'),
  ],
  [new RegExp(String.raw`(?<![\w$.])import\s*` + QUOTED, 'dg'), () => 'side effect'],
  [new RegExp(String.raw`(?<![\w$.])import\s*\(\s*` + QUOTED + String.raw`\s*[,)]`, 'dg'), () => 'dynamic import'],
  [new RegExp(String.raw`(?<![\w$.])new\s+URL\s*\(\s*` + QUOTED + String.raw`\s*,\s*import\.meta\.url\s*\)`, 'dg'), () => 'worker'],
];

/** The module specifiers `source` imports, in order of appearance. */
export function importsOf(source: string): { specifier: string; kind: ImportKind }[] {
  const masked = maskSource(source);
  const found: { at: number; specifier: string; kind: ImportKind }[] = [];
  for (const [pattern, kindOf] of IMPORT_PATTERNS) {
    for (const m of masked.matchAll(pattern)) {
      const [start, end] = m.indices!.groups!.spec;
      const specifier = source.slice(start, end);
      const kind = kindOf(m);
      // A worker entry is an import only when it names a module (new URL also names data files).
      if (kind === 'worker' && !/\.[mc]?[tj]s$/.test(specifier)) continue;
      found.push({ at: m.index!, specifier, kind });
    }
  }
  return found.sort((a, b) => a.at - b.at).map(({ specifier, kind }) => ({ specifier, kind }));
}

/**
 * The repository path a relative `specifier` of `from` names (`exists` says whether a path is
 * a file), trying it as written, `.js` written for `.ts`, with `.ts` added and as a folder's
 * index.ts; null if none exists. Undefined for a specifier that is not relative (a package).
 */
export function resolveSpecifier(from: string, specifier: string, exists: (file: string) => boolean): string | null | undefined {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return undefined;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  const tries = [base, base.replace(/\.js$/, '.ts'), `${base}.ts`, `${base}/index.ts`];
  return tries.find(exists) ?? null;
}

/** Every .ts file under src/ and its imports, read from disk. */
function readSourceGraph(): { files: string[]; edges: ImportEdge[] } {
  const files = fs
    .readdirSync(path.join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
    .map((f) => `src/${f.split(path.sep).join('/')}`)
    .filter((f) => f.endsWith('.ts'))
    .sort();
  const exists = (file: string): boolean => fs.statSync(path.join(ROOT, file), { throwIfNoEntry: false })?.isFile() ?? false;
  const edges: ImportEdge[] = [];
  for (const from of files) {
    for (const { specifier, kind } of importsOf(fs.readFileSync(path.join(ROOT, from), 'utf8'))) {
      const to = resolveSpecifier(from, specifier, exists);
      if (to !== undefined) edges.push({ from, specifier, kind, to });
    }
  }
  return { files, edges };
}

function report(violations: readonly Violation[]): string {
  return violations.map((v) => `  ${v.offender}\n      ${v.why}`).join('\n');
}

// ---------------------------------------------------------------------------------------------
// The rules on synthetic graphs

/** A graph of files and `from -> to` imports; specifiers are written as the file would. */
function graph(files: string[], imports: [string, string, ImportKind?][]): { files: string[]; edges: ImportEdge[] } {
  return {
    files,
    edges: imports.map(([from, to, kind]) => ({
      from,
      to,
      kind: kind ?? 'import',
      specifier: path.posix.relative(path.posix.dirname(from), to).replace(/^(?!\.)/, './'),
    })),
  };
}

/** A small tree that keeps every rule, each kind of import at least once. */
const CLEAN_FILES = [
  'src/core/index.ts', 'src/core/errors.ts', 'src/util/index.ts', 'src/util/ts-worker.ts',
  'src/index/index.ts', 'src/index/hnsw/graph.ts', 'src/index/lifecycle/builder.ts', 'src/index/lifecycle/build-worker.ts',
  'src/embed/index.ts', 'src/sql/index.ts', 'src/sql/types.ts',
  'src/sql/dialect/index.ts', 'src/sql/dialect/parser.ts', 'src/sql/plan/index.ts', 'src/sql/plan/planner.ts',
  'src/sql/exec/engine.ts', 'src/chat/index.ts', 'src/chat/retrieval.ts', 'src/api/index.ts', 'src/api/server.ts',
];
const CLEAN_IMPORTS: [string, string, ImportKind?][] = [
  ['src/core/index.ts', 'src/core/errors.ts', 'export from'],
  ['src/util/ts-worker.ts', 'src/core/index.ts'],
  ['src/index/hnsw/graph.ts', 'src/core/index.ts', 'import type'],
  ['src/index/lifecycle/builder.ts', 'src/util/index.ts'],
  ['src/index/lifecycle/builder.ts', 'src/index/lifecycle/build-worker.ts', 'worker'],
  ['src/embed/index.ts', 'src/util/index.ts'],
  ['src/sql/index.ts', 'src/sql/exec/engine.ts', 'export from'],
  ['src/sql/exec/engine.ts', 'src/sql/plan/index.ts'],
  ['src/sql/exec/engine.ts', 'src/sql/types.ts', 'import type'],
  ['src/sql/exec/engine.ts', 'src/index/index.ts'],
  ['src/sql/plan/planner.ts', 'src/sql/dialect/index.ts', 'import type'],
  ['src/sql/plan/index.ts', 'src/sql/plan/planner.ts', 'export from'],
  ['src/sql/dialect/index.ts', 'src/sql/dialect/parser.ts', 'export from'],
  ['src/sql/dialect/parser.ts', 'src/core/index.ts'],
  ['src/chat/retrieval.ts', 'src/sql/index.ts'],
  ['src/chat/retrieval.ts', 'src/embed/index.ts', 'dynamic import'],
  ['src/api/server.ts', 'src/chat/index.ts'],
  ['src/api/server.ts', 'src/sql/index.ts'],
];

describe('the rules, on synthetic import graphs', () => {
  it('a graph that keeps every rule passes', () => {
    const { files, edges } = graph(CLEAN_FILES, CLEAN_IMPORTS);
    expect(checkArchitecture(files, edges)).toEqual([]);
  });

  // Each case adds one import to the clean graph and must be reported under `rules[0]`; an
  // import against the direction closes a cycle when the clean graph already goes the other
  // way, and then the cycle is reported too.
  const cases: [string, [string, string | null, ImportKind?], Rule[], RegExp][] = [
    ['core imports util', ['src/core/errors.ts', 'src/util/index.ts'], ['direction', 'cycle'], /core may not import util/],
    ['util imports index', ['src/util/ts-worker.ts', 'src/index/index.ts'], ['direction', 'cycle'], /util may not import index/],
    ['index imports embed', ['src/index/hnsw/graph.ts', 'src/embed/index.ts', 'import type'], ['direction'], /index may not import embed/],
    ['index imports sql', ['src/index/hnsw/graph.ts', 'src/sql/index.ts', 'import type'], ['direction', 'cycle'], /index may not import sql/],
    ['embed imports sql', ['src/embed/index.ts', 'src/sql/index.ts', 'dynamic import'], ['direction'], /embed may not import sql/],
    ['sql imports chat', ['src/sql/exec/engine.ts', 'src/chat/index.ts', 'import type'], ['direction', 'cycle'], /sql may not import chat/],
    ['sql imports api', ['src/sql/exec/engine.ts', 'src/api/index.ts'], ['direction', 'cycle'], /sql may not import api/],
    ['chat imports api', ['src/chat/retrieval.ts', 'src/api/index.ts'], ['direction', 'cycle'], /chat may not import api/],
    ['chat reaches into sql past its door', ['src/chat/retrieval.ts', 'src/sql/dialect/parser.ts'], ['door'], /past its door src\/sql\/index\.ts/],
    ['index re-exports from inside core', ['src/index/index.ts', 'src/core/errors.ts', 'export from'], ['door'], /past its door src\/core\/index\.ts/],
    ['a worker entry in another module', ['src/sql/exec/engine.ts', 'src/index/lifecycle/build-worker.ts', 'worker'], ['door'], /past its door src\/index\/index\.ts/],
    ['plan reaches into dialect past its door', ['src/sql/plan/planner.ts', 'src/sql/dialect/parser.ts'], ['sql-door'], /past its door src\/sql\/dialect\/index\.ts/],
    ['a sub-module imports the sql door', ['src/sql/plan/planner.ts', 'src/sql/index.ts'], ['sql-door'], /from the sql root only src\/sql\/types\.ts/],
    ['an import of a missing file', ['src/sql/plan/planner.ts', null], ['unresolved'], /names no file/],
  ];
  for (const [name, [from, to, kind], rules, why] of cases) {
    it(`reports ${rules.join(' and ')}: ${name}`, () => {
      const { files, edges } = graph(CLEAN_FILES, CLEAN_IMPORTS);
      const specifier = to === null ? './missing.ts' : path.posix.relative(path.posix.dirname(from), to);
      const violations = checkArchitecture(files, [...edges, { from, to, kind: kind ?? 'import', specifier }]);
      expect(violations.map((v) => v.rule)).toEqual(rules);
      expect(violations[0].offender).toBe(`${from} -> ${specifier}`);
      expect(violations[0].why).toMatch(why);
      if (rules.includes('cycle')) expect(violations[1].offender).toContain(`${from} -> ${specifier}`);
    });
  }

  it('reports a file outside any module the rules know', () => {
    const { files, edges } = graph([...CLEAN_FILES, 'src/shard/index.ts', 'src/main.ts'], CLEAN_IMPORTS);
    const violations = checkArchitecture(files, edges);
    expect(violations.map((v) => [v.rule, v.offender])).toEqual([
      ['module', 'src/shard/index.ts'],
      ['module', 'src/main.ts'],
    ]);
  });

  it('reports a cycle between modules once, with an import for each step', () => {
    // Under rules that allow both directions, only the cycle is wrong.
    const rules = { ...MAY_IMPORT, chat: [...MAY_IMPORT.chat, 'api'] };
    const { files, edges } = graph(CLEAN_FILES, [...CLEAN_IMPORTS, ['src/chat/retrieval.ts', 'src/api/index.ts']]);
    const violations = checkArchitecture(files, edges, rules);
    expect(violations).toEqual([
      {
        rule: 'cycle',
        offender: 'src/api/server.ts -> ../chat/index.ts; src/chat/retrieval.ts -> ../api/index.ts',
        why: 'modules import each other in a cycle: api -> chat -> api',
      },
    ]);
    // Under the real rules the same import is also a forbidden direction.
    expect(checkArchitecture(files, edges).map((v) => v.rule).sort()).toEqual(['cycle', 'direction']);
  });

  it('finds a cycle through three modules', () => {
    const rules = { a: ['b'], b: ['c'], c: ['a'] };
    const { files, edges } = graph(
      ['src/a/index.ts', 'src/b/index.ts', 'src/c/index.ts'],
      [
        ['src/a/index.ts', 'src/b/index.ts'],
        ['src/b/index.ts', 'src/c/index.ts'],
        ['src/c/index.ts', 'src/a/index.ts'],
      ],
    );
    expect(checkArchitecture(files, edges, rules).map((v) => v.why)).toEqual(['modules import each other in a cycle: a -> b -> c -> a']);
  });
});

describe('reading imports from source', () => {
  it('finds every kind of import, and none in comments, strings or regex literals', () => {
    const source = [
      '/** @example import { x } from "./in-a-doc-comment.ts"; */',
      "import fs from 'node:fs';",
      "import Database from 'better-sqlite3';",
      "import type * as A from '../sql/dialect/ast.ts';",
      'import {',
      '  a,',
      '  type B as C,',
      "} from './multi-line.ts';",
      "import './side-effect.ts';",
      "export * from './star.ts';",
      "export { d as e } from './named.ts';",
      "export type { F } from './types.ts';",
      "const q = s.replace(/\"/g, '\"\"'); // a quote in a regex must not open a string",
      "const r = a / b / c; const t = `import x from './in-a-template.ts'`;",
      "const u = `${await import('./in-a-substitution.ts')}`; // a substitution is code again",
      "// import y from './in-a-line-comment.ts';",
      "const s = \"import z from './in-a-string.ts'\";",
      "const lazy = await import('./dynamic.ts');",
      "const worker = startTsWorker(new URL('./worker.ts', import.meta.url));",
      "const data = new URL('../../openapi.yaml', import.meta.url);",
      'export const from = 1;',
      "export function g() { return import.meta.resolve('tsx'); }",
    ].join('\n');
    expect(importsOf(source)).toEqual([
      { specifier: 'node:fs', kind: 'import' },
      { specifier: 'better-sqlite3', kind: 'import' },
      { specifier: '../sql/dialect/ast.ts', kind: 'import type' },
      { specifier: './multi-line.ts', kind: 'import' },
      { specifier: './side-effect.ts', kind: 'side effect' },
      { specifier: './star.ts', kind: 'export from' },
      { specifier: './named.ts', kind: 'export from' },
      { specifier: './types.ts', kind: 'export from' },
      { specifier: './in-a-substitution.ts', kind: 'dynamic import' },
      { specifier: './dynamic.ts', kind: 'dynamic import' },
      { specifier: './worker.ts', kind: 'worker' },
    ]);
  });

  it('resolves relative specifiers to files', () => {
    const present = new Set(['src/sql/plan/planner.ts', 'src/index/index.ts', 'src/core/index.ts', 'src/embed/cache.ts']);
    const exists = (f: string): boolean => present.has(f);
    expect(resolveSpecifier('src/sql/exec/engine.ts', '../plan/planner.ts', exists)).toBe('src/sql/plan/planner.ts');
    expect(resolveSpecifier('src/sql/exec/engine.ts', '../../index/index.ts', exists)).toBe('src/index/index.ts');
    expect(resolveSpecifier('src/sql/exec/engine.ts', '../../core', exists)).toBe('src/core/index.ts');
    expect(resolveSpecifier('src/embed/index.ts', './cache.js', exists)).toBe('src/embed/cache.ts');
    expect(resolveSpecifier('src/embed/index.ts', './gone.ts', exists)).toBeNull();
    expect(resolveSpecifier('src/embed/index.ts', 'openai', exists)).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// The rules on src/

describe('the import rules hold on src/', () => {
  const { files, edges } = readSourceGraph();
  const violations = checkArchitecture(files, edges);
  const of = (...rules: Rule[]): Violation[] => violations.filter((v) => rules.includes(v.rule));
  const expectNone = (found: Violation[], what: string): void => {
    if (found.length) throw new Error(`${found.length} ${what}:\n${report(found)}`);
  };

  it('reads the imports of every file under src/', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(edges.filter((e) => e.kind === 'worker').length).toBeGreaterThan(0);
    expectNone(of('module', 'unresolved'), 'file(s) outside a known module or import(s) of missing files');
  });

  it('modules import only in the allowed directions', () => {
    expectNone(of('direction'), 'import(s) in a forbidden direction');
  });

  it('an import into another module goes through its door, src/<module>/index.ts', () => {
    expectNone(of('door'), 'import(s) past a module door');
  });

  it('inside src/sql, an import into another sub-module goes through its index.ts', () => {
    expectNone(of('sql-door'), 'import(s) past a src/sql sub-module door');
  });

  it('no two modules import each other, directly or through others', () => {
    expectNone(of('cycle'), 'cycle(s) between modules');
  });
});
