/**
 * @module scripts/conformance
 * `npm run conformance [-- [--dir DIR] [--write-benchmarks] [--benchmarks FILE] [--failures N] [files...]]`
 *
 * Runs SQLite's published sqllogictest scripts through Quiver's engine, each file on a fresh
 * Engine in a fresh temp dir, and prints passed/failed/skipped per file, why records were
 * skipped, and the first failures of each file. A record that SQLite alone fails too is counted
 * as skipped with that reason. Exits 1 if any other record failed. Scripts come
 * from --dir, else QUIVER_CONFORMANCE_DIR, else ../shared/conformance/sqllogictest beside the
 * repo; with no files named it runs select1-5, in1, in2 and every slt_lang_*.test there.
 * --write-benchmarks puts the figures in BENCHMARKS.md (or --benchmarks FILE) between the
 * `<!-- conformance:start -->` and `<!-- conformance:end -->` markers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { writeSection } from '../bench/lib/benchmarks-file.ts';
import { parseScript } from '../tests/slt/format.ts';
import { describeFailures, runScript, skipReasons, type RecordOutcome } from '../tests/slt/runner.ts';
import { openSqliteReference } from '../tests/slt/sqlite-reference.ts';
import { runSltFile, type FileRun } from '../tests/slt/run-file.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_DIR = path.resolve(REPO_ROOT, '..', 'shared', 'conformance', 'sqllogictest');
const DEFAULT_FILES = /^(select[1-5]|in[12]|slt_lang_.*)\.test$/;
const DEFAULT_FAILURES_SHOWN = 5;

interface FileFigures {
  name: string;
  run: FileRun;
}

async function main(): Promise<number> {
  const { values: flags, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      'write-benchmarks': { type: 'boolean', default: false },
      benchmarks: { type: 'string', default: path.join(REPO_ROOT, 'BENCHMARKS.md') },
      failures: { type: 'string', default: String(DEFAULT_FAILURES_SHOWN) },
    },
  });
  const dir = path.resolve(flags.dir ?? process.env.QUIVER_CONFORMANCE_DIR ?? DEFAULT_DIR);
  const failuresShown = Number(flags.failures);
  if (!Number.isInteger(failuresShown) || failuresShown < 0) throw new Error(`--failures wants a count, got '${flags.failures}'`);
  const files = positionals.length > 0 ? positionals.map((f) => resolveScript(dir, f)) : defaultScripts(dir);
  if (files.length === 0) throw new Error(`no sqllogictest scripts found in ${dir}`);

  const nameWidth = Math.max(5, ...files.map((f) => path.basename(f).length));
  const figures: FileFigures[] = [];
  const allSkips = new Map<string, number>();
  for (const file of files) {
    const name = path.basename(file);
    const run = await excusingSqliteFailures(file, await runSltFile(file));
    figures.push({ name, run });
    console.log(figureLine(name, nameWidth, run.passed, run.failed, run.skipped, run.seconds));
    const reasons = skipReasons(run);
    if (reasons.size > 0) console.log(`    skipped: ${describeReasons(reasons)}`);
    for (const [reason, n] of reasons) allSkips.set(reason, (allSkips.get(reason) ?? 0) + n);
    if (run.haltedAt !== null) console.log(`    halted at line ${run.haltedAt}`);
    for (const failure of describeFailures(name, run, failuresShown)) console.log(indentBlock(failure, '    '));
    if (run.failed > failuresShown) console.log(`    ... and ${run.failed - failuresShown} more failures`);
  }

  const total = totals(figures);
  console.log(figureLine('total', nameWidth, total.passed, total.failed, total.skipped, total.seconds));
  if (allSkips.size > 0) console.log(`    skipped: ${describeReasons(new Map([...allSkips].sort((a, b) => b[1] - a[1])))}`);

  if (flags['write-benchmarks']) {
    writeBenchmarks(path.resolve(flags.benchmarks), figures, total);
    console.log(`wrote conformance figures to ${path.resolve(flags.benchmarks)}`);
  }
  return total.failed > 0 ? 1 : 0;
}

/**
 * The aim is every record SQLite itself passes: a record Quiver fails is run through SQLite
 * alone, and if SQLite fails it too, it counts as skipped with that reason, not as failed.
 */
async function excusingSqliteFailures(file: string, run: FileRun): Promise<FileRun> {
  if (run.failed === 0) return run;
  const sqlite = openSqliteReference();
  let failingInSqlite: Set<number>;
  try {
    const reference = await runScript(parseScript(fs.readFileSync(file, 'utf8')), sqlite);
    failingInSqlite = new Set(reference.outcomes.filter((o) => o.status === 'failed').map((o) => o.line));
  } finally {
    sqlite.close();
  }
  const reason = 'fails in SQLite itself';
  const outcomes = run.outcomes.map((o): RecordOutcome =>
    o.status === 'failed' && failingInSqlite.has(o.line) ? { status: 'skipped', line: o.line, reason } : o,
  );
  const excused = outcomes.filter((o) => o.status === 'skipped' && o.reason === reason).length;
  return { ...run, outcomes, failed: run.failed - excused, skipped: run.skipped + excused };
}

/** A script named on the command line: a name inside `dir`, else a path from the cwd. */
function resolveScript(dir: string, name: string): string {
  const inDir = path.resolve(dir, name);
  const found = fs.existsSync(inDir) ? inDir : path.resolve(name);
  if (!fs.existsSync(found)) throw new Error(`no script '${name}' in ${dir} or the current directory`);
  return found;
}

function defaultScripts(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => DEFAULT_FILES.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

function figureLine(name: string, width: number, passed: number, failed: number, skipped: number, seconds: number): string {
  return `${name.padEnd(width)}  passed ${String(passed).padStart(5)}  failed ${String(failed).padStart(5)}  skipped ${String(skipped).padStart(4)}  (${seconds.toFixed(1)} s)`;
}

function describeReasons(reasons: ReadonlyMap<string, number>): string {
  return [...reasons].map(([reason, n]) => `${n} × ${reason}`).join(', ');
}

function indentBlock(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

function totals(figures: readonly FileFigures[]): { passed: number; failed: number; skipped: number; seconds: number } {
  const total = { passed: 0, failed: 0, skipped: 0, seconds: 0 };
  for (const { run } of figures) {
    total.passed += run.passed;
    total.failed += run.failed;
    total.skipped += run.skipped;
    total.seconds += run.seconds;
  }
  return total;
}

/** The SQLite library the engine is built on; Engine exposes no version, so ask the same binding. */
function sqliteVersion(): string {
  const db = new Database(':memory:');
  try {
    return db.prepare('select sqlite_version()').pluck().get() as string;
  } finally {
    db.close();
  }
}

function writeBenchmarks(file: string, figures: readonly FileFigures[], total: ReturnType<typeof totals>): void {
  const date = new Date().toISOString().slice(0, 10);
  const row = (name: string, f: { passed: number; failed: number; skipped: number; seconds: number }): string =>
    `| ${name} | ${f.passed} | ${f.failed} | ${f.skipped} | ${f.seconds.toFixed(1)} |`;
  const body = [
    '## SQL conformance (sqllogictest)',
    '',
    `SQLite ${sqliteVersion()}, ${date}. Refresh with \`npm run conformance -- --write-benchmarks\`;`,
    'skipped records are those guarded away by `skipif sqlite` / `onlyif <other engine>`, and records',
    'that SQLite itself fails when run alone (their reasons are printed by the script).',
    '',
    '| file | passed | failed | skipped | seconds |',
    '|---|---:|---:|---:|---:|',
    ...figures.map(({ name, run }) => row(name, run)),
    row('**total**', total),
  ].join('\n');
  writeSection('conformance', body, file);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 2;
  },
);
