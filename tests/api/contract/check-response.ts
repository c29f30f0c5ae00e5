/**
 * @module check-response
 * Checks one HTTP answer against openapi.yaml, so the spec cannot drift from the server: the
 * status must be documented for that path and method, the content type must be one the spec
 * lists for that status, the body must match that media type's schema, and required headers
 * must be there. Paths and methods the document does not list are held to its global rules
 * (404 `NotFound`, 405 `MethodNotAllowed` with an `Allow` naming exactly the documented
 * methods), and HEAD to those of GET without a body. A problem+json body must also repeat the
 * HTTP status and have the `type` of its `code`, which a schema cannot say. A `text/event-stream`
 * body must end with `data: [DONE]`, and each event before it must match the schema the media
 * type names in `x-quiver-event-data` (OpenAPI 3.1 has no field for the schema of one event).
 *
 * The body is read from a clone, so the caller's assertions can still read the original.
 *
 * @example
 * ```ts
 * const res = await fetch(`${url}/v1/sql`, { method: 'POST', ... });
 * await checkResponse('POST', `${url}/v1/sql`, res); // throws, naming every mismatch
 * ```
 */
import { describeErrors, documentedMethods, matchPath, pointerOf, resolve, schemaValidator } from './spec.ts';
import type { Node } from './spec.ts';

const PROBLEM_TYPE_BASE = 'https://quiver.dev/errors/';

/** Thrown when an answer does not match the spec; the message lists every mismatch. */
export class ContractError extends Error {
  override name = 'ContractError';
}

/** The expected response object for an exchange, and where in the document it is. */
interface Expected {
  /** How the exchange was matched, for messages: `POST /v1/sql 200`, `(unknown path) 404`. */
  label: string;
  response: Node;
  pointer: string;
}

/** Throws a ContractError unless `response` to `method url` is what openapi.yaml documents. */
export async function checkResponse(method: string, url: string | URL, response: Response): Promise<void> {
  const verb = method.toUpperCase();
  const { pathname } = new URL(url, 'http://localhost');
  const problems: string[] = [];
  const expected = expectedResponse(verb, pathname, response, problems);
  if (expected) {
    checkHeaders(expected, response, problems);
    await checkBody(expected, verb, response, problems);
  }
  if (problems.length > 0) {
    throw new ContractError(`${verb} ${pathname} answered ${response.status}, which openapi.yaml does not allow:\n- ${problems.join('\n- ')}`);
  }
}

function expectedResponse(verb: string, pathname: string, response: Response, problems: string[]): Expected | undefined {
  const template = matchPath(pathname);
  if (template === undefined) {
    return globalResponse('NotFound', 404, `(unknown path ${pathname})`, response, problems);
  }
  const item = resolve(pointerOf(['paths', template])).node;
  // RFC 9110 §9.3.2: HEAD is GET without the body; the document lists GET only.
  const operationKey = verb === 'HEAD' && !('head' in item) ? 'get' : verb.toLowerCase();
  if (!(operationKey in item)) {
    const expected = globalResponse('MethodNotAllowed', 405, `${verb} ${template} (not documented)`, response, problems);
    const allow = (response.headers.get('allow') ?? '').split(',').map((m) => m.trim()).filter(Boolean);
    const documented = documentedMethods(template);
    if (documented.includes('GET') && !documented.includes('HEAD')) documented.push('HEAD');
    if ([...allow].sort().join(', ') !== [...documented].sort().join(', ')) {
      problems.push(`Allow is "${allow.join(', ')}" but ${template} documents ${documented.join(', ')}`);
    }
    return expected;
  }

  const operationPointer = pointerOf(['paths', template, operationKey]);
  const responses = resolve(`${operationPointer}/responses`).node;
  const status = String(response.status);
  const key = [status, `${status[0]}XX`, 'default'].find((k) => k in responses);
  if (key === undefined) {
    problems.push(`status ${status} is not documented for ${verb} ${template}; documented: ${Object.keys(responses).join(', ')}`);
    return undefined;
  }
  const { node, pointer } = resolve(`${operationPointer}/responses/${key}`);
  return { label: `${verb} ${template} ${key}`, response: node, pointer };
}

function globalResponse(name: string, status: number, label: string, response: Response, problems: string[]): Expected {
  if (response.status !== status) problems.push(`${label} must answer ${status} (components.responses.${name})`);
  const { node, pointer } = resolve(pointerOf(['components', 'responses', name]));
  return { label, response: node, pointer };
}

function checkHeaders(expected: Expected, response: Response, problems: string[]): void {
  const headers = (expected.response.headers ?? {}) as Node;
  for (const name of Object.keys(headers)) {
    const { node, pointer } = resolve(`${expected.pointer}/headers/${pointerOf([name]).slice(1)}`);
    const value = response.headers.get(name);
    if (value === null) {
      if (node.required === true) problems.push(`header ${name} is required by ${expected.label}`);
      continue;
    }
    if (node.schema !== undefined) {
      const validate = schemaValidator(`${pointer}/schema`);
      if (!validate(value)) problems.push(`header ${name}: ${describeErrors(validate.errors)}`);
    }
  }
}

async function checkBody(expected: Expected, verb: string, response: Response, problems: string[]): Promise<void> {
  const content = expected.response.content as Node | undefined;
  const text = await response.clone().text();
  const contentType = response.headers.get('content-type');
  if (content === undefined) {
    if (text.length > 0) problems.push(`${expected.label} documents no body, but one came (${contentType ?? 'no content-type'})`);
    return;
  }
  const essence = contentType?.split(';')[0].trim().toLowerCase();
  const mediaKey = essence === undefined ? undefined : mediaTypeKey(Object.keys(content), essence);
  if (mediaKey === undefined) {
    problems.push(`content-type ${contentType ?? '(none)'} is not documented for ${expected.label}; documented: ${Object.keys(content).join(', ')}`);
    return;
  }
  if (verb === 'HEAD') {
    if (text.length > 0) problems.push('a HEAD answer has a body');
    return;
  }
  const mediaPointer = `${expected.pointer}/content/${pointerOf([mediaKey]).slice(1)}`;
  const media = resolve(mediaPointer).node;

  let body: unknown = text;
  if (isJson(essence!)) {
    try {
      body = JSON.parse(text);
    } catch {
      problems.push(`the body is not JSON although the content-type is ${contentType}: ${text.slice(0, 200)}`);
      return;
    }
  }
  if (essence === 'text/event-stream' && media['x-quiver-event-data'] !== undefined) {
    checkEvents(text, `${mediaPointer}/x-quiver-event-data`, problems);
  }
  if (media.schema !== undefined) {
    const validate = schemaValidator(`${mediaPointer}/schema`);
    if (!validate(body)) {
      problems.push(`the body does not match the schema of ${expected.label} ${mediaKey}:\n  ${describeErrors(validate.errors)}\n  body: ${text.slice(0, 500)}`);
    }
  }
  if (essence === 'application/problem+json' && typeof body === 'object' && body !== null) {
    const problem = body as { status?: unknown; type?: unknown; code?: unknown };
    if (problem.status !== response.status) problems.push(`the problem's status ${String(problem.status)} is not the HTTP status ${response.status}`);
    if (problem.type !== PROBLEM_TYPE_BASE + String(problem.code)) problems.push(`the problem's type ${String(problem.type)} is not ${PROBLEM_TYPE_BASE}${String(problem.code)}`);
  }
}

/**
 * The `data` of each server-sent event in `text` (the WHATWG HTML event-stream format), in order; the
 * `data:` lines of one event are joined by line breaks, comments and other fields dropped.
 */
export function parseEventStream(text: string): string[] {
  const events: string[] = [];
  for (const block of text.replace(/\r\n?/g, '\n').split('\n\n')) {
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''));
    if (data.length > 0) events.push(data.join('\n'));
  }
  return events;
}

/** Each event must be JSON matching the schema at `pointer`, and the stream must end with `[DONE]`. */
function checkEvents(text: string, pointer: string, problems: string[]): void {
  const events = parseEventStream(text);
  if (events.at(-1) !== '[DONE]') problems.push('the event stream does not end with data: [DONE]');
  const validate = schemaValidator(pointer);
  events.slice(0, -1).forEach((data, i) => {
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch {
      problems.push(`event ${i} is not JSON: ${data.slice(0, 200)}`);
      return;
    }
    if (!validate(event)) problems.push(`event ${i} does not match ${pointer}:\n  ${describeErrors(validate.errors)}\n  event: ${data.slice(0, 500)}`);
  });
}

/** The documented media type a response's content-type falls under (`text/*`, `*\/*` too). */
function mediaTypeKey(keys: string[], essence: string): string | undefined {
  return keys.find((k) => k.toLowerCase() === essence) ?? keys.find((k) => k === `${essence.split('/')[0]}/*`) ?? keys.find((k) => k === '*/*');
}

function isJson(essence: string): boolean {
  return essence === 'application/json' || essence.endsWith('+json');
}
