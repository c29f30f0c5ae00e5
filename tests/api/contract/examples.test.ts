/**
 * The examples of openapi.yaml are a script, and this runs it: each request example of
 * `/v1/sql`, then of `/v1/chat` (in document order, by media type as listed), goes to the app
 * on an empty database with the built-in embedding model and no chat model, and must get the
 * response example of the same name, under the status and media type that example is listed
 * under. What moves from run to run is not compared: `timeMs`, `timings`, a stream's `id` and
 * `created`. An example marked `x-quiver-compare: columns` (figures such as SHOW INDEX
 * STATUS's lag) is compared by its columns and number of rows.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, loadConfig } from '../../../src/api/index.ts';
import { Embeddings } from '../../../src/embed/index.ts';
import { Engine } from '../../../src/sql/index.ts';
import { parseEventStream } from './check-response.ts';
import { checkedApp } from './checked.ts';
import type { RequestTarget } from './checked.ts';
import { at, pointerOf } from './spec.ts';

interface Example {
  summary?: string;
  value: unknown;
  'x-quiver-compare'?: 'columns';
}

type Content = Record<string, { examples?: Record<string, Example> }>;

interface Operation {
  requestBody: { content: Content };
  responses: Record<string, { content?: Content }>;
}

/** The operations whose examples run, in this order: the chat examples read the SQL examples' tables. */
const PATHS = ['/v1/sql', '/v1/chat'];

const requests = PATHS.flatMap((p) => {
  const operation = at(pointerOf(['paths', p, 'post'])) as Operation;
  return Object.entries(operation.requestBody.content).flatMap(([mediaType, media]) =>
    Object.entries(media.examples ?? {}).map(([name, example]) => ({ path: p, operation, name, mediaType, example })),
  );
});

/** The response examples named `name`, with their status and media type. */
function answersFor(operation: Operation, name: string): { status: number; mediaType: string; example: Example }[] {
  return Object.entries(operation.responses).flatMap(([status, response]) =>
    Object.entries(response.content ?? {}).flatMap(([mediaType, media]) => {
      const example = media.examples?.[name];
      return example ? [{ status: Number(status), mediaType, example }] : [];
    }),
  );
}

/** `value` without the fields that move from run to run. */
function steady(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const { timeMs: _timeMs, timings: _timings, id: _id, created: _created, ...rest } = value as Record<string, unknown>;
  if (typeof rest.quiver === 'object' && rest.quiver !== null) rest.quiver = steady(rest.quiver);
  return rest;
}

function events(text: string): unknown[] {
  return parseEventStream(text).map((data) => (data === '[DONE]' ? data : steady(JSON.parse(data))));
}

function shape(body: unknown): unknown {
  const results = (body as { results: { columns: string[]; rows: unknown[] }[] }).results;
  return results.map((r) => ({ columns: r.columns, rows: r.rows.length }));
}

describe('the examples of openapi.yaml, run in order', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-api-examples-'));
  let embeddings: Embeddings;
  let engine: Engine;
  let app: RequestTarget;
  beforeAll(() => {
    embeddings = Embeddings.open({ dataDir, env: {} });
    engine = Engine.open({ dataDir, embeddings });
    app = checkedApp(createApp({ engine, config: loadConfig({ QUIVER_DATA_DIR: dataDir }) }));
  });
  afterAll(() => {
    engine?.close();
    embeddings?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('pairs every request example with exactly one response example', () => {
    expect(requests.length).toBeGreaterThan(10);
    for (const { path: p, operation, name } of requests) expect(answersFor(operation, name), `${p} ${name}`).toHaveLength(1);
  });

  for (const { path: p, operation, name, mediaType, example } of requests) {
    it(`${p} ${name} (${mediaType})`, async () => {
      const [answer] = answersFor(operation, name);
      const body = typeof example.value === 'string' ? example.value : JSON.stringify(example.value);
      const res = await app.request(p, { method: 'POST', headers: { 'content-type': mediaType }, body });
      const text = await res.text();
      expect(res.status, text).toBe(answer.status);
      expect(res.headers.get('content-type')?.split(';')[0]).toBe(answer.mediaType);
      if (answer.mediaType === 'text/event-stream') {
        expect(events(text)).toEqual(events(answer.example.value as string));
      } else if (answer.example['x-quiver-compare'] === 'columns') {
        expect(shape(JSON.parse(text))).toEqual(shape(answer.example.value));
      } else {
        expect(steady(JSON.parse(text))).toEqual(steady(answer.example.value));
      }
    });
  }
});
