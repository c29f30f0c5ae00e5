/**
 * @module tests/index/segment-format.test
 * The segment file (src/index/segment/format.ts): a round trip keeps every array and every
 * answer; any flipped byte, a truncation, a foreign file or a newer version is refused with
 * SegmentCorruptError and the right reason; writes are atomic (no temp files left, a failed
 * write leaves the old file).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Metric } from '../../src/core/index.ts';
import {
  SEGMENT_FORMAT_VERSION,
  SegmentCorruptError,
  buildSegment,
  partOutput,
  readSegment,
  segmentFromContents,
  toStored,
  writeSegment,
  type Segment,
} from '../../src/index/testing.ts';
import { decodeSegment, encodeSegment, segmentContents } from '../../src/index/segment/format.ts';
import { METRICS, clusteredVectors } from './helpers.ts';

const DIMS = 12;
let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'quiver-segment-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function makeSegment(metric: Metric, n = 600): Segment {
  const vectors = clusteredVectors(61, n, DIMS);
  const segment = buildSegment({ id: 42, dims: DIMS, metric, rowIds: vectors.map((_, i) => 10 * i + 1), vectors, m: 6, efConstruction: 32 });
  for (let i = 0; i < n; i += 7) segment.delete(10 * i + 1);
  return segment;
}

function answers(segment: Segment, metric: Metric): number[][] {
  return clusteredVectors(62, 10, DIMS).map((q) => {
    const out = partOutput(5);
    const found = segment.search(toStored(metric, DIMS, q), 5, 32, null, out);
    return [...out.rowIds.subarray(0, found), ...out.keys.subarray(0, found)];
  });
}

describe.each(METRICS)('round trip, %s', (metric) => {
  it('keeps every section and every answer', async () => {
    const segment = makeSegment(metric);
    const file = path.join(dir, `round-${metric}.qvs`);
    await writeSegment(file, segment);
    const contents = await readSegment(file);
    expect(contents.id).toBe(42);
    expect(contents.dims).toBe(DIMS);
    expect(contents.metric).toBe(metric);
    const back = segmentFromContents(contents);
    expect(Array.from(back.rowIds)).toEqual(Array.from(segment.rowIds));
    expect(Array.from(back.alive.words)).toEqual(Array.from(segment.alive.words));
    expect(back.alive.deadCount).toBe(segment.alive.deadCount);
    expect(Array.from(back.graph.vectors)).toEqual(Array.from(segment.graph.vectors));
    expect(Array.from(back.graph.links0)).toEqual(Array.from(segment.graph.links0));
    expect(Array.from(back.graph.upperLinks)).toEqual(Array.from(segment.graph.upperLinks));
    expect(back.graph.entryPoint).toBe(segment.graph.entryPoint);
    expect(answers(back, metric)).toEqual(answers(segment, metric));
  });
});

describe('damage is refused with SegmentCorruptError', () => {
  const segment = makeSegment('cosine', 300);
  const bytes = encodeSegment(segmentContents(segment));

  const reasonOf = (damaged: Uint8Array): string => {
    try {
      decodeSegment(damaged, 'x.qvs');
    } catch (e) {
      expect(e).toBeInstanceOf(SegmentCorruptError);
      return (e as SegmentCorruptError).reason;
    }
    return 'accepted';
  };

  it('decodes the undamaged bytes', () => {
    expect(reasonOf(bytes)).toBe('accepted');
  });

  it('any single flipped byte, in every section, header and checksum included', () => {
    // Every byte of the header and the trailer, and a stride through the sections.
    const positions = new Set<number>();
    for (let i = 0; i < 64; i++) positions.add(i);
    for (let i = bytes.length - 8; i < bytes.length; i++) positions.add(i);
    for (let i = 64; i < bytes.length; i += 97) positions.add(i);
    for (const at of positions) {
      const damaged = Buffer.from(bytes);
      damaged[at] ^= 0x5a;
      const reason = reasonOf(damaged);
      expect(reason, `byte ${at}`).not.toBe('accepted');
      if (at < 8) expect(reason).toBe('magic');
      else if (at >= 12 && at < bytes.length - 4) expect(['checksum', 'version']).toContain(reason);
    }
  });

  it('truncation, emptiness and a foreign file', () => {
    expect(reasonOf(bytes.subarray(0, bytes.length - 1))).toBe('checksum');
    expect(reasonOf(bytes.subarray(0, 10))).toBe('truncated');
    expect(reasonOf(new Uint8Array(0))).toBe('truncated');
    expect(reasonOf(Buffer.from('{"not": "a segment file", "padding": "...........................................................".}'))).toBe('magic');
  });

  it('a version this build does not know, even with a valid checksum', async () => {
    const { crc32 } = await import('../../src/index/segment/format.ts');
    const newer = Buffer.from(bytes);
    newer.writeUInt32LE(SEGMENT_FORMAT_VERSION + 1, 8);
    newer.writeUInt32LE(crc32(newer.subarray(0, newer.length - 4)), newer.length - 4);
    expect(reasonOf(newer)).toBe('version');
  });

  it('a structurally wrong file with a valid checksum (a link out of range)', async () => {
    const { crc32 } = await import('../../src/index/segment/format.ts');
    const contents = segmentContents(segment);
    const links0 = contents.graph!.links0.slice();
    links0[1] = 1_000_000;
    const bad = encodeSegment({ ...contents, graph: { ...contents.graph!, links0 } });
    expect(crc32(bad.subarray(0, bad.length - 4))).toBe(bad.readUInt32LE(bad.length - 4));
    expect(reasonOf(bad)).toBe('structure');
  });

  it('readSegment reports the path; a missing file is an ordinary ENOENT', async () => {
    const file = path.join(dir, 'damaged.qvs');
    const damaged = Buffer.from(bytes);
    damaged[200] ^= 1;
    await fs.writeFile(file, damaged);
    await expect(readSegment(file)).rejects.toMatchObject({ name: 'SegmentCorruptError', code: 'SEGMENT_CORRUPT', path: file, reason: 'checksum' });
    await expect(readSegment(path.join(dir, 'nope.qvs'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('atomic writes', () => {
  it('leaves no temporary file, and replaces the old file whole', async () => {
    const file = path.join(dir, 'atomic.qvs');
    await writeSegment(file, makeSegment('euclidean', 100));
    await writeSegment(file, makeSegment('euclidean', 200));
    expect((await readSegment(file)).rowIds.length).toBe(200);
    expect((await fs.readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a failed write leaves the previous file intact', async () => {
    const file = path.join(dir, 'kept.qvs');
    await writeSegment(file, makeSegment('euclidean', 100));
    await expect(writeSegment(path.join(dir, 'no-such-dir', 'x.qvs'), makeSegment('euclidean', 100))).rejects.toThrow();
    expect((await readSegment(file)).rowIds.length).toBe(100);
  });
});
