/**
 * @module admission
 * Bounds the requests in progress at once, so a flood queues nowhere without limit: past
 * QUIVER_MAX_CONCURRENT_REQUESTS a request is answered 503 OVERLOADED with `Retry-After`.
 * It is mounted after `readBody` (body.ts): a request is admitted once its whole body has
 * arrived, so a client trickling a body holds a socket, never a slot. The engine bounds its own queues (the writer's, the read workers')
 * the same way. A streamed /v1/chat answer counts until its handler returns, not until the
 * last event is sent.
 */
import type { MiddlewareHandler } from 'hono';
import { QuiverError } from '../core/index.ts';

export function admission(maxConcurrent: number): MiddlewareHandler {
  let inFlight = 0;
  return async (_c, next) => {
    if (inFlight >= maxConcurrent) {
      throw new QuiverError('OVERLOADED', `${inFlight} requests are in progress, the most this server takes at once (QUIVER_MAX_CONCURRENT_REQUESTS); retry shortly`, {
        retryAfterSeconds: 1,
      });
    }
    inFlight++;
    try {
      await next();
    } finally {
      inFlight--;
    }
  };
}
