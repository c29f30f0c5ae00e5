/**
 * /v1/chat on the real server process, on a real port: the chat models come from the `chat`
 * section of the file in QUIVER_EMBEDDING_CONFIG and answer from a real local OpenAI-compatible
 * server; streaming crosses a real socket; a server without a chat model answers extractively
 * with the built-in model; a bad `chat` section stops the server at startup.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllServers, runServerToExit, startServer } from '../api/server-process.ts';
import type { ServerProcess } from '../api/server-process.ts';
import { FakeChatServer, fakeAnswer } from './fake-chat-server.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-chat-e2e-'));
let fake: FakeChatServer;

beforeAll(async () => {
  fake = await FakeChatServer.start({ apiKey: 'test-chat-key-123' });
});

afterAll(async () => {
  await killAllServers();
  await fake?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

const SCHEMA = `
CREATE TABLE docs (
  id INT AUTO_INCREMENT PRIMARY KEY,
  tenant INT,
  doc TEXT,
  vec VECTOR(100) AS (EMBEDDING(doc, 'quiver-local-100d')) STORED,
  FULLTEXT INDEX ft (doc)
);
INSERT INTO docs (tenant, doc) VALUES
  (7, 'HashMatch is a join operator in PolarDB IMCI. It hashes the smaller input.'),
  (7, 'PolarDB IMCI provides built-in vector indexes and embedding services.'),
  (8, 'The puppy chased the ball across the garden.');`;

async function load(server: ServerProcess): Promise<void> {
  const res = await fetch(`${server.url}/v1/sql`, { method: 'POST', headers: { 'content-type': 'application/sql' }, body: SCHEMA });
  expect(res.status, await res.clone().text()).toBe(200);
}

function chat(server: ServerProcess, body: unknown): Promise<Response> {
  return fetch(`${server.url}/v1/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

describe('with a chat model configured', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    const config = path.join(root, 'models.json');
    fs.writeFileSync(config, JSON.stringify({ chat: { 'fake-chat': { provider: 'openai', baseURL: fake.baseURL, apiKeyEnv: 'QUIVER_E2E_CHAT_KEY', maxRetries: 0 } } }));
    server = await startServer({
      dataDir: fs.mkdtempSync(path.join(root, 'data-')),
      env: { QUIVER_EMBEDDING_CONFIG: config, QUIVER_E2E_CHAT_KEY: 'test-chat-key-123' },
    });
    await load(server);
  });
  afterAll(() => server?.stop());

  it('answers with a generated, cited answer and its sources', async () => {
    fake.reset();
    const res = await chat(server, { question: 'What is HashMatch?', table: 'docs', where: 'tenant = :t', params: { t: 7 } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { answer: string; mode: string; sources: { text: string; columns: { tenant: number } }[] };
    expect(body.mode).toBe('generated');
    expect(body.sources[0].text).toMatch(/^HashMatch is a join operator/);
    expect(body.sources.every((s) => s.columns.tenant === 7)).toBe(true);
    expect(body.answer).toBe(fakeAnswer(fake.received[0].messages[0].content));
    // The key came from the environment variable the config names.
    expect(fake.received[0].authorization).toBe('Bearer test-chat-key-123');
  });

  it('streams over a real socket: sources first, then tokens, then [DONE]', async () => {
    fake.reset();
    const res = await chat(server, { question: 'What is HashMatch?', table: 'docs', stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    let firstRead: string | undefined;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      firstRead ??= value;
      text += value;
    }
    // The first bytes on the wire are the sources event.
    expect(firstRead!.startsWith('data: {')).toBe(true);
    expect(JSON.parse(text.split('\n\n')[0].slice(6)).quiver.sources.length).toBeGreaterThan(0);
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const contents = text
      .split('\n\n')
      .filter((b) => b.startsWith('data: {'))
      .map((b) => JSON.parse(b.slice(6)) as { choices: { delta: { content?: string } }[] })
      .map((c) => c.choices[0]?.delta.content ?? '')
      .join('');
    expect(contents).toBe(fakeAnswer(fake.received[0].messages[0].content));
  });

  it('reports a provider failure as 502 with the retrieval', async () => {
    fake.reset();
    fake.answerAll({ kind: 'fail', status: 503, message: 'maintenance' });
    const res = await chat(server, { question: 'What is HashMatch?', table: 'docs' });
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const body = (await res.json()) as { code: string; detail: string; sources: unknown[] };
    expect(body.code).toBe('CHAT_FAILED');
    expect(body.detail).toBe('chat model fake-chat failed with HTTP 503: maintenance');
    expect(body.sources.length).toBeGreaterThan(0);
  });
});

describe('without a chat model (the offline quick start)', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({ dataDir: fs.mkdtempSync(path.join(root, 'data-')) });
    await load(server);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('answers extractively with the built-in model', async () => {
    const res = await chat(server, { question: 'What is HashMatch?', table: 'docs' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { answer: string; mode: string };
    expect(body.mode).toBe('extractive');
    expect(body.answer).toMatch(/^HashMatch is a join operator in PolarDB IMCI \[1\]\./);
  });

  it('refuses a message with a field the contract does not list, naming it', async () => {
    const messages = [
      { role: 'user', content: 'Do you ship to Europe?' },
      { role: 'assistant', content: 'Yes', 'in five business days.': null },
      { role: 'user', content: 'What is HashMatch?' },
    ];
    const res = await chat(server, { messages, table: 'docs' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      code: 'BAD_REQUEST',
      detail: 'unknown field "messages[1].in five business days."; a message takes role and content',
    });
  });
});

describe('a bad chat section', () => {
  it('stops the server at startup, naming the problem and not the key', async () => {
    const config = path.join(root, 'bad.json');
    fs.writeFileSync(config, JSON.stringify({ chat: { c: { provider: 'openai', apiKey: 'sk-live-abcdefghijklmnop' } } }));
    const exit = await runServerToExit({ HOST: '127.0.0.1', PORT: '0', QUIVER_DATA_DIR: fs.mkdtempSync(path.join(root, 'data-')), QUIVER_EMBEDDING_CONFIG: config });
    expect(exit.code).toBe(1);
    expect(exit.stderr).toMatch(/chat\.c\.apiKey" would put a secret in the file/);
    expect(exit.stderr).not.toMatch(/abcdefghijklmnop/);
  });
});
