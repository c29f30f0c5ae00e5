/**
 * @module bench/lib/benchmarks-file
 * BENCHMARKS.md is shared by every benchmark and the conformance script: each owns one section
 * between `<!-- KEY:start -->` and `<!-- KEY:end -->` markers and replaces only that, leaving
 * the others as they are.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCHMARKS_FILE = path.join(fileURLToPath(new URL('../../', import.meta.url)), 'BENCHMARKS.md');

const markers = (key: string) => ({ start: `<!-- ${key}:start -->`, end: `<!-- ${key}:end -->` });

/** The text between a section's markers, or null if the file has no such section. */
export function readSection(key: string, file = BENCHMARKS_FILE): string | null {
  if (!fs.existsSync(file)) return null;
  const text = fs.readFileSync(file, 'utf8');
  const { start, end } = markers(key);
  const i = text.indexOf(start);
  const j = text.indexOf(end, i);
  return i >= 0 && j > i ? text.slice(i + start.length, j) : null;
}

/** Replaces a section's body, or appends the section at the end; other sections are untouched. */
export function writeSection(key: string, body: string, file = BENCHMARKS_FILE): void {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const { start, end } = markers(key);
  const block = `${start}\n${body}\n${end}`;
  const i = text.indexOf(start);
  const j = text.indexOf(end, i);
  const next = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  fs.writeFileSync(file, next);
}
