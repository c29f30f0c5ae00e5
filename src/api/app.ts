/**
 * @module app
 * Builds Quiver's Hono app from an engine and a config, and never listens: `server.ts` owns
 * the socket, and tests call `app.request()` without one. Each resource lives in its own file
 * under `routes/`; unknown routes and thrown errors all end in `problem.ts`, so every error
 * the API gives has the same problem+json shape. Everything under `/v1/` is behind
 * `authenticate` (auth.ts), so a route added there is closed by default, and so is /metrics;
 * /health, /ready, /openapi.yaml and /docs stay open for probes and people. Every request is
 * logged and counted (observe.ts, metrics.ts), outermost. Under `/v1/` a request is
 * authenticated, then its whole body is received (body.ts, with its size limit and deadline),
 * and only then admitted (admission.ts).
 */
import fs from 'node:fs';
import { Hono } from 'hono';
import { pino, type Logger } from 'pino';
import { ChatModels, ChatService } from '../chat/index.ts';
import { QuiverError } from '../core/index.ts';
import type { Engine } from '../sql/index.ts';
import { authenticate, type Caller } from './auth.ts';
import type { Config } from './config.ts';
import { admission } from './admission.ts';
import { readBody } from './body.ts';
import { Metrics } from './metrics.ts';
import { observe } from './observe.ts';
import { problemResponse } from './problem.ts';
import { docsRoutes } from './routes/docs.ts';
import { chatRoutes } from './routes/chat.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { openapiRoutes } from './routes/openapi.ts';
import { sqlRoutes } from './routes/sql.ts';
import { adminRoutes } from './routes/admin.ts';
import { clusterRoutes } from './routes/cluster.ts';
import { clusterRouting } from './cluster-routing.ts';
import type { ClusterNode } from '../cluster/index.ts';

/** What the API needs of the engine; a structural type so tests can pass a stand-in. */
export type SqlEngine = Pick<Engine, 'execute' | 'isOpen' | 'stats'> & Partial<Pick<Engine, 'describeTable' | 'backup'>>;

export interface AppOptions {
  engine: SqlEngine;
  config: Config;
  /**
   * The chat models /v1/chat generates with; default: the `chat` section of the embedding
   * config file (QUIVER_EMBEDDING_CONFIG or `<dataDir>/embedding.json`), none if absent.
   */
  chatModels?: ChatModels;
  /** Where the request log goes (server.ts passes JSON lines on stdout at QUIVER_LOG_LEVEL); default: nowhere. */
  logger?: Logger;
  /** Cluster mode: this node of the cluster (server.ts); absent for a single node. */
  cluster?: ClusterNode;
}

/** The contract at the repository root; read here, once, not per request. */
const OPENAPI_URL = new URL('../../openapi.yaml', import.meta.url);

/**
 * Builds the app. Startup fails here, not on first request, if openapi.yaml is missing.
 *
 * @example
 * ```ts
 * const app = createApp({ engine: Engine.open({ dataDir }), config: loadConfig() });
 * const res = await app.request('/v1/sql', {
 *   method: 'POST',
 *   headers: { 'content-type': 'application/json' },
 *   body: JSON.stringify({ sql: 'SELECT ? AS n', params: [1] }),
 * });
 * ```
 */
export function createApp({ engine, config, chatModels, logger, cluster }: AppOptions): Hono {
  const openapi = fs.readFileSync(OPENAPI_URL, 'utf8');
  const metrics = new Metrics(() => engine.stats(), cluster && (() => cluster.stats()));
  const models = chatModels ?? ChatModels.open({ dataDir: config.dataDir });
  const describeTable = async (name: string) => {
    if (!engine.describeTable) throw new Error('/v1/chat needs an engine that can describe its tables');
    return engine.describeTable(name);
  };
  // One service per request, whose SQL runs with the caller's role and in its key's share of
  // the engine's queues: chat can do no more than the same key could over /v1/sql.
  const chatFor = (caller: Caller | null) =>
    new ChatService(
      { execute: (sql, params, options) => engine.execute(sql, params, caller === null ? options : { ...options, role: caller.role, client: caller.name }), describeTable },
      models,
    );
  const app = new Hono()
    .use(observe(logger ?? pino({ level: 'silent' }), metrics))
    .use(async (c, next) => {
      // Hono hands only Error instances to onError and rethrows anything else thrown, which
      // would escape as a bare text 500; catch it here so it too gets the problem+json shape.
      try {
        await next();
      } catch (thrown) {
        c.res = problemResponse(thrown, { request: c.req.raw });
      }
    })
    .use('/v1/*', authenticate(config.apiKeys))
    // The whole body first, then a slot: a body trickling in holds its socket and nothing else.
    .use('/v1/*', readBody(config.maxBodyBytes, config.bodyTimeoutMs))
    .use('/v1/*', admission(config.maxConcurrentRequests))
    .use('/metrics', authenticate(config.apiKeys));
  if (cluster && config.cluster) {
    const routing = clusterRouting({
      node: cluster,
      // Cluster mode runs on the real engine (server.ts); only single-node tests pass stand-ins.
      engine: engine as Engine,
      nodeId: config.cluster.nodeId,
      minPositionWaitMs: config.cluster.minPositionWaitMs,
      forwardTimeoutMs: config.limits.statementTimeoutMs + config.cluster.appendTimeoutMs,
      electionWaitMs: config.cluster.appendTimeoutMs,
    });
    app.use('/v1/sql', routing).use('/v1/chat', routing);
  }
  return app
    .route('/', sqlRoutes(engine))
    .route('/', chatRoutes(chatFor))
    .route('/', adminRoutes(engine))
    .route('/', clusterRoutes(cluster))
    .route('/', healthRoutes(engine, cluster))
    .route('/', metricsRoutes(metrics))
    .route('/', openapiRoutes(openapi))
    .route('/', docsRoutes())
    .notFound((c) =>
      problemResponse(new QuiverError('NOT_FOUND', `no resource at ${c.req.path}; the API is described at /openapi.yaml`)),
    )
    .onError((error, c) => problemResponse(error, { request: c.req.raw }));
}
