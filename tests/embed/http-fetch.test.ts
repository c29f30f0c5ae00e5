/** The embeddings client's fetch over node:http: what the SDK relies on of a fetch, against real sockets. */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpFetch } from '../../src/embed/providers/http-fetch.ts';

let server: Server;
let base: string;
const routes = new Map<string, (req: IncomingMessage, body: string, res: ServerResponse) => void>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => routes.get(req.url ?? '')?.(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('createHttpFetch', () => {
  const fetchOverHttp = createHttpFetch();

  it('sends method, headers and body, and answers status, every header and the body', async () => {
    routes.set('/echo', (req, body, res) => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.writeHead(201, { 'content-type': 'application/json', 'retry-after': '3' });
      res.end(JSON.stringify({ method: req.method, auth: req.headers.authorization, body }));
    });
    const res = await fetchOverHttp(`${base}/echo`, { method: 'post', headers: { authorization: 'Bearer k' }, body: '{"x":1}' });
    expect(res.status).toBe(201);
    expect(res.ok).toBe(true);
    expect(res.headers.get('retry-after')).toBe('3');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await res.json()).toEqual({ method: 'POST', auth: 'Bearer k', body: '{"x":1}' });
  });

  it('inflates a gzip answer', async () => {
    routes.set('/gzip', (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(JSON.stringify({ data: [1, 2, 3] })));
    });
    const res = await fetchOverHttp(`${base}/gzip`);
    expect(await res.json()).toEqual({ data: [1, 2, 3] });
    expect(res.headers.get('content-encoding')).toBeNull();
  });

  it('rejects an answer cut short, and a request whose signal aborts', async () => {
    routes.set('/cut', (_req, _body, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('{"partial":');
      setTimeout(() => res.destroy(), 20);
    });
    await expect(fetchOverHttp(`${base}/cut`)).rejects.toThrow();
    routes.set('/hang', () => {});
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    await expect(fetchOverHttp(`${base}/hang`, { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });
});
