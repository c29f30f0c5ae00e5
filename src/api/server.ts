/**
 * @module server
 * The process entry point (`npm start`) and the only place that listens on a socket. It reads
 * the config, opens the embedding models and the engine on the data dir, serves the app on HOST:PORT and prints one
 * `Quiver listening on http://HOST:PORT (data: DIR)` line, with the real port when PORT=0 (the
 * e2e tests parse it), then one line on auth: the key names and roles, or that auth is off on
 * loopback, or a warning when it is off on a host others can reach (config.ts refuses that
 * without QUIVER_ALLOW_UNAUTHENTICATED). Each remote address may hold
 * QUIVER_MAX_CONNECTIONS_PER_CLIENT connections at once (connections.ts). On SIGTERM or SIGINT it stops accepting connections,
 * lets requests in flight finish, closes the engine and exits 0, so the database is closed cleanly under
 * `docker stop` and Kubernetes alike. Startup failures print one line and exit 1.
 */
import type { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { pino } from 'pino';
import { ClusterNode } from '../cluster/index.ts';
import { Embeddings, LOCAL_MODEL_NAME } from '../embed/index.ts';
import { makePrivateDir } from '../util/index.ts';
import { Engine } from '../sql/index.ts';
import { createApp } from './app.ts';
import { authNotice } from './auth.ts';
import { perClientConnections } from './connections.ts';
import { ConfigError, loadConfig } from './config.ts';
import type { Config } from './config.ts';

/** Requests still running this long after a stop signal are cut off, so shutdown always ends. */
const SHUTDOWN_GRACE_MS = 10_000;
/** How long an idle keep-alive connection stays open, in ms. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

function fail(message: string): never {
  console.error(`quiver: ${message}`);
  process.exit(1);
}

function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
}

/** An IPv6 literal needs brackets in a URL. */
function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

const config = loadConfigOrExit();

/**
 * One JSON line per request on stdout (observe.ts), beside the plain startup lines. Buffered (a
 * write per 4 KiB, and at least every LOG_FLUSH_MS): a write a request cost much of a point
 * query's throughput (figures in BENCHMARKS.md). Flushed at every stop; a SIGKILL loses at most
 * the buffer, and the lines may come after later plain lines.
 */
const LOG_FLUSH_MS = 1000;
const logDestination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
setInterval(() => logDestination.flush(), LOG_FLUSH_MS).unref();

let embeddings: Embeddings;
try {
  embeddings = Embeddings.open({ dataDir: config.dataDir });
} catch (e) {
  fail(`cannot configure embedding models: ${e instanceof Error ? e.message : String(e)}`);
}

// Cluster mode: NATS first, so a node that cannot reach it says so before opening anything.
let cluster: ClusterNode | undefined;
if (config.cluster) {
  try {
    makePrivateDir(config.dataDir);
    cluster = await ClusterNode.connect({ ...config.cluster, dataDir: config.dataDir });
    await cluster.prepareDataDir();
  } catch (e) {
    embeddings.close();
    fail(e instanceof Error ? e.message : String(e));
  }
}

let engine: Engine;
try {
  engine = Engine.open({
    log: cluster,
    dataDir: config.dataDir,
    embeddings,
    index: { flushRows: config.indexFlushRows, flushAgeMs: config.indexFlushAgeMs },
    readWorkers: config.readWorkers,
    searchOnWorkers: config.searchOnWorkers,
    // No statement a client sends runs on the event loop that answers everyone (issue 20).
    writerThread: true,
    synchronous: config.synchronous,
    limits: config.limits,
    diskReserveBytes: config.diskReserveBytes,
  });
} catch (e) {
  embeddings.close();
  fail(`cannot open the database in ${config.dataDir}: ${e instanceof Error ? e.message : String(e)}`);
}

// The writer's thread is up before the first request, which would otherwise wait for it.
await engine.ready().catch((e: unknown) => {
  closeAll();
  fail(`cannot open the database in ${config.dataDir}: ${e instanceof Error ? e.message : String(e)}`);
});

// Cluster mode: joins as a replica, following the log from the data dir's position.
await cluster?.start(engine).catch(async (e: unknown) => {
  await cluster?.stop();
  closeAll();
  fail(`cannot join the cluster: ${e instanceof Error ? e.message : String(e)}`);
});


function closeAll(): void {
  logDestination.flushSync();
  engine.close();
  embeddings.close();
}

/** A clean stop also saves the vector indexes, so the next start need not replay the log. */
async function shutdownAll(): Promise<void> {
  logDestination.flushSync();
  await cluster?.stop();
  await engine.shutdown();
  embeddings.close();
}

const server = serve(
  {
    fetch: createApp({ engine, config, cluster, logger: pino({ level: config.logLevel }, logDestination) }).fetch,
    hostname: config.host,
    port: config.port,
    // Connections past QUIVER_MAX_CONNECTIONS_PER_CLIENT from one address are refused (connections.ts).
    createServer: perClientConnections({ maxPerClient: config.maxConnectionsPerClient, idleMs: config.bodyTimeoutMs }) as typeof createServer,
  },
  (info: AddressInfo) => {
    console.log(`Quiver listening on http://${urlHost(config.host)}:${info.port} (data: ${config.dataDir})`);
    const auth = authNotice(config);
    if (auth.warning) console.error(auth.message);
    else console.log(auth.message);
    // Load the built-in model now rather than on the first EMBEDDING(); the first start
    // converts it once into the user's cache dir, which takes a few seconds.
    const started = performance.now();
    embeddings.warmUp(LOCAL_MODEL_NAME).then(
      () => console.log(`Quiver: built-in embedding model ${LOCAL_MODEL_NAME} ready (${Math.round(performance.now() - started)} ms)`),
      (e: unknown) => console.error(`quiver: built-in embedding model ${LOCAL_MODEL_NAME} unavailable: ${e instanceof Error ? e.message : String(e)}`),
    );
  },
);

// Node closes a keep-alive connection idle for 5 s by default; after a long write blocked the
// event loop, that timer can fire on a connection whose next request has already arrived, and
// the client sees a reset. Idle connections are kept longer; headers must outlast them.
if ('keepAliveTimeout' in server) {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
}

server.on('error', (e: NodeJS.ErrnoException) => {
  closeAll();
  fail(`cannot listen on ${urlHost(config.host)}:${config.port}: ${e.code ?? e.message}`);
});

let stopping = false;
function shutdown(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  console.log(`Quiver: ${signal} received, shutting down`);
  // Force-closing a connection with a request in flight is the last resort, not the plan.
  const force = setTimeout(() => {
    if ('closeAllConnections' in server) server.closeAllConnections();
  }, SHUTDOWN_GRACE_MS);
  force.unref();
  server.close(() => {
    clearTimeout(force);
    shutdownAll().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(`quiver: error while shutting down: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(1);
      },
    );
  });
}

process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
