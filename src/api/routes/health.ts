/**
 * @module health
 * `GET /health`: whether this process can serve SQL, for load balancers and orchestrators'
 * readiness probes. It answers from `engine.isOpen` alone and runs no query, so a probe never
 * queues behind user statements.
 */
import { Hono } from 'hono';
import { QuiverError } from '../../core/index.ts';
import type { SqlEngine } from '../app.ts';
import { problemResponse } from '../problem.ts';
import { methodNotAllowed } from './method-not-allowed.ts';

/** Routes for `/health`; HEAD is answered by Hono from the GET handler. */
export function healthRoutes(engine: SqlEngine): Hono {
  return new Hono()
    .get('/health', (c) =>
      engine.isOpen
        ? c.json({ status: 'ok' })
        : problemResponse(new QuiverError('DATABASE_CLOSED', 'the database is not open; this server cannot run SQL')),
    )
    .all('/health', methodNotAllowed(['GET', 'HEAD']));
}
