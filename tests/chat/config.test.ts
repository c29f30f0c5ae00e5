/** The `chat` section of the embedding config file: the documented example, defaults, and refusals. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChatModels } from '../../src/chat/index.ts';
import { EmbeddingConfigError } from '../../src/embed/index.ts';
import { DEFAULT_CHAT_MAX_RETRIES, DEFAULT_CHAT_TIMEOUT_MS, parseConfig } from '../../src/embed/registry.ts';
import { QuiverError } from '../../src/core/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'quiver-chat-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refused(chat: unknown): string {
  try {
    parseConfig({ chat }, 'test.json');
  } catch (e) {
    expect(e).toBeInstanceOf(EmbeddingConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('chat section', () => {
  it('takes the documented example and fills defaults, keeping file order', () => {
    const config = parseConfig(
      {
        models: { m: { provider: 'openai', dims: 8 } },
        chat: {
          'qwen-plus': {
            provider: 'openai', baseURL: 'https://dashscope.aliyuncs.com/compatible-mode/v1', apiKeyEnv: 'DASHSCOPE_API_KEY',
            model: 'qwen-plus', timeoutMs: 120000, maxRetries: 2, maxTokens: 1024, temperature: 0.2,
          },
          $comment: 'keys starting with $ are comments',
          llama: { provider: 'openai', baseURL: 'http://127.0.0.1:11434/v1', model: 'llama3.1' },
          bare: { provider: 'openai' },
        },
      },
      't',
    );
    expect(config.models).toHaveLength(1);
    expect(config.chat).toEqual([
      { name: 'qwen-plus', baseURL: 'https://dashscope.aliyuncs.com/compatible-mode/v1', remoteModel: 'qwen-plus', apiKeyEnv: 'DASHSCOPE_API_KEY', timeoutMs: 120000, maxRetries: 2, maxTokens: 1024, temperature: 0.2 },
      { name: 'llama', baseURL: 'http://127.0.0.1:11434/v1', remoteModel: 'llama3.1', apiKeyEnv: undefined, timeoutMs: DEFAULT_CHAT_TIMEOUT_MS, maxRetries: DEFAULT_CHAT_MAX_RETRIES, maxTokens: undefined, temperature: undefined },
      { name: 'bare', baseURL: 'https://api.openai.com/v1', remoteModel: 'bare', apiKeyEnv: undefined, timeoutMs: DEFAULT_CHAT_TIMEOUT_MS, maxRetries: DEFAULT_CHAT_MAX_RETRIES, maxTokens: undefined, temperature: undefined },
    ]);
    expect(parseConfig({ models: {} }, 't').chat).toEqual([]);
  });

  it('refuses mistakes, and keys in the file without repeating them', () => {
    expect(refused([])).toMatch(/"chat" must be an object/);
    expect(refused({ c: { provider: 'anthropic' } })).toMatch(/chat model "c": "provider" must be "openai"/);
    expect(refused({ c: { provider: 'openai', dims: 3 } })).toMatch(/unknown field "dims"/);
    expect(refused({ c: { provider: 'openai', baseURL: 'ftp://x' } })).toMatch(/"baseURL" must be http or https/);
    expect(refused({ c: { provider: 'openai', temperature: 5 } })).toMatch(/"temperature" must be a number from 0 to 2/);
    expect(refused({ c: { provider: 'openai', maxTokens: 0 } })).toMatch(/"maxTokens" must be an integer/);
    expect(refused({ c: { provider: 'openai' }, C: { provider: 'openai' } })).toMatch(/differ only in case/);
    const secret = 'sk-live-abcdefghijklmnop123456';
    const message = refused({ c: { provider: 'openai', apiKeyEnv: secret } });
    expect(message).not.toContain(secret);
    expect(refused({ c: { provider: 'openai', apiKey: 'x' } })).toMatch(/"chat\.c\.apiKey" would put a secret in the file/);
  });
});

describe('ChatModels', () => {
  it('reads the chat section of the file Embeddings reads, the first model being the default', () => {
    writeFileSync(join(dir, 'embedding.json'), JSON.stringify({ chat: { first: { provider: 'openai' }, second: { provider: 'openai' } } }));
    const models = ChatModels.open({ dataDir: dir, env: {} });
    expect(models.names).toEqual(['first', 'second']);
    expect(models.resolve(undefined)?.name).toBe('first');
    expect(models.resolve('SECOND')?.name).toBe('second');
    expect(() => models.resolve('third')).toThrow(QuiverError);
    expect(ChatModels.open({ env: {} }).resolve(undefined)).toBeUndefined();
    expect(() => ChatModels.open({ env: {} }).resolve('x')).toThrow(/no chat model is configured/);
  });
});
