/**
 * @module connections
 * Bounds the connections open at once from one remote address (QUIVER_MAX_CONNECTIONS_PER_CLIENT),
 * so one client opening sockets without end, or trickling bodies on hundreds of them, runs out
 * of its own share and not of the server's. A connection past the bound is accepted only to be
 * refused: its first request is answered 503 OVERLOADED with `Retry-After` and `Connection:
 * close` without reaching the app (nothing runs, its body is never read), and a connection that
 * sends no request is closed after `idleMs`. The server's other settings are untouched; this
 * only wraps how @hono/node-server creates it (server.ts).
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { QuiverError } from '../core/index.ts';
import { PROBLEM_CONTENT_TYPE, toProblem } from './problem.ts';

type Listener = (request: http.IncomingMessage, response: http.ServerResponse) => void;

export interface PerClientOptions {
  /** Open connections one remote address may hold; the next one is refused. */
  maxPerClient: number;
  /** How long a refused connection may stay open without sending a request, in ms. */
  idleMs: number;
}

/**
 * A `createServer` for @hono/node-server's `serve` that counts each remote address's open
 * connections and refuses those past the bound.
 */
export function perClientConnections({ maxPerClient, idleMs }: PerClientOptions) {
  const open = new Map<string, number>();
  const refused = new WeakSet<Socket>();

  function onConnection(socket: Socket): void {
    // A socket closed before it was accepted has no address; it is gone anyway.
    const address = socket.remoteAddress;
    if (address === undefined) return;
    const count = (open.get(address) ?? 0) + 1;
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left === 0) open.delete(address);
      else open.set(address, left);
    });
    if (count > maxPerClient) {
      refused.add(socket);
      setTimeout(() => socket.destroy(), idleMs).unref();
    }
  }

  function refuse(response: http.ServerResponse): void {
    const problem = toProblem(
      new QuiverError(
        'OVERLOADED',
        `this client already has ${maxPerClient} connections open, the most one address may hold (QUIVER_MAX_CONNECTIONS_PER_CLIENT); reuse a connection or retry shortly`,
      ),
    );
    response.writeHead(problem.status, { 'content-type': PROBLEM_CONTENT_TYPE, 'retry-after': '1', connection: 'close' });
    response.end(JSON.stringify(problem));
  }

  return function createServer(options: http.ServerOptions, listener: Listener): http.Server {
    const server = http.createServer(options, (request, response) => {
      if (refused.has(request.socket)) refuse(response);
      else listener(request, response);
    });
    server.on('connection', onConnection);
    return server;
  };
}
