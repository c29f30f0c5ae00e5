/**
 * @module cluster
 * `GET /v1/cluster`: every live node of the cluster as JSON (role, URL, epoch, applied
 * position, lag), read from the cluster's bucket, so any node answers for all. A single node
 * (no QUIVER_NATS_URL) answers 404 saying so.
 */
import { Hono } from 'hono';
import { QuiverError } from '../../core/index.ts';
import type { ClusterNode } from '../../cluster/index.ts';
import { methodNotAllowed } from './method-not-allowed.ts';

export function clusterRoutes(node: Pick<ClusterNode, 'nodes'> | undefined): Hono {
  return new Hono()
    .get('/v1/cluster', async (c) => {
      if (!node) throw new QuiverError('NOT_FOUND', 'this server runs as a single node (QUIVER_NATS_URL is not set): there is no cluster to show');
      const nodes = await node.nodes().catch((e: unknown) => {
        throw new QuiverError('LOG_UNAVAILABLE', `the cluster's statuses live in NATS, which this node cannot reach now (${e instanceof Error ? e.message : String(e)}); retry shortly`, {
          retryAfterSeconds: 2,
        });
      });
      return c.json({ nodes });
    })
    .all('/v1/cluster', methodNotAllowed(['GET', 'HEAD']));
}
