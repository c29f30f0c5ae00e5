/** The embedding config file and the model registry: where the file is found, what it may hold, how models are named. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddingConfigError, Embeddings, LOCAL_MODEL_NAME } from '../../src/embed/index.ts';
import { parseConfig } from '../../src/embed/registry.ts';
import { QuiverError } from '../../src/core/errors.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-registry-'));
  dirs.push(dir);
  return dir;
}

const V4 = {
  provider: 'openai',
  baseURL: 'https://dashscope.aliyuncs.com/compatible-mode/v1',
  apiKeyEnv: 'DASHSCOPE_API_KEY',
  model: 'text-embedding-v4',
  dims: 1024,
  canShorten: true,
  maxBatch: 10,
  maxConcurrency: 4,
  timeoutMs: 30000,
  maxRetries: 5,
};

function configError(raw: unknown): EmbeddingConfigError {
  try {
    parseConfig(raw, 'test.json');
  } catch (error) {
    expect(error).toBeInstanceOf(EmbeddingConfigError);
    return error as EmbeddingConfigError;
  }
  throw new Error('expected the config to be refused');
}

describe('config file', () => {
  it('is found in the data dir, or at QUIVER_EMBEDDING_CONFIG, or not at all', () => {
    const dataDir = tempDir();
    const bare = Embeddings.open({ dataDir, env: {} });
    expect(bare.configPath).toBeUndefined();
    expect(bare.listModels().map((m) => m.name)).toEqual([LOCAL_MODEL_NAME]);
    bare.close();

    writeFileSync(join(dataDir, 'embedding.json'), JSON.stringify({ models: { 'text-embedding-v4': V4 } }));
    const inDataDir = Embeddings.open({ dataDir, env: {} });
    expect(inDataDir.configPath).toBe(join(dataDir, 'embedding.json'));
    expect(inDataDir.listModels().map((m) => m.name)).toEqual([LOCAL_MODEL_NAME, 'text-embedding-v4']);
    inDataDir.close();

    const elsewhere = join(tempDir(), 'models.json');
    writeFileSync(elsewhere, JSON.stringify({ models: { other: { provider: 'openai', dims: 3 } } }));
    const fromEnv = Embeddings.open({ dataDir, env: { QUIVER_EMBEDDING_CONFIG: elsewhere } });
    expect(fromEnv.listModels().map((m) => m.name)).toEqual([LOCAL_MODEL_NAME, 'other']);
    fromEnv.close();

    expect(() => Embeddings.open({ dataDir, env: { QUIVER_EMBEDDING_CONFIG: join(dataDir, 'missing.json') } })).toThrow(/does not exist/);
    writeFileSync(elsewhere, '{ "models": ');
    expect(() => Embeddings.open({ dataDir, configPath: elsewhere, env: {} })).toThrow(/not readable JSON/);
  });

  it('takes the documented example, filling defaults', () => {
    const config = parseConfig({ models: { 'text-embedding-v4': V4, nomic: { provider: 'openai', baseURL: 'http://127.0.0.1:11434/v1', model: 'nomic-embed-text', dims: 768 } }, cache: { maxBytes: 1 << 30 } }, 't');
    expect(config.models.map((m) => m.info)).toMatchObject([
      { name: 'text-embedding-v4', dims: 1024, canShorten: true, maxBatch: 10, maxConcurrency: 4, timeoutMs: 30000, maxRetries: 5, cache: true },
      { name: 'nomic', dims: 768, canShorten: false, maxBatch: 32, maxConcurrency: 4, timeoutMs: 30000, maxRetries: 5 },
    ]);
    expect(config.models[0].apiKeyEnv).toBe('DASHSCOPE_API_KEY');
    expect(config.cache).toEqual({ maxBytes: 1 << 30 });
  });

  it('refuses a key written into the file, without repeating it', () => {
    const key = 'sk-live-abcdefghijklmnop123456';
    for (const raw of [
      { models: { m: { ...V4, apiKey: key } } },
      { models: { m: { ...V4, api_key: key } } },
      { models: { m: { ...V4, apiKeyEnv: key } } },
      { models: { m: { ...V4, baseURL: `https://example.com/v1?key=${key}` } } },
      { models: { m: { ...V4, baseURL: `https://user:${key}@example.com/v1` } } },
    ]) {
      const error = configError(raw);
      expect(error.message).not.toContain(key);
      expect(error.message).toMatch(/secret|API key|apiKeyEnv|credentials/);
    }
    expect(configError({ models: { m: { ...V4, baseURL: 'https://me:hunter2@example.com/v1' } } }).message).not.toContain('hunter2');
    expect(configError({ models: { m: { ...V4, apiKeyEnv: 'not a variable name' } } }).message).toMatch(/name of an environment variable/);
  });

  it('refuses unknown fields, wrong types and out-of-range numbers, naming them', () => {
    expect(configError({ models: { m: { ...V4, maxbatch: 10 } } }).message).toMatch(/unknown field "maxbatch"/);
    expect(configError({ models: { m: { ...V4, dims: undefined } } }).message).toMatch(/"dims" is required/);
    expect(configError({ models: { m: { ...V4, maxBatch: 0 } } }).message).toMatch(/"maxBatch" must be an integer from 1 to 2048; got 0/);
    expect(configError({ models: { m: { ...V4, provider: 'cohere' } } }).message).toMatch(/"provider" must be "openai"/);
    expect(configError({ models: { m: { ...V4, canShorten: 'yes' } } }).message).toMatch(/"canShorten" must be true or false/);
    expect(configError({ models: { m: { ...V4, baseURL: 'ftp://x' } } }).message).toMatch(/http or https/);
    expect(configError({ models: { [LOCAL_MODEL_NAME]: V4 } }).message).toMatch(/built-in model/);
    expect(configError({ models: { Big: V4, big: V4 } }).message).toMatch(/differ only in case/);
    expect(configError({ model: {} }).message).toMatch(/unknown field "model"/);
    expect(configError([]).message).toMatch(/JSON object/);
    // `$` keys are comments.
    expect(parseConfig({ $comment: 'ok', models: { m: { ...V4, $note: 'fine' } } }, 't').models).toHaveLength(1);
  });
});

describe('models', () => {
  const dataDir = tempDir();
  writeFileSync(join(dataDir, 'embedding.json'), JSON.stringify({ models: { 'text-embedding-v4': V4, 'Nomic-Embed': { provider: 'openai', dims: 768 } } }));

  it('answers an unknown model with UNKNOWN_MODEL listing the configured ones', () => {
    const embeddings = Embeddings.open({ dataDir, env: {} });
    try {
      embeddings.model('text-embedding-v5');
      throw new Error('expected UNKNOWN_MODEL');
    } catch (error) {
      expect(error).toBeInstanceOf(QuiverError);
      expect((error as QuiverError).code).toBe('UNKNOWN_MODEL');
      expect((error as QuiverError).message).toBe(
        `unknown embedding model 'text-embedding-v5'; the configured models are: ${LOCAL_MODEL_NAME}, text-embedding-v4, Nomic-Embed`,
      );
    } finally {
      embeddings.close();
    }
  });

  it('finds models whatever the case', () => {
    const embeddings = Embeddings.open({ dataDir, env: {} });
    expect(embeddings.model('nomic-embed').name).toBe('Nomic-Embed');
    expect(embeddings.model('TEXT-EMBEDDING-V4').dims).toBe(1024);
    embeddings.close();
  });

  it('lists models for SHOW EMBEDDING MODELS with no keys, key variables or endpoints', () => {
    const embeddings = Embeddings.open({ dataDir, env: { DASHSCOPE_API_KEY: 'sk-secret-0123456789abcdef' } });
    const models = embeddings.listModels();
    expect(models[0]).toEqual({
      name: LOCAL_MODEL_NAME, provider: 'local', model: LOCAL_MODEL_NAME, dims: 100, canShorten: false,
      maxBatch: 256, maxConcurrency: 1, timeoutMs: 60000, maxRetries: 0, cached: false,
    });
    expect(models[1]).toEqual({
      name: 'text-embedding-v4', provider: 'openai', model: 'text-embedding-v4', dims: 1024, canShorten: true,
      maxBatch: 10, maxConcurrency: 4, timeoutMs: 30000, maxRetries: 5, cached: true,
    });
    const text = JSON.stringify(models);
    for (const secret of ['sk-secret', 'DASHSCOPE_API_KEY', 'dashscope.aliyuncs.com']) expect(text).not.toContain(secret);
    embeddings.close();
  });

  it('resolves dims: the model\'s own by default, fewer only where it can shorten', () => {
    const embeddings = Embeddings.open({ dataDir, env: {} });
    expect(embeddings.resolveDims('text-embedding-v4', undefined)).toBe(1024);
    expect(embeddings.resolveDims('text-embedding-v4', 256)).toBe(256);
    expect(() => embeddings.resolveDims('text-embedding-v4', 0)).toThrow(/1 to 1024 dimensions; got 0/);
    expect(() => embeddings.resolveDims('Nomic-Embed', 256)).toThrow(/768-dimensional vectors and cannot shorten them; got 256/);
    expect(() => embeddings.resolveDims(LOCAL_MODEL_NAME, 50)).toThrow(QuiverError);
    embeddings.close();
  });
});
