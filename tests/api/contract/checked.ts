/**
 * @module checked
 * `fetch` and `app.request` that check every answer against openapi.yaml before handing it
 * back, so a test file opts in by swapping its transport and keeps its own assertions as they
 * are. A mismatch rejects the call with a ContractError naming what differs.
 *
 * @example
 * ```ts
 * import { checkedFetch as fetch } from './contract/checked.ts';
 * const app = checkedApp(createApp({ engine, config }));
 * ```
 */
import type { Hono } from 'hono';
import { checkResponse } from './check-response.ts';

/** Global `fetch`, with the answer checked against openapi.yaml; also takes a Request, as openapi-fetch passes. */
export async function checkedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init);
  const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
  await checkResponse(method, input instanceof Request ? input.url : input, response);
  return response;
}

/** The part of a Hono app the tests use: `request()` without a socket. */
export interface RequestTarget {
  request(path: string, init?: RequestInit): Promise<Response>;
}

/** `app`, with every `request()` answer checked against openapi.yaml. */
export function checkedApp(app: Hono): RequestTarget {
  return {
    async request(path: string, init?: RequestInit): Promise<Response> {
      const response = await app.request(path, init);
      await checkResponse(init?.method ?? 'GET', path, response);
      return response;
    },
  };
}
