/**
 * @module server
 * The process entry point (`npm start`) and the only place that listens on a socket. It reads
 * the config, opens the engine on the data dir, serves the app on HOST:PORT and prints one
 * `Quiver listening on http://HOST:PORT (data: DIR)` line, with the real port when PORT=0 (the
 * e2e tests parse it). On SIGTERM or SIGINT it stops accepting connections, lets requests in
 * flight finish, closes the engine and exits 0, so the database is closed cleanly under
 * `docker stop` and Kubernetes alike. Startup failures print one line and exit 1.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Engine } from '../sql/index.ts';
import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import type { Config } from './config.ts';

/** Requests still running this long after a stop signal are cut off, so shutdown always ends. */
const SHUTDOWN_GRACE_MS = 10_000;

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

let engine: Engine;
try {
  engine = Engine.open({ dataDir: config.dataDir });
} catch (e) {
  fail(`cannot open the database in ${config.dataDir}: ${e instanceof Error ? e.message : String(e)}`);
}

const server = serve(
  { fetch: createApp({ engine, config }).fetch, hostname: config.host, port: config.port },
  (info: AddressInfo) => {
    console.log(`Quiver listening on http://${urlHost(config.host)}:${info.port} (data: ${config.dataDir})`);
  },
);

server.on('error', (e: NodeJS.ErrnoException) => {
  engine.close();
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
    engine.close();
    process.exit(0);
  });
}

process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
