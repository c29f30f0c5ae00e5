/**
 * The contract checker itself, on answers made by hand: it passes what openapi.yaml documents
 * and names each way an answer can differ (status, content type, body, headers, the global
 * 404/405 rules, HEAD, and the problem's own status and type).
 */
import { describe, expect, it } from 'vitest';
import { checkResponse, ContractError } from './check-response.ts';

const PROBLEM = 'application/problem+json';

function json(body: unknown, status = 200, contentType = 'application/json', headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': contentType, ...headers } });
}

function problem(code: string, status: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: `https://quiver.dev/errors/${code}`, title: 'Some title', status, code, detail: 'what to fix', ...extra };
}

async function mismatch(method: string, url: string, response: Response): Promise<string> {
  const error = await checkResponse(method, url, response).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ContractError);
  return (error as ContractError).message;
}

const ok = { results: [{ columns: ['a'], rows: [[1], [null], ['x'], [[0.5, 1]], [{ $base64: 'AQI=' }]], changes: 0, lastInsertId: null }], timeMs: 0.1 };

describe('checkResponse', () => {
  it('passes documented answers, with the body still readable by the caller', async () => {
    const res = json(ok);
    await checkResponse('POST', 'http://127.0.0.1:1/v1/sql', res);
    expect(await res.json()).toEqual(ok);
    await checkResponse('POST', '/v1/sql', json(problem('SYNTAX_ERROR', 400, { line: 1, column: 2, statementIndex: 0 }), 400, PROBLEM));
    await checkResponse('GET', '/health', json({ status: 'ok' }, 200, 'application/json; charset=UTF-8'));
    await checkResponse('GET', '/openapi.yaml', new Response('openapi: 3.1.0\n', { headers: { 'content-type': 'application/yaml' } }));
    await checkResponse('GET', '/docs', new Response('<!doctype html>', { headers: { 'content-type': 'text/html; charset=UTF-8' } }));
  });

  it('refuses a status the operation does not document', async () => {
    expect(await mismatch('POST', '/v1/sql', json(problem('BAD_REQUEST', 418), 418, PROBLEM))).toMatch(/status 418 is not documented for POST \/v1\/sql/);
  });

  it('refuses a body that does not match the schema', async () => {
    expect(await mismatch('POST', '/v1/sql', json({ results: [] }))).toMatch(/must have required property 'timeMs'/);
    expect(await mismatch('GET', '/health', json({ status: 'ok', extra: 1 }))).toMatch(/must NOT have additional properties/);
    expect(await mismatch('POST', '/v1/sql', json({ ...ok, results: [{ ...ok.results[0], rows: [[{ blob: 1 }]] }] }))).toMatch(/schema/);
  });

  it('refuses a code that the response of that status does not list', async () => {
    expect(await mismatch('POST', '/v1/sql', json(problem('SYNTAX_ERROR', 409), 409, PROBLEM))).toMatch(/must be equal to one of the allowed values/);
  });

  it('refuses a content type the status does not document, and a body that is not JSON', async () => {
    expect(await mismatch('POST', '/v1/sql', json(ok, 200, 'text/plain'))).toMatch(/content-type text\/plain is not documented/);
    expect(await mismatch('POST', '/v1/sql', new Response('{"results":', { headers: { 'content-type': 'application/json' } }))).toMatch(/not JSON/);
  });

  it('holds a problem to its HTTP status and the type of its code', async () => {
    expect(await mismatch('POST', '/v1/sql', json(problem('BAD_REQUEST', 409), 400, PROBLEM))).toMatch(/status 409 is not the HTTP status 400/);
    const wrongType = { ...problem('BAD_REQUEST', 400), type: 'https://quiver.dev/errors/INVALID_JSON' };
    expect(await mismatch('POST', '/v1/sql', json(wrongType, 400, PROBLEM))).toMatch(/type .*INVALID_JSON is not .*BAD_REQUEST/);
  });

  it('holds unknown paths to the global 404', async () => {
    await checkResponse('GET', '/v1/tables', json(problem('NOT_FOUND', 404), 404, PROBLEM));
    expect(await mismatch('GET', '/v1/tables', json({ status: 'ok' }))).toMatch(/must answer 404/);
  });

  it('holds undocumented methods to the global 405 with an Allow of the documented methods', async () => {
    const notAllowed = problem('METHOD_NOT_ALLOWED', 405);
    await checkResponse('GET', '/v1/sql', json(notAllowed, 405, PROBLEM, { allow: 'POST' }));
    await checkResponse('DELETE', '/health', json(notAllowed, 405, PROBLEM, { allow: 'GET, HEAD' }));
    expect(await mismatch('GET', '/v1/sql', json(notAllowed, 405, PROBLEM))).toMatch(/header Allow is required/);
    expect(await mismatch('PUT', '/v1/sql', json(notAllowed, 405, PROBLEM, { allow: 'POST, PUT' }))).toMatch(/Allow is "POST, PUT" but \/v1\/sql documents POST/);
    expect(await mismatch('GET', '/v1/sql', json(ok))).toMatch(/must answer 405/);
  });

  it('holds each event of a stream to the event schema, and the stream to its [DONE]', async () => {
    const chunk = { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }] };
    const sse = (...events: string[]) => new Response(events.map((e) => `data: ${e}\n\n`).join(''), { headers: { 'content-type': 'text/event-stream; charset=utf-8' } });
    await checkResponse('POST', '/v1/chat', sse(JSON.stringify(chunk), '[DONE]'));
    expect(await mismatch('POST', '/v1/chat', sse(JSON.stringify(chunk)))).toMatch(/does not end with data: \[DONE\]/);
    expect(await mismatch('POST', '/v1/chat', sse(JSON.stringify({ ...chunk, object: 'chat.completion' }), '[DONE]'))).toMatch(/event 0 does not match/);
    expect(await mismatch('POST', '/v1/chat', sse('{"id":', '[DONE]'))).toMatch(/event 0 is not JSON/);
  });

  it('holds HEAD to GET without a body', async () => {
    await checkResponse('HEAD', '/health', new Response(null, { headers: { 'content-type': 'application/json' } }));
    expect(await mismatch('HEAD', '/health', json({ status: 'ok' }))).toMatch(/HEAD answer has a body/);
  });
});
