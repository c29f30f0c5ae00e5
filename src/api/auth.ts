/**
 * @module auth
 * API keys over HTTP (issue 6, "Auth"): `authenticate` turns `Authorization: Bearer <key>` into
 * a `Caller` (the key's name and role) on the request context, `requireRole` guards a route
 * by role, and `roleOf` hands the role to `engine.execute`, which refuses each statement the
 * role does not allow (src/sql/check/roles.ts). With no keys configured auth is off: the caller is
 * `null` and nothing is checked; config.ts then only lets the server bind loopback, unless
 * the operator opts in. Keys are never held here, only their SHA-256 digests, and a presented
 * key is compared to every digest with `timingSafeEqual`, so neither its length nor which
 * key it resembles shows in the time taken. No key, presented or configured, is ever logged
 * or put in an answer.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { roleAllows } from '../sql/index.ts';
import { QuiverError } from '../core/index.ts';
import type { Role } from '../sql/index.ts';
import type { ApiKey, Config } from './config.ts';

/** Who sent a request: the name and role of the key it carried. */
export interface Caller {
  readonly name: string;
  readonly role: Role;
}

// Hono's way for a middleware to type what it puts on the context (its jwt middleware does the
// same): `c.get('caller')` is then typed in every route, with no env parameter to thread.
declare module 'hono' {
  interface ContextVariableMap {
    /** Set by `authenticate`: the key's caller, or `null` when auth is off. */
    caller: Caller | null;
  }
}

/** The digest config.ts keeps in place of a key: hex SHA-256 of its UTF-8 bytes. */
export function keyDigest(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

const MISSING_KEY = 'this server requires an API key; send Authorization: Bearer <key>';

/**
 * Middleware that sets `caller` from the bearer key, or answers 401 UNAUTHORIZED for a missing,
 * malformed or unknown key. With `keys` empty it lets every request through with caller `null`.
 *
 * @example
 * ```ts
 * app.use('/v1/*', authenticate(config.apiKeys));
 * ```
 */
export function authenticate(keys: readonly ApiKey[]): MiddlewareHandler {
  const ring = keys.map((k) => ({ caller: Object.freeze({ name: k.name, role: k.role }), digest: Buffer.from(k.digest, 'hex') }));
  return async (c, next) => {
    if (ring.length === 0) {
      c.set('caller', null);
      return next();
    }
    const presented = Buffer.from(keyDigest(bearerToken(c.req.header('authorization'))), 'hex');
    let caller: Caller | undefined;
    // Every digest is compared, with no early exit, so the time taken says nothing of which matched.
    for (const entry of ring) {
      if (timingSafeEqual(presented, entry.digest) && caller === undefined) caller = entry.caller;
    }
    if (caller === undefined) {
      throw new QuiverError('UNAUTHORIZED', 'the API key is not one this server knows; send Authorization: Bearer <key> with a configured key');
    }
    c.set('caller', caller);
    await next();
  };
}

/** The token of an `Authorization: Bearer <token>` header (scheme in any case, RFC 9110 §11.1); throws UNAUTHORIZED otherwise. */
function bearerToken(header: string | undefined): string {
  if (header === undefined || header.trim() === '') throw new QuiverError('UNAUTHORIZED', MISSING_KEY);
  const match = /^\s*Bearer(?:\s+(.*))?$/is.exec(header);
  // Whatever else the header holds is not quoted back: it may be a key sent without `Bearer `.
  if (match === null) throw new QuiverError('UNAUTHORIZED', 'expected Authorization: Bearer <key>; the header has another scheme or none');
  const token = (match[1] ?? '').trim();
  if (token === '') throw new QuiverError('UNAUTHORIZED', MISSING_KEY);
  return token;
}

/**
 * The caller `authenticate` set; `null` when auth is off. Throws (a 500, logged) when no
 * `authenticate` ran before this route, so a route mounted outside it fails closed.
 */
export function callerOf(c: Context): Caller | null {
  const caller = c.get('caller') as Caller | null | undefined;
  if (caller === undefined) {
    throw new Error(`${c.req.method} ${c.req.path} is not behind the authenticate middleware; refusing rather than running unchecked`);
  }
  return caller;
}

/** The role to pass to `engine.execute` as `{ role }`: the caller's, or undefined (no check) when auth is off. */
export function roleOf(c: Context): Role | undefined {
  return callerOf(c)?.role;
}

/**
 * Middleware that answers 403 FORBIDDEN, naming the role needed, unless the caller's role
 * includes `needed`. With auth off it lets every request through.
 *
 * @example
 * ```ts
 * new Hono().post('/v1/admin/backup', requireRole('admin'), async (c) => { ... });
 * ```
 */
export function requireRole(needed: Role): MiddlewareHandler {
  return async (c, next) => {
    const caller = callerOf(c);
    if (caller !== null && !roleAllows(caller.role, needed)) {
      throw new QuiverError('FORBIDDEN', `${c.req.method} ${c.req.path} needs the ${needed} role; this key has the ${caller.role} role`);
    }
    await next();
  };
}

/** Whether `host` names this machine only: 127.0.0.0/8, ::1 or localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = /^(?:::ffff:)?127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return v4 !== null && v4.slice(1).every((part) => Number(part) <= 255);
}

/** The startup line about auth, and whether it is a warning (auth off on a non-loopback host). */
export function authNotice(config: Pick<Config, 'apiKeys' | 'host'>): { warning: boolean; message: string } {
  if (config.apiKeys.length > 0) {
    const keys = config.apiKeys.map((k) => `${k.name}: ${k.role}`).join(', ');
    const count = config.apiKeys.length === 1 ? '1 API key' : `${config.apiKeys.length} API keys`;
    return { warning: false, message: `Quiver: auth on, ${count} (${keys}); requests under /v1/ need Authorization: Bearer <key>` };
  }
  if (isLoopback(config.host)) {
    return {
      warning: false,
      message: `Quiver: auth off (no API keys configured); bound to loopback (${config.host}) only, so only this machine can connect`,
    };
  }
  return {
    warning: true,
    message:
      `quiver: WARNING: auth is OFF and HOST=${config.host} serves the network: anyone who can reach this port can read, ` +
      'change and drop every table (QUIVER_ALLOW_UNAUTHENTICATED is set). Configure QUIVER_API_KEYS instead.',
  };
}
