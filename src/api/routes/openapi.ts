/**
 * @module openapi
 * `GET /openapi.yaml`: the HTTP contract, served as the file at the repository root so what
 * clients download is exactly what the tests check. The text is read once, when the app is
 * built, and passed in; a missing file stops startup instead of failing per request.
 */
import { Hono } from 'hono';
import { methodNotAllowed } from './method-not-allowed.ts';

/** Routes for `/openapi.yaml`, answering with `document` verbatim. */
export function openapiRoutes(document: string): Hono {
  return new Hono()
    .get('/openapi.yaml', (c) => c.body(document, 200, { 'content-type': 'application/yaml' }))
    .all('/openapi.yaml', methodNotAllowed(['GET', 'HEAD']));
}
