/**
 * @module bench/lib/local-model-load
 * One load of the built-in model `quiver-local-100d` in a process of its own, so nothing is
 * memoized from an earlier load: `node --import tsx bench/lib/local-model-load.ts CACHE_DIR`
 * opens Embeddings with that cache dir (and no config), warms the model up, and prints one JSON
 * line `{"ms": ..., "converted": ..., "fileBytes": ..., "peakRssBytes": ...}`. `converted` is
 * true when the cache dir had no model file before, i.e. this load converted the package's JSON.
 * The benchmark (bench/embed.ts) runs it twice on a fresh cache dir: conversion, then a load.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Embeddings, LOCAL_MODEL_NAME } from '../../src/embed/index.ts';
import { MODEL_FILE_NAME } from '../../src/embed/providers/local-model-file.ts';

const cacheDir = process.argv[2];
if (!cacheDir) throw new Error('usage: node --import tsx bench/lib/local-model-load.ts CACHE_DIR');
const modelFile = join(cacheDir, MODEL_FILE_NAME);
const converted = !existsSync(modelFile);

// env {}: no QUIVER_EMBEDDING_CONFIG, so only the built-in model exists; the cache is in memory.
const embeddings = Embeddings.open({ cacheDir, env: {} });
const started = performance.now();
await embeddings.warmUp(LOCAL_MODEL_NAME);
const ms = performance.now() - started;
embeddings.close();
console.log(JSON.stringify({ ms, converted, fileBytes: statSync(modelFile).size, peakRssBytes: process.resourceUsage().maxRSS * 1024 }));
