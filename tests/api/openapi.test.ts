/**
 * Keeps openapi.yaml valid and honest where it restates the code: it is a valid OpenAPI 3.1
 * document (checked by a standard validator), YAML that means what it looks like (no duplicate
 * keys, no key left without a value by a stray comma), clean under Redocly's recommended lint
 * rules, every schema compiles in strict JSON Schema 2020-12, every example anywhere in it
 * matches its schema, the error codes are exactly the catalog's with each listed under its
 * catalog status, and the paths and methods are exactly those the app serves. Every answer the
 * app and end-to-end tests receive is checked against it as well (tests/api/contract/checked.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createConfig, lint, type NormalizedProblem } from '@redocly/openapi-core';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, describe, expect, it } from 'vitest';
import { LineCounter, isNode, isScalar, parseDocument, visit } from 'yaml';
import { createApp, loadConfig } from '../../src/api/index.ts';
import { Engine } from '../../src/sql/index.ts';
import type { ClusterNode } from '../../src/cluster/index.ts';
import { ERROR_TITLES } from '../../src/core/index.ts';
import type { ErrorCode } from '../../src/core/index.ts';
import { parseEventStream } from './contract/check-response.ts';
import { checkedApp } from './contract/checked.ts';
import {
  OPERATION_METHODS,
  SPEC,
  SPEC_PATH,
  SPEC_TEXT,
  at,
  describeErrors,
  documentedMethods,
  documentedPaths,
  pointerOf,
  resolve,
  schemaValidator,
} from './contract/spec.ts';
import type { Node } from './contract/spec.ts';
import { HTTP_STATUS } from '../../src/api/problem.ts';

/** Every operation of the document: path, method and where it is. */
function operations(): { path: string; method: string; pointer: string; operation: Node }[] {
  return documentedPaths().flatMap((p) => {
    const item = resolve(pointerOf(['paths', p])).node;
    return OPERATION_METHODS.filter((m) => m in item).map((method) => {
      const pointer = pointerOf(['paths', p, method]);
      return { path: p, method, pointer, operation: resolve(pointer).node };
    });
  });
}

/** Every response object of the document, operations' and components', resolved. */
function responses(): { label: string; status: string; pointer: string; response: Node }[] {
  const fromOperations = operations().flatMap(({ path: p, method, pointer, operation }) =>
    Object.keys(operation.responses as Node).map((status) => {
      const resolved = resolve(`${pointer}/responses/${status}`);
      return { label: `${method.toUpperCase()} ${p} ${status}`, status, pointer: resolved.pointer, response: resolved.node };
    }),
  );
  // The global answers; other shared responses are checked through the operations that use them.
  const globalStatus: Record<string, string> = { NotFound: '404', MethodNotAllowed: '405', InternalError: '500' };
  const fromComponents = Object.keys(globalStatus).map((name) => ({
    label: `components.responses.${name}`,
    status: globalStatus[name],
    pointer: pointerOf(['components', 'responses', name]),
    response: resolve(pointerOf(['components', 'responses', name])).node,
  }));
  return [...fromOperations, ...fromComponents];
}

/** Every media type object with its pointer: request bodies' and responses'. */
function mediaTypes(): { label: string; pointer: string; media: Node }[] {
  const found: { label: string; pointer: string; media: Node }[] = [];
  const add = (label: string, pointer: string) => {
    const content = (resolve(pointer).node.content ?? {}) as Node;
    for (const type of Object.keys(content)) {
      const mediaPointer = `${resolve(pointer).pointer}/content/${pointerOf([type]).slice(1)}`;
      found.push({ label: `${label} ${type}`, pointer: mediaPointer, media: resolve(mediaPointer).node });
    }
  };
  for (const { path: p, method, pointer, operation } of operations()) {
    if (operation.requestBody) add(`${method.toUpperCase()} ${p} request`, `${pointer}/requestBody`);
  }
  for (const { label, pointer } of responses()) add(label, pointer);
  return found;
}

/**
 * Every object of the document that holds `example` or `examples`, found by walking all of it
 * (not the places examples are expected), so an example put anywhere is seen. The examples'
 * own values are not walked: their keys are data.
 */
function exampleHolders(): { pointer: string; holder: Node }[] {
  const found: { pointer: string; holder: Node }[] = [];
  const walk = (node: unknown, keys: string[]): void => {
    if (typeof node !== 'object' || node === null) return;
    const holds = !Array.isArray(node) && ('example' in node || 'examples' in node);
    if (holds) found.push({ pointer: pointerOf(keys), holder: node as Node });
    for (const [key, child] of Object.entries(node)) {
      if (!(holds && (key === 'example' || key === 'examples'))) walk(child, [...keys, key]);
    }
  };
  walk(SPEC, []);
  return found;
}

/** The problems Redocly's linter finds in openapi.yaml under its recommended rules, examples held strictly. */
async function lintWithRedocly(): Promise<NormalizedProblem[]> {
  const config = await createConfig({
    extends: ['recommended'],
    rules: {
      // Recommended warns; an example that does not match its schema is an error here, and an
      // example may not carry a field its schema does not list even where the schema is open.
      'no-invalid-media-type-examples': { severity: 'error', allowAdditionalProperties: false },
      'no-invalid-parameter-examples': { severity: 'error', allowAdditionalProperties: false },
      'no-invalid-schema-examples': { severity: 'error', allowAdditionalProperties: false },
    },
  });
  return lint({ ref: SPEC_PATH, config });
}

function formatRedoclyProblem(p: NormalizedProblem): string {
  const where = p.location.map((l) => l.pointer ?? '').join(', ');
  return `${p.ruleId} at ${where}: ${p.message}`;
}

/** The codes a problem response can carry, from the `code` enum or const its schema narrows to. */
function problemCodes(response: Node, pointer: string): string[] | undefined {
  const content = response.content as Node | undefined;
  if (!content || !('application/problem+json' in content)) return undefined;
  const schema = resolve(`${pointer}/content/application~1problem+json/schema`).node;
  // Either `allOf: [Problem, {properties: {code: ...}}]` or a schema of its own with `code`.
  const narrowing = ((schema.allOf ?? []) as Node[]).find((s) => s.properties !== undefined) ?? schema;
  const code = (narrowing.properties as Node | undefined)?.code as Node | undefined;
  if (code?.const !== undefined) return [String(code.const)];
  return (code?.enum as string[] | undefined) ?? [];
}

describe('openapi.yaml', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(SPEC_TEXT.startsWith('openapi: 3.1.0\n')).toBe(true);
    const validator = new Validator();
    const result = await validator.validate(structuredClone(SPEC));
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('has schemas that compile in strict JSON Schema 2020-12', () => {
    for (const name of Object.keys(at('/components/schemas') as Node)) {
      expect(() => schemaValidator(pointerOf(['components', 'schemas', name])), name).not.toThrow();
    }
    for (const { label, pointer, media } of mediaTypes()) {
      if (media.schema !== undefined) expect(() => schemaValidator(`${pointer}/schema`), label).not.toThrow();
    }
  });

  it('is YAML that means what it looks like: no duplicate keys, and no key without a value', () => {
    const lines = new LineCounter();
    const document = parseDocument(SPEC_TEXT, { uniqueKeys: true, prettyErrors: true, lineCounter: lines });
    expect([...document.errors, ...document.warnings].map((e) => e.message)).toEqual([]);
    // `{ role: assistant, content: Yes, in five days. }` parses: the comma ends the content, and
    // `in five days.` becomes a key with no value. Nothing in this document is meant that way;
    // a null is written `null`.
    const valueless: string[] = [];
    visit(document, {
      Pair(_, pair) {
        const value = pair.value;
        if (value === null || (isScalar(value) && value.value === null && value.source === '')) {
          const at = isNode(pair.key) && pair.key.range ? lines.linePos(pair.key.range[0]) : undefined;
          valueless.push(`line ${at?.line ?? '?'}: ${String(pair.key)}`);
        }
      },
    });
    expect(valueless, 'keys without a value (an unquoted comma in a { flow: mapping } makes one): quote the value, or write null').toEqual([]);
  });

  it('passes Redocly\'s recommended rules, with every example held to its schema', async () => {
    const problems = await lintWithRedocly();
    const errors = problems.filter((p) => p.severity === 'error');
    expect(errors.map(formatRedoclyProblem), 'Redocly lint errors').toEqual([]);
  });

  it('has examples that match their schemas, wherever in the document they are', () => {
    let checked = 0;
    for (const { pointer, holder } of exampleHolders()) {
      expect(holder.schema, `${pointer} has an example but no schema beside it (examples go on media types, headers and parameters)`).toBeDefined();
      const values: [string, unknown][] = [];
      if ('example' in holder) values.push(['example', holder.example]);
      for (const name of Object.keys((holder.examples ?? {}) as Node)) {
        values.push([name, resolve(`${pointer}/examples${pointerOf([name])}`).node.value]);
      }
      const validate = schemaValidator(`${pointer}/schema`);
      for (const [name, value] of values) {
        expect(validate(value), `${pointer} example ${name}:\n  ${describeErrors(validate.errors)}`).toBe(true);
        checked++;
        if (holder['x-quiver-event-data'] === undefined) continue;
        // A stream's example: each event before [DONE] must match the event schema.
        const events = parseEventStream(value as string);
        expect(events.at(-1), `${pointer} example ${name} ends with [DONE]`).toBe('[DONE]');
        const validateEvent = schemaValidator(`${pointer}/x-quiver-event-data`);
        for (const data of events.slice(0, -1)) {
          expect(validateEvent(JSON.parse(data)), `${pointer} example ${name} event:\n  ${describeErrors(validateEvent.errors)}`).toBe(true);
        }
      }
    }
    // The request and response bodies' examples, and the headers' (Content-Length, Allow, ...).
    expect(checked).toBeGreaterThan(60);
  });

  it('has problem examples whose title and status are the catalog entry of their code', () => {
    for (const { label, media } of mediaTypes()) {
      if (!label.endsWith('application/problem+json')) continue;
      const values = [media.example, ...Object.values((media.examples ?? {}) as Record<string, Node>).map((e) => e.value)];
      for (const value of values.filter((v) => v !== undefined) as { code: ErrorCode; title: string; status: number }[]) {
        const title = ERROR_TITLES[value.code];
        const status = HTTP_STATUS[value.code];
        expect({ title: value.title, status: value.status }, `${label} ${value.code}`).toEqual({ title, status });
        expect(label).toMatch(new RegExp(` ${status}( |$)|components\\.responses`));
      }
    }
  });

  it('has operationIds that are unique and verb_noun', () => {
    const ids = operations().map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z]+(_[a-z]+)+$/);
  });

  it('lists exactly the error codes of the catalog, in order', () => {
    expect((at('/components/schemas/ErrorCode') as Node).enum).toEqual(Object.keys(ERROR_TITLES));
  });

  it('lists each error code under a response of its catalog status, and every code somewhere', () => {
    const documented = new Set<string>();
    for (const { label, status, pointer, response } of responses()) {
      const codes = problemCodes(response, pointer);
      if (codes === undefined) continue;
      expect(codes.length, `${label} narrows the codes it can carry`).toBeGreaterThan(0);
      for (const code of codes) {
        expect(Object.keys(ERROR_TITLES), label).toContain(code);
        expect(String(HTTP_STATUS[code as ErrorCode]), `${label} lists ${code}`).toBe(status);
        documented.add(code);
      }
    }
    expect([...documented].sort()).toEqual(Object.keys(ERROR_TITLES).sort());
  });

  describe('documents exactly the paths and methods the app serves', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-api-openapi-'));
    const engine = Engine.open({ dataDir });
    const config = loadConfig({ QUIVER_DATA_DIR: dataDir });
    // A stand-in cluster node, so that GET /v1/cluster answers (a single node answers it 404)
    // and its 200 is held to the document too; /v1/sql and /v1/chat stay single-node (no
    // config.cluster), as the rest of this file expects.
    const node = {
      nodes: async () => [],
      notReady: () => null,
      stats: () => ({ primary: true, epoch: 1, appliedPosition: 1, logPosition: 1, lagMessages: 0 }),
    } as unknown as ClusterNode;
    const app = checkedApp(createApp({ engine, config, cluster: node }));
    afterAll(() => {
      engine.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it('has the paths', () =>
      expect(documentedPaths()).toEqual(['/v1/sql', '/v1/chat', '/v1/admin/backup', '/v1/cluster', '/health', '/ready', '/metrics', '/openapi.yaml', '/docs']));

    it('answers GET /v1/cluster 404 NOT_FOUND on a single node, as documented', async () => {
      const res = await checkedApp(createApp({ engine, config })).request('/v1/cluster');
      expect(res.status).toBe(404);
      expect(((await res.json()) as { code: string }).code).toBe('NOT_FOUND');
    });

    for (const p of documentedPaths()) {
      it(`${p} exists and takes only ${documentedMethods(p).join(', ')} (and HEAD with GET)`, async () => {
        // The checked app also holds the 405's Allow header to the documented methods.
        expect((await app.request(p, { method: 'OPTIONS' })).status).toBe(405);
        for (const method of documentedMethods(p)) {
          const res = await app.request(p, { method, headers: { 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '{}' });
          expect([404, 405], `${method} ${p}`).not.toContain(res.status);
        }
      });
    }
  });
});
