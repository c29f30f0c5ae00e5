/**
 * @module metrics-route
 * `GET /metrics`: the Prometheus exposition (../metrics.ts says what it holds). Behind
 * `authenticate` when keys are configured, with any role: a read key already sees every figure
 * in it through SHOW INDEX STATUS, and a scraper needs no power to write.
 */
import { Hono } from 'hono';
import type { Metrics } from '../metrics.ts';
import { methodNotAllowed } from './method-not-allowed.ts';

/** Routes for `/metrics`; HEAD is answered by Hono from the GET handler. */
export function metricsRoutes(metrics: Metrics): Hono {
  return new Hono()
    .get('/metrics', async (c) => c.body(await metrics.scrape(), 200, { 'content-type': metrics.contentType }))
    .all('/metrics', methodNotAllowed(['GET', 'HEAD']));
}
