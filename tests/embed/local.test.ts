/**
 * The built-in model quiver-local-100d: conversion of the package's JSON into the binary file,
 * load time, determinism, and the semantic checks it must pass (seed 001's HashMatch question).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Embeddings, LOCAL_MODEL_NAME } from '../../src/embed/index.ts';
import { LocalEncoder } from '../../src/embed/providers/local.ts';
import { MODEL_FILE_NAME, loadWordVectors } from '../../src/embed/providers/local-model-file.ts';
import type { LoadReport, WordVectors } from '../../src/embed/providers/local-model-file.ts';
import { QuiverError } from '../../src/core/errors.ts';

const SEED_001 = [
  'PolarDB IMCI can use Hybrid Plan to access both row store and column store in an SQL statement',
  'HashMatch is a join operator in PolarDB IMCI',
  'PolarDB IMCI provides built-in vector indexes and embedding services',
];

const root = mkdtempSync(join(tmpdir(), 'quiver-local-'));
const cacheDir = join(root, 'cache');
let vectors: WordVectors;
let firstLoad: LoadReport;
let encoder: LocalEncoder;

beforeAll(async () => {
  ({ vectors, report: firstLoad } = await loadWordVectors(cacheDir));
  encoder = new LocalEncoder(vectors);
}, 180_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Loads from `dir` in a fresh process, so nothing is memoized. */
function loadInChildProcess(dir: string): LoadReport & { size: number; dims: number } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'load-local-model.ts'), dir], {
    encoding: 'utf8',
    timeout: 170_000,
  });
  return JSON.parse(out) as LoadReport & { size: number; dims: number };
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return dot;
}

function embed(text: string): Float32Array {
  return encoder.encode(text);
}

describe('the model file', () => {
  it('is converted once from the package into the cache dir', () => {
    expect(firstLoad.converted).toBe(true);
    expect(firstLoad.path).toBe(join(cacheDir, MODEL_FILE_NAME));
    expect(vectors.dims).toBe(100);
    expect(vectors.size).toBe(341_479);
    const bytes = statSync(firstLoad.path).size;
    expect(bytes).toBe(firstLoad.fileBytes);
    expect(bytes).toBeLessThan(50 * 1024 * 1024);
    expect(vectors.rowOf('the')).toBe(0);
    expect(vectors.rowOf('puppy')).toBeGreaterThan(0);
    expect(vectors.rowOf('hashmatch')).toBe(-1);
    console.log(`local model: converted in ${firstLoad.ms.toFixed(0)} ms, ${(bytes / 1024 / 1024).toFixed(1)} MiB`);
  });

  it('loads again from the binary file, fast', () => {
    const second = loadInChildProcess(cacheDir);
    expect(second.converted).toBe(false);
    expect(second.size).toBe(341_479);
    // Typically well under 200 ms; the bound is loose for slow CI machines.
    expect(second.ms).toBeLessThan(3000);
    console.log(`local model: second load in ${second.ms.toFixed(0)} ms`);
  }, 180_000);

  it('is rebuilt when damaged', () => {
    const damagedDir = join(root, 'damaged');
    mkdirSync(damagedDir, { recursive: true });
    const path = join(damagedDir, MODEL_FILE_NAME);
    copyFileSync(firstLoad.path, path);
    const bytes = readFileSync(path);
    bytes[bytes.length - 10] ^= 0xff;
    writeFileSync(path, bytes);
    const reloaded = loadInChildProcess(damagedDir);
    expect(reloaded.converted).toBe(true);
    expect(readFileSync(path).equals(readFileSync(firstLoad.path))).toBe(true);
  }, 180_000);
});

describe('quiver-local-100d', () => {
  it('is deterministic: same text, same bits, from any encoder', () => {
    const text = 'HashMatch is a join operator in PolarDB IMCI';
    const a = embed(text);
    const b = new LocalEncoder(vectors).encode(text);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(embed(text)).toEqual(a);
    // Pinned so that a change of algorithm is deliberate (and bumps LOCAL_MODEL_REVISION).
    expect(Array.from(a.slice(0, 4), (x) => Number(x.toFixed(5)))).toMatchInlineSnapshot(`
      [
        0.02762,
        0.00688,
        -0.14064,
        -0.01924,
      ]
    `);
  });

  it('gives unit vectors of 100 dims, even for texts without words', () => {
    for (const text of ['dog', 'What is HashMatch?', '', '???', '向量索引', 'x'.repeat(10_000)]) {
      const v = embed(text);
      expect(v).toHaveLength(100);
      expect(Math.abs(cosine(v, v) - 1)).toBeLessThan(1e-5);
    }
  });

  it('puts "dog" nearer "puppy" than "carburetor"', () => {
    const dog = embed('dog');
    expect(cosine(dog, embed('puppy'))).toBeGreaterThan(cosine(dog, embed('carburetor')) + 0.3);
  });

  it('answers "What is HashMatch?" with the HashMatch sentence of seed 001', () => {
    const q = embed('What is HashMatch?');
    const scores = SEED_001.map((s) => cosine(q, embed(s)));
    expect(scores.indexOf(Math.max(...scores))).toBe(1);
  });

  it('matches the other seed 001 questions to their sentences', () => {
    const best = (question: string) => {
      const q = embed(question);
      const scores = SEED_001.map((s) => cosine(q, embed(s)));
      return scores.indexOf(Math.max(...scores));
    };
    expect(best('Can one query read both the row store and the column store?')).toBe(0);
    expect(best('Which join operators are there?')).toBe(1);
    expect(best('Does it have vector indexes?')).toBe(2);
  });

  it('gives an unknown word a vector that matches itself and shares a little with its parts', () => {
    const hashMatch = embed('HashMatch');
    expect(cosine(hashMatch, embed('hashmatch'))).toBeCloseTo(1, 5);
    expect(cosine(hashMatch, embed('HashMatches'))).toBeGreaterThan(0.5);
    for (const part of ['hash', 'match']) {
      const share = cosine(hashMatch, embed(part));
      expect(share).toBeGreaterThan(0.15);
      expect(share).toBeLessThan(0.8);
    }
    expect(Math.abs(cosine(hashMatch, embed('Zyxwvq')))).toBeLessThan(0.3);
  });

  it('is weighted by SIF: frequent words count for little', () => {
    const content = embed('carburetor');
    expect(cosine(embed('the carburetor'), content)).toBeGreaterThan(0.95);
  });
});

describe('through Embeddings', () => {
  it('embeds without a key or network, and answers getCached from the model itself once loaded', async () => {
    const dataDir = join(root, 'data');
    const embeddings = Embeddings.open({ dataDir, cacheDir, env: {} });
    try {
      expect(embeddings.resolveDims(LOCAL_MODEL_NAME, undefined)).toBe(100);
      const [v] = await embeddings.embed(LOCAL_MODEL_NAME, 100, ['What is HashMatch?']);
      expect(v).toEqual(embed('What is HashMatch?'));
      expect(embeddings.getCached(LOCAL_MODEL_NAME, 100, ['What is HashMatch?', 'never embedded'])).toEqual([v, embed('never embedded')]);
      // Recomputing is cheaper than caching, so the built-in model leaves no rows in the cache.
      expect(embeddings.cacheStats().entries).toBe(0);
      await expect(embeddings.embed(LOCAL_MODEL_NAME, 50, ['x'])).rejects.toThrow(QuiverError);
    } finally {
      embeddings.close();
    }
    expect(existsSync(join(dataDir, 'embedding-cache.db'))).toBe(true);
  });

  it('embeds a few thousand texts per second or more', async () => {
    const embeddings = Embeddings.open({ cacheDir, env: {} });
    const texts = Array.from({ length: 5000 }, (_, i) => `${SEED_001[i % 3]} (row ${i})`);
    const started = performance.now();
    const out = await embeddings.embed(LOCAL_MODEL_NAME, 100, texts);
    const perSecond = texts.length / ((performance.now() - started) / 1000);
    expect(out).toHaveLength(5000);
    expect(perSecond).toBeGreaterThan(1000);
    console.log(`local model: ${perSecond.toFixed(0)} texts/s`);
    embeddings.close();
  });
});
