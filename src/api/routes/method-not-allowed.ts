/**
 * @module method-not-allowed
 * The 405 answer shared by every resource. Hono has no notion of "path exists, method does
 * not", so each route file registers this with `.all(path, ...)` after its real methods; the
 * `Allow` header tells the client which methods the path does take (RFC 9110 §15.5.6).
 */
import type { Handler } from 'hono';
import { QuiverError } from '../../core/index.ts';
import { problemResponse } from '../problem.ts';

/** A handler answering 405 problem+json with `Allow: <allowed>`. */
export function methodNotAllowed(allowed: readonly string[]): Handler {
  const allow = allowed.join(', ');
  return (c) =>
    problemResponse(new QuiverError('METHOD_NOT_ALLOWED', `${c.req.method} is not allowed on ${c.req.path}; use ${allow}`), {
      headers: { allow },
    });
}
