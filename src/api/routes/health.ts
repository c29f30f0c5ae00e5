/**
 * @module health
 * The probes. `GET /health`: whether this process can serve SQL (liveness), from
 * `engine.isOpen` alone. `GET /ready`: whether it serves every request at full speed now
 * (readiness): the database open, the writer started and no vector index still loading
 * (../../sql notReady) and, in cluster mode, the node caught up with the log, else 503
 * NOT_READY saying what is not. Neither runs a query, so a
 * probe never queues behind user statements.
 */
import { Hono } from 'hono';
import { QuiverError } from '../../core/index.ts';
import { notReady } from '../../sql/index.ts';
import type { ClusterNode } from '../../cluster/index.ts';
import type { SqlEngine } from '../app.ts';
import { problemResponse } from '../problem.ts';
import { methodNotAllowed } from './method-not-allowed.ts';

/** Routes for `/health` and `/ready`; HEAD is answered by Hono from the GET handlers. */
export function healthRoutes(engine: SqlEngine, cluster?: Pick<ClusterNode, 'notReady'>): Hono {
  return new Hono()
    .get('/health', (c) =>
      engine.isOpen
        ? c.json({ status: 'ok' })
        : problemResponse(new QuiverError('DATABASE_CLOSED', 'the database is not open; this server cannot run SQL')),
    )
    .all('/health', methodNotAllowed(['GET', 'HEAD']))
    .get('/ready', (c) => {
      const reasons = notReady(engine.stats());
      const clusterReason = cluster?.notReady();
      if (clusterReason) reasons.push(clusterReason);
      return reasons.length === 0 ? c.json({ status: 'ready' }) : problemResponse(new QuiverError('NOT_READY', `not ready: ${reasons.join('; ')}`));
    })
    .all('/ready', methodNotAllowed(['GET', 'HEAD']));
}
