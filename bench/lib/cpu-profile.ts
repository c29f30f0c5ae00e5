/**
 * @module bench/lib/cpu-profile
 * Reads a V8 `.cpuprofile` (as written by `profiled-server.ts` or `node --cpu-prof`) and says
 * where a process spent its time within a wall-clock window: self time by source file or npm
 * package, the functions with the most self time, and the inclusive time of Quiver's own
 * functions (each sample counted once per function on its stack, so recursion does not inflate
 * it). Idle samples are kept apart, so shares are of the time the process was busy.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const REPO_URL = new URL('../../', import.meta.url).href;

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Milliseconds by label, largest first. */
export type Ranked = { label: string; ms: number }[];

export interface ProfileSummary {
  /** Busy (non-idle) ms in the window. */
  busyMs: number;
  idleMs: number;
  byFile: Ranked;
  bySelf: Ranked;
  /** Inclusive ms of functions in the repository's own src/. */
  byInclusive: Ranked;
}

/** Where a frame's code lives: a repo path, `npm:<package>`, `node:<module>`, or a V8 pseudo-frame. */
function fileOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inModules) return `npm:${inModules[1]}`;
  if (url.startsWith(REPO_URL)) return url.slice(REPO_URL.length).replace(/\?.*$/, '');
  if (url.startsWith('node:')) return url;
  return url.startsWith('file:') ? fileURLToPath(url) : url;
}

/**
 * A function's label: name and file, plus the line outside the repository. Repository files run
 * through tsx, whose transpiled line numbers do not match the source, so none is given there.
 */
function functionOf(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  const file = fileOf(frame);
  if (frame.url === '') return file === '(native)' ? `${name} (native)` : name;
  if (frame.url.startsWith(REPO_URL)) return `${name} ${file}`;
  return `${name} ${file}:${frame.lineNumber + 1}`;
}

function rank(totals: Map<string, number>): Ranked {
  return [...totals].map(([label, us]) => ({ label, ms: us / 1000 })).sort((a, b) => b.ms - a.ms);
}

function add(totals: Map<string, number>, key: string, us: number): void {
  totals.set(key, (totals.get(key) ?? 0) + us);
}

/**
 * Summarizes the samples of `profilePath` taken between `fromEpochMs` and `toEpochMs`, given the
 * wall-clock time `startEpochMs` at which the profile started.
 */
export function summarizeProfile(profilePath: string, startEpochMs: number, fromEpochMs: number, toEpochMs: number): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(profilePath, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const byFile = new Map<string, number>();
  const bySelf = new Map<string, number>();
  const byInclusive = new Map<string, number>();
  let busyUs = 0;
  let idleUs = 0;
  let atUs = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    atUs += profile.timeDeltas[i];
    // A sample stands for the time until the next one.
    const us = profile.timeDeltas[i + 1] ?? 0;
    const atEpochMs = startEpochMs + (atUs - profile.startTime) / 1000;
    if (atEpochMs < fromEpochMs || atEpochMs > toEpochMs) continue;
    const node = byId.get(profile.samples[i])!;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    add(byFile, fileOf(node.callFrame), us);
    add(bySelf, functionOf(node.callFrame), us);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)!.callFrame;
      if (!frame.url.startsWith(`${REPO_URL}src/`)) continue;
      const key = functionOf(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      add(byInclusive, key, us);
    }
  }
  return { busyMs: busyUs / 1000, idleMs: idleUs / 1000, byFile: rank(byFile), bySelf: rank(bySelf), byInclusive: rank(byInclusive) };
}

/** The summary as printable lines, `top` entries per list. */
export function profileLines(summary: ProfileSummary, top: number): string[] {
  const share = (ms: number) => `${((100 * ms) / summary.busyMs).toFixed(1).padStart(5)}%`;
  const list = (title: string, ranked: Ranked) => [
    title,
    ...ranked.slice(0, top).map(({ label, ms }) => `  ${ms.toFixed(0).padStart(7)} ms ${share(ms)}  ${label}`),
  ];
  return [
    `server CPU profile: ${summary.busyMs.toFixed(0)} ms busy, ${summary.idleMs.toFixed(0)} ms idle in the window (shares are of busy time)`,
    ...list('self time by file or package:', summary.byFile),
    ...list('self time by function:', summary.bySelf),
    ...list("inclusive time of Quiver's functions (src/):", summary.byInclusive),
  ];
}
