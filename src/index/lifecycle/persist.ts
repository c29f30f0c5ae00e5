/**
 * @module index/lifecycle/persist
 * The index on disk: one segment file per segment (./segment/format.ts), the tail as one flat
 * segment file (rows without a graph), and `manifest.json`, which names the live files. The
 * manifest is written last and atomically, so a crash mid-save leaves the previous manifest
 * naming complete, previous files; files it no longer names are deleted only after it is in
 * place. The files are 0600 and the directories this makes 0700: they hold users' vectors. A
 * segment whose alive bits have not changed since it was last written to the same directory is
 * not written again (its dead count is its version: bits only ever clear).
 * Loading never throws for damaged data: each missing, corrupt or mismatched file becomes a
 * {@link LoadProblem}, because the index is derived data that the caller can rebuild from
 * SQLite (DESIGN.md, decision 1). A float32 segment loaded into a quantized index is returned
 * as it is (the index encodes it); a quantized one loaded into an index of another
 * quantization is a mismatch, since its float32 vectors are gone.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Metric } from '../../core/index.ts';
import { PRIVATE_DIR_MODE } from '../../util/index.ts';
import type { Quantization } from '../quantization.ts';
import { isSegmentCorruptError } from '../errors.ts';
import type { HnswGraphData } from '../hnsw/graph.ts';
import { AliveBitSet } from '../segment/alive-bitset.ts';
import { encodeSegment, readSegment, segmentContents, writeFileAtomic, type SegmentFileContents } from '../segment/format.ts';
import type { Segment } from '../segment/segment.ts';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'quiver-vector-index';
export const MANIFEST_VERSION = 1;
const SEGMENT_FILE = /^segment-(\d+)\.qvs$/;
const TAIL_FILE = /^tail-(\d+)\.qvs$/;
/** writeFileAtomic's temporary files; one left in the dir after a save is a crash's. */
const TEMP_FILE = /^\..+\.[0-9a-f]{12}\.tmp$/;

interface Manifest {
  format: string;
  version: number;
  dims: number;
  metric: Metric;
  m: number;
  efConstruction: number;
  /** Absent in manifests written before quantization existed: `none`. */
  quantization?: Quantization;
  nextSegmentId: number;
  segments: { id: number; file: string; rows: number; aliveRows: number }[];
  tail: { file: string; rows: number } | null;
  savedAt: string;
  meta: unknown;
}

/** A file that could not be used; `kind` says why. */
export interface LoadProblem {
  file: string;
  kind: 'missing' | 'corrupt' | 'mismatch';
  detail: string;
}

/** What save remembers between calls, to skip unchanged segments. */
export interface PersistState {
  dir: string | null;
  /** Segment id → dead count when last written to `dir`. */
  written: Map<number, number>;
}

export interface SaveInput {
  dims: number;
  metric: Metric;
  m: number;
  efConstruction: number;
  quantization: Quantization;
  nextSegmentId: number;
  segments: { segment: Segment; alive: AliveBitSet }[];
  tail: { rowIds: Float64Array; vectors: Float32Array };
  meta: unknown;
}

export async function saveIndexFiles(dir: string, input: SaveInput, state: PersistState): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const resolved = path.resolve(dir);
  if (state.dir !== resolved) {
    state.dir = resolved;
    state.written.clear();
  }
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    dims: input.dims,
    metric: input.metric,
    m: input.m,
    efConstruction: input.efConstruction,
    quantization: input.quantization,
    nextSegmentId: input.nextSegmentId,
    segments: [],
    tail: null,
    savedAt: new Date().toISOString(),
    meta: input.meta,
  };
  for (const { segment, alive } of input.segments) {
    const file = `segment-${segment.id}.qvs`;
    const target = path.join(dir, file);
    const unchanged = state.written.get(segment.id) === alive.deadCount && (await exists(target));
    if (!unchanged) {
      await writeFileAtomic(target, encodeSegment(segmentContents(segment, alive)));
      state.written.set(segment.id, alive.deadCount);
    }
    manifest.segments.push({ id: segment.id, file, rows: segment.rows, aliveRows: alive.aliveCount });
  }
  const rows = input.tail.rowIds.length;
  if (rows > 0) {
    // Tail files are named by save, not by content: each save writes a new one.
    const file = `tail-${Date.now()}${String(Math.floor(Math.random() * 1000)).padStart(3, '0')}.qvs`;
    const flat: SegmentFileContents = {
      id: 0,
      dims: input.dims,
      metric: input.metric,
      m: input.m,
      efConstruction: input.efConstruction,
      quantization: 'none',
      vectors: input.tail.vectors,
      rowIds: input.tail.rowIds,
      alive: AliveBitSet.allAlive(rows),
      graph: null,
    };
    await writeFileAtomic(path.join(dir, file), encodeSegment(flat));
    manifest.tail = { file, rows };
  }
  await writeFileAtomic(path.join(dir, MANIFEST_FILE), Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));
  // Only now is it safe to drop files the manifest does not name. Saves of one index never
  // overlap, so no other write has a temporary file here.
  const live = new Set([...manifest.segments.map((s) => s.file), manifest.tail?.file]);
  for (const name of await fs.readdir(dir)) {
    if (((SEGMENT_FILE.test(name) || TAIL_FILE.test(name)) && !live.has(name)) || TEMP_FILE.test(name)) {
      await fs.rm(path.join(dir, name), { force: true });
    }
  }
  const liveIds = new Set(manifest.segments.map((s) => s.id));
  for (const id of [...state.written.keys()]) if (!liveIds.has(id)) state.written.delete(id);
}

export interface LoadedFiles {
  segments: (SegmentFileContents & { graph: HnswGraphData })[];
  tail: { rowIds: Float64Array; vectors: Float32Array } | null;
  nextSegmentId: number;
  meta: unknown;
  problems: LoadProblem[];
}

/** Reads what `dir` holds for an index of `expected` shape; never throws for bad files. */
export async function loadIndexFiles(
  dir: string,
  expected: { dims: number; metric: Metric; quantization: Quantization },
): Promise<LoadedFiles> {
  const out: LoadedFiles = { segments: [], tail: null, nextSegmentId: 1, meta: null, problems: [] };
  const manifestPath = path.join(dir, MANIFEST_FILE);
  let manifest: Manifest;
  try {
    manifest = parseManifest(await fs.readFile(manifestPath, 'utf8'));
  } catch (e) {
    out.problems.push(problemFor(MANIFEST_FILE, e));
    return out;
  }
  if (manifest.dims !== expected.dims || manifest.metric !== expected.metric) {
    out.problems.push({
      file: MANIFEST_FILE,
      kind: 'mismatch',
      detail: `saved index is ${manifest.dims}-dimensional ${manifest.metric}; expected ${expected.dims}-dimensional ${expected.metric}`,
    });
    return out;
  }
  out.nextSegmentId = manifest.nextSegmentId;
  out.meta = manifest.meta;
  for (const entry of manifest.segments) {
    try {
      const contents = await readSegment(path.join(dir, entry.file));
      const graph = contents.graph;
      if (graph === null || contents.id !== entry.id || contents.dims !== expected.dims || contents.metric !== expected.metric) {
        out.problems.push({ file: entry.file, kind: 'mismatch', detail: 'segment file does not match the manifest' });
        continue;
      }
      if (contents.quantization !== 'none' && contents.quantization !== expected.quantization) {
        out.problems.push({
          file: entry.file,
          kind: 'mismatch',
          detail: `segment is ${contents.quantization}-quantized; the index is ${expected.quantization}`,
        });
        continue;
      }
      out.segments.push({ ...contents, graph });
    } catch (e) {
      out.problems.push(problemFor(entry.file, e));
    }
  }
  if (manifest.tail !== null) {
    try {
      const contents = await readSegment(path.join(dir, manifest.tail.file));
      if (contents.graph !== null || contents.dims !== expected.dims || contents.metric !== expected.metric) {
        out.problems.push({ file: manifest.tail.file, kind: 'mismatch', detail: 'tail file does not match the manifest' });
      } else {
        out.tail = { rowIds: contents.rowIds, vectors: contents.vectors };
      }
    } catch (e) {
      out.problems.push(problemFor(manifest.tail.file, e));
    }
  }
  return out;
}

function parseManifest(text: string): Manifest {
  const value = JSON.parse(text) as Partial<Manifest>;
  const ok =
    value !== null &&
    typeof value === 'object' &&
    value.format === MANIFEST_FORMAT &&
    Number.isInteger(value.dims) &&
    typeof value.metric === 'string' &&
    Number.isInteger(value.nextSegmentId) &&
    Array.isArray(value.segments) &&
    value.segments.every((s) => Number.isInteger(s?.id) && typeof s?.file === 'string' && SEGMENT_FILE.test(s.file)) &&
    (value.tail === null || (typeof value.tail?.file === 'string' && TAIL_FILE.test(value.tail.file)));
  if (!ok) throw new SyntaxError('not a Quiver vector index manifest');
  if (value.version !== MANIFEST_VERSION) throw new SyntaxError(`manifest version ${value.version}; this build reads ${MANIFEST_VERSION}`);
  return value as Manifest;
}

function problemFor(file: string, e: unknown): LoadProblem {
  if ((e as NodeJS.ErrnoException)?.code === 'ENOENT') return { file, kind: 'missing', detail: 'file not found' };
  if (isSegmentCorruptError(e) || e instanceof SyntaxError) return { file, kind: 'corrupt', detail: (e as Error).message };
  return { file, kind: 'corrupt', detail: e instanceof Error ? e.message : String(e) };
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}
