/**
 * @module config
 * The server's settings, read from the environment once at startup into a frozen object that
 * is passed to whoever needs it; nothing reads `process.env` after this. Every setting has a
 * safe default, and a bad value stops startup with a message naming the variable, the value
 * and what is expected, all problems at once. An empty variable counts as unset, as in
 * docker-compose files that list every variable.
 *
 * | variable              | default     | meaning                                             |
 * |-----------------------|-------------|-----------------------------------------------------|
 * | PORT                  | 8080        | TCP port; 0 picks a free one (the log line shows it) |
 * | HOST                  | 127.0.0.1   | interface to bind; one that is not loopback needs API keys, or QUIVER_ALLOW_UNAUTHENTICATED |
 * | QUIVER_DATA_DIR       | ./data      | directory of the database file, created if missing  |
 * | QUIVER_MAX_BODY_BYTES | 16777216    | largest accepted request body, in bytes (16 MiB)    |
 * | QUIVER_BODY_TIMEOUT_MS | 10000      | a request body not complete this long after its headers gets 408 and its connection closed |
 * | QUIVER_MAX_CONNECTIONS_PER_CLIENT | 256 | open connections from one remote address; past it a request gets 503 + Retry-After and its connection closed |
 * | QUIVER_INDEX_FLUSH_ROWS | 10000     | rows a vector index's tail holds before a flush builds an HNSW segment |
 * | QUIVER_INDEX_FLUSH_AGE_MS | 30000   | age of the oldest tail row that starts a flush anyway |
 * | QUIVER_SYNCHRONOUS    | FULL        | SQLite durability: FULL survives power loss; NORMAL survives a crash of Quiver only, and commits faster |
 * | QUIVER_DISK_RESERVE_MB | 64         | MiB kept in `<data dir>/quiver.reserve` and given up when the disk fills, so deletes can run (src/sql/exec/disk-space.ts) |
 * | QUIVER_READ_WORKERS   | 3           | threads running SELECT-only requests on their own read connections; 0 runs them on the writer |
 * | QUIVER_SEARCH_ON_WORKERS | 1        | reads' vector index searches run on the read workers; `0` runs them on the engine's thread while planning |
 * | QUIVER_STATEMENT_TIMEOUT_MS | 30000 | a statement running longer is stopped (408); a request's `timeoutMs` may lower it |
 * | QUIVER_MAX_STATEMENTS | 10000       | statements in one request                           |
 * | QUIVER_MAX_SQL_TOKENS | 1000000     | SQL tokens in one request (about a second of parsing on the engine's thread) |
 * | QUIVER_MAX_ROWS       | 100000      | rows one statement may return                       |
 * | QUIVER_MAX_RESULT_BYTES | 67108864  | bytes the results of one request may hold (64 MiB)  |
 * | QUIVER_MAX_CONCURRENT_REQUESTS | 512 | requests in progress at once; more get 503 + Retry-After |
 * | QUIVER_MAX_QUEUED_WRITES | 256      | requests waiting for the writer; more get 503 + Retry-After |
 * | QUIVER_MAX_QUEUED_READS | 1024      | reads waiting for a read worker; more get 503 + Retry-After |
 * | QUIVER_MAX_QUEUED_PER_KEY | 64      | requests one API key may have waiting for the writer, and as many for a read worker; more get 429 + Retry-After |
 * | QUIVER_MAX_READS_PER_KEY | 0         | read workers one API key may hold at once; 0: no cap beyond the one worker always left for keys holding none |
 * | QUIVER_MAX_EMBEDDING_TEXTS | 1000000 | distinct texts one request may send to embedding providers |
 * | QUIVER_MAX_QUEUED_EMBEDDINGS | 2000000 | texts all requests may wait on providers for; more get 503 + Retry-After |
 * | QUIVER_API_KEYS       | (none)      | API keys, comma-separated, each `role:key` or `name:role:key` |
 * | QUIVER_API_KEYS_FILE  | (none)      | JSON file `{"keys": [{"name": "ops", "role": "admin", "key": "..."}]}` (name optional) |
 * | QUIVER_ALLOW_UNAUTHENTICATED | 0    | `1`: serve a non-loopback HOST with no API keys (logged as a warning) |
 * | QUIVER_LOG_LEVEL      | info        | the request log's level (observe.ts): trace, debug (adds each request's SQL text), info, warn, error, fatal or silent |
 * | QUIVER_NATS_URL       | (none)      | cluster mode: NATS servers, comma-separated (`nats://127.0.0.1:14221,...`); unset, a single node |
 * | QUIVER_NODE_ID        | (none)      | cluster mode, required: this node's name, unique in the cluster (letters, digits, `-`, `_`) |
 * | QUIVER_ADVERTISE_URL  | (none)      | cluster mode, required: the URL other nodes reach this node's API at (writes are forwarded to the primary's) |
 * | QUIVER_CLUSTER        | quiver      | cluster mode: the cluster's name; its log is the stream QUIVER_<NAME>_LOG |
 * | QUIVER_LOG_REPLICAS   | 3           | cluster mode: JetStream replicas of the log and the bucket (1 for a single nats-server, 3 or 5) |
 * | QUIVER_LEASE_MS       | 4000        | cluster mode: a primary that has not renewed its lease this long is replaced |
 * | QUIVER_LOG_TIMEOUT_MS | 10000       | cluster mode: a write waits this long for the log (through an election) before 503 |
 * | QUIVER_NATS_CONNECT_TIMEOUT_MS | 30000 | cluster mode: the start waits this long for NATS and its JetStream (through an election), then fails saying why |
 * | QUIVER_SNAPSHOT_EVERY | 10000       | cluster mode: a replica stores a snapshot after this many log entries, then the log is purged up to it (never past a live node); 0 never |
 * | QUIVER_MIN_POSITION_WAIT_MS | 5000  | cluster mode: a read with Quiver-Min-Position waits this long for the node to apply it, then 503 |
 *
 * API keys from both sources add up; a role is `read`, `write` or `admin` (src/sql/check/roles.ts),
 * a key is at least MIN_API_KEY_LENGTH characters of a bearer token (letters, digits and
 * `-._~+/=`). Only each key's SHA-256 digest is kept, so the frozen config can be logged
 * without a secret in it; and no message here quotes a key or any field that may be one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_FLUSH_AGE_MS, DEFAULT_FLUSH_ROWS, MIN_FLUSH_ROWS } from '../index/index.ts';
import { DEFAULT_DISK_RESERVE_BYTES, DEFAULT_LIMITS, DEFAULT_READ_WORKERS, MAX_READ_WORKERS, ROLES } from '../sql/index.ts';
import type { Limits, Role } from '../sql/index.ts';
import { isLoopback, keyDigest } from './auth.ts';

export const DEFAULT_PORT = 8080;
export const MIN_PORT = 0;
export const MAX_PORT = 65535;
/** Loopback only: binding every interface must be a deliberate choice. */
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_DATA_DIR = './data';
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
export const MIN_MAX_BODY_BYTES = 1;
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 512;
/** Long enough for a 16 MiB body at under 2 MB/s; a body trickled slower than that is cut off. */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;
/**
 * Half the requests in progress (QUIVER_MAX_CONCURRENT_REQUESTS): one address cannot hold every
 * socket, yet a client's pool, or a test suite on loopback, has room.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 256;
/** The body is held as bytes and then as a string; V8 caps strings near 512 MiB. */
export const MAX_MAX_BODY_BYTES = 256 * 1024 * 1024;
/** 32 characters is 128 bits as hex (`openssl rand -hex 16`); shorter keys can be guessed offline from a leaked digest. */
export const MIN_API_KEY_LENGTH = 32;
export const MAX_API_KEY_LENGTH = 512;
const MIB = 1024 * 1024;
/** pino's levels, most verbose first; `silent` logs nothing. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** A reserve of a TiB is surely a typo. */
export const MAX_DISK_RESERVE_MB = 1024 * 1024;

/** One configured API key, with the key itself replaced by its digest. */
export interface ApiKey {
  /** For logs; `key#N` (its position across both sources) when the configuration gives none. */
  readonly name: string;
  readonly role: Role;
  /** Hex SHA-256 of the key (auth.ts `keyDigest`). */
  readonly digest: string;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Absolute, so the startup line shows exactly where the data lives. */
  readonly dataDir: string;
  readonly maxBodyBytes: number;
  /** A body not complete this long after the request's headers is refused (body.ts) and its connection closed. */
  readonly bodyTimeoutMs: number;
  /** Open connections from one remote address (connections.ts); past it a request is refused 503 and its connection closed. */
  readonly maxConnectionsPerClient: number;
  readonly indexFlushRows: number;
  readonly indexFlushAgeMs: number;
  readonly readWorkers: number;
  /** Search vector indexes on the read workers (Engine's searchOnWorkers); off by default. */
  readonly searchOnWorkers: boolean;
  readonly synchronous: 'FULL' | 'NORMAL';
  /** Bytes of the data dir's reserve file (Engine's diskReserveBytes). */
  readonly diskReserveBytes: number;
  readonly limits: Readonly<Limits>;
  /** Requests in progress at once (src/api/app.ts); more are answered 503 with Retry-After. */
  readonly maxConcurrentRequests: number;
  /** Empty: auth is off, which config allows only on a loopback HOST or with the opt-in below. */
  readonly apiKeys: readonly ApiKey[];
  /** QUIVER_ALLOW_UNAUTHENTICATED: serve a non-loopback HOST with no keys. */
  readonly allowUnauthenticated: boolean;
  /** QUIVER_LOG_LEVEL: the request log's level. */
  readonly logLevel: LogLevel;
  /** Cluster mode's settings (QUIVER_NATS_URL and the rest); null for a single node. */
  readonly cluster: ClusterSettings | null;
}

/** Cluster mode's settings (src/cluster ClusterConfig, less the data dir). */
export interface ClusterSettings {
  readonly natsUrl: string;
  readonly nodeId: string;
  readonly advertiseUrl: string;
  readonly cluster: string;
  readonly replicas: number;
  readonly leaseMs: number;
  readonly appendTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly minPositionWaitMs: number;
  readonly snapshotEvery: number;
}

/** Thrown by `loadConfig` with one line per bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the settings from `env`; throws ConfigError naming every bad variable. */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value === '' ? undefined : value;
  };

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!(value >= min && value <= max)) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`);
    }
    return value;
  };

  const port = integer('PORT', DEFAULT_PORT, MIN_PORT, MAX_PORT);
  const maxBodyBytes = integer('QUIVER_MAX_BODY_BYTES', DEFAULT_MAX_BODY_BYTES, MIN_MAX_BODY_BYTES, MAX_MAX_BODY_BYTES);
  const bodyTimeoutMs = integer('QUIVER_BODY_TIMEOUT_MS', DEFAULT_BODY_TIMEOUT_MS, 100, 3_600_000);
  const maxConnectionsPerClient = integer('QUIVER_MAX_CONNECTIONS_PER_CLIENT', DEFAULT_MAX_CONNECTIONS_PER_CLIENT, 1, 1_000_000);
  const indexFlushRows = integer('QUIVER_INDEX_FLUSH_ROWS', DEFAULT_FLUSH_ROWS, MIN_FLUSH_ROWS, 10_000_000);
  const indexFlushAgeMs = integer('QUIVER_INDEX_FLUSH_AGE_MS', DEFAULT_FLUSH_AGE_MS, 100, 86_400_000);
  const synchronousRaw = (read('QUIVER_SYNCHRONOUS') ?? 'FULL').toUpperCase();
  if (synchronousRaw !== 'FULL' && synchronousRaw !== 'NORMAL') {
    problems.push(`QUIVER_SYNCHRONOUS=${JSON.stringify(read('QUIVER_SYNCHRONOUS'))}: expected FULL or NORMAL`);
  }
  const synchronous = synchronousRaw === 'NORMAL' ? 'NORMAL' : 'FULL';
  const diskReserveBytes = integer('QUIVER_DISK_RESERVE_MB', DEFAULT_DISK_RESERVE_BYTES / MIB, 0, MAX_DISK_RESERVE_MB) * MIB;
  const readWorkers = integer('QUIVER_READ_WORKERS', DEFAULT_READ_WORKERS, 0, MAX_READ_WORKERS);
  const searchRaw = read('QUIVER_SEARCH_ON_WORKERS');
  if (searchRaw !== undefined && !['0', '1', 'true', 'false'].includes(searchRaw)) {
    problems.push(`QUIVER_SEARCH_ON_WORKERS=${JSON.stringify(searchRaw)}: expected 1 or 0 (true or false)`);
  }
  const searchOnWorkers = searchRaw !== '0' && searchRaw !== 'false';
  const limits: Limits = Object.freeze({
    statementTimeoutMs: integer('QUIVER_STATEMENT_TIMEOUT_MS', DEFAULT_LIMITS.statementTimeoutMs, 10, 86_400_000),
    maxStatements: integer('QUIVER_MAX_STATEMENTS', DEFAULT_LIMITS.maxStatements, 1, 10_000_000),
    maxSqlTokens: integer('QUIVER_MAX_SQL_TOKENS', DEFAULT_LIMITS.maxSqlTokens, 100, 1_000_000_000),
    maxRows: integer('QUIVER_MAX_ROWS', DEFAULT_LIMITS.maxRows, 1, 1_000_000_000),
    maxResultBytes: integer('QUIVER_MAX_RESULT_BYTES', DEFAULT_LIMITS.maxResultBytes, 1024, 1024 ** 3),
    maxQueuedWrites: integer('QUIVER_MAX_QUEUED_WRITES', DEFAULT_LIMITS.maxQueuedWrites, 0, 1_000_000),
    maxQueuedReads: integer('QUIVER_MAX_QUEUED_READS', DEFAULT_LIMITS.maxQueuedReads, 0, 1_000_000),
    maxQueuedPerClient: integer('QUIVER_MAX_QUEUED_PER_KEY', DEFAULT_LIMITS.maxQueuedPerClient, 0, 1_000_000),
    maxReadsPerClient: integer('QUIVER_MAX_READS_PER_KEY', DEFAULT_LIMITS.maxReadsPerClient, 0, MAX_READ_WORKERS),
    maxEmbeddingTexts: integer('QUIVER_MAX_EMBEDDING_TEXTS', DEFAULT_LIMITS.maxEmbeddingTexts, 1, 100_000_000),
    maxQueuedEmbeddings: integer('QUIVER_MAX_QUEUED_EMBEDDINGS', DEFAULT_LIMITS.maxQueuedEmbeddings, 1, 100_000_000),
  });
  const maxConcurrentRequests = integer('QUIVER_MAX_CONCURRENT_REQUESTS', DEFAULT_MAX_CONCURRENT_REQUESTS, 1, 1_000_000);
  const logLevelRaw = (read('QUIVER_LOG_LEVEL') ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevelRaw)) {
    problems.push(`QUIVER_LOG_LEVEL=${JSON.stringify(read('QUIVER_LOG_LEVEL'))}: expected one of ${LOG_LEVELS.join(', ')}`);
  }
  const logLevel = logLevelRaw as LogLevel;

  const host = read('HOST') ?? DEFAULT_HOST;
  // Letters, digits and the punctuation of hostnames and IPv4/IPv6 addresses (with a zone id).
  const hostValid = /^[A-Za-z0-9._:%-]+$/.test(host);
  if (!hostValid) {
    problems.push(`HOST=${JSON.stringify(host)}: expected a hostname or IP address such as 127.0.0.1, ::1 or 0.0.0.0`);
  }

  const dataDir = path.resolve(read('QUIVER_DATA_DIR') ?? DEFAULT_DATA_DIR);

  const keysVar = read('QUIVER_API_KEYS');
  const keysFile = read('QUIVER_API_KEYS_FILE');
  const apiKeys = readApiKeys(keysVar, keysFile, problems);
  const allowRaw = read('QUIVER_ALLOW_UNAUTHENTICATED');
  const allowUnauthenticated = allowRaw === '1' || allowRaw === 'true';
  if (allowRaw !== undefined && !['0', '1', 'true', 'false'].includes(allowRaw)) {
    problems.push(`QUIVER_ALLOW_UNAUTHENTICATED=${JSON.stringify(allowRaw)}: expected 1 or 0 (true or false)`);
  }
  // Checked only when no key variable is set and HOST is valid: otherwise those problems are the ones to fix.
  if (hostValid && keysVar === undefined && keysFile === undefined && !allowUnauthenticated && !isLoopback(host)) {
    problems.push(
      `HOST=${JSON.stringify(host)} is not loopback and no API keys are configured: set QUIVER_API_KEYS or ` +
        'QUIVER_API_KEYS_FILE, or set QUIVER_ALLOW_UNAUTHENTICATED=1 to serve the network with no auth',
    );
  }

  const cluster = readCluster(read, integer, problems);

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    port, host, dataDir, maxBodyBytes, bodyTimeoutMs, maxConnectionsPerClient, indexFlushRows, indexFlushAgeMs, synchronous, diskReserveBytes, readWorkers, searchOnWorkers, limits, maxConcurrentRequests, apiKeys, allowUnauthenticated, logLevel, cluster,
  });
}

/** Cluster mode's settings when QUIVER_NATS_URL is set; null (a single node) otherwise. */
function readCluster(
  read: (name: string) => string | undefined,
  integer: (name: string, fallback: number, min: number, max: number) => number,
  problems: string[],
): ClusterSettings | null {
  const natsUrl = read('QUIVER_NATS_URL');
  if (natsUrl === undefined) {
    for (const name of ['QUIVER_NODE_ID', 'QUIVER_ADVERTISE_URL']) {
      if (read(name) !== undefined) problems.push(`${name} is set but QUIVER_NATS_URL is not: cluster mode needs the NATS servers' URLs`);
    }
    return null;
  }
  if (!natsUrl.split(',').every((u) => /^(nats|tls):\/\/[^\s,]+$/.test(u.trim()))) {
    problems.push(`QUIVER_NATS_URL=${JSON.stringify(natsUrl)}: expected nats:// URLs, comma-separated, such as nats://127.0.0.1:14221,nats://127.0.0.1:14222`);
  }
  const nodeId = read('QUIVER_NODE_ID');
  if (nodeId === undefined || !/^[A-Za-z0-9_-]{1,64}$/.test(nodeId)) {
    problems.push(`QUIVER_NODE_ID=${JSON.stringify(nodeId ?? '')}: cluster mode needs this node's name, unique in the cluster: 1 to 64 letters, digits, - or _`);
  }
  const advertiseUrl = read('QUIVER_ADVERTISE_URL');
  if (advertiseUrl === undefined || !/^https?:\/\/[^\s/]+\/?$/.test(advertiseUrl)) {
    problems.push(`QUIVER_ADVERTISE_URL=${JSON.stringify(advertiseUrl ?? '')}: cluster mode needs the URL other nodes reach this one at, such as http://10.0.0.5:8080`);
  }
  const cluster = read('QUIVER_CLUSTER') ?? 'quiver';
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(cluster)) problems.push(`QUIVER_CLUSTER=${JSON.stringify(cluster)}: expected 1 to 32 letters, digits, - or _`);
  const replicasRaw = read('QUIVER_LOG_REPLICAS');
  const replicas = replicasRaw === undefined ? 3 : Number(replicasRaw);
  if (![1, 3, 5].includes(replicas)) problems.push(`QUIVER_LOG_REPLICAS=${JSON.stringify(replicasRaw)}: expected 1, 3 or 5 (a Raft group of an odd size)`);
  return {
    natsUrl,
    nodeId: nodeId ?? '',
    advertiseUrl: (advertiseUrl ?? '').replace(/\/$/, ''),
    cluster,
    replicas,
    leaseMs: integer('QUIVER_LEASE_MS', 4000, 1000, 600_000),
    appendTimeoutMs: integer('QUIVER_LOG_TIMEOUT_MS', 10_000, 100, 600_000),
    connectTimeoutMs: integer('QUIVER_NATS_CONNECT_TIMEOUT_MS', 30_000, 100, 600_000),
    minPositionWaitMs: integer('QUIVER_MIN_POSITION_WAIT_MS', 5000, 0, 600_000),
    snapshotEvery: integer('QUIVER_SNAPSHOT_EVERY', 10_000, 0, 1_000_000_000),
  };
}

/** A key as written in QUIVER_API_KEYS or the keys file, before checks. */
interface RawKey {
  /** Where it was written, for messages: `QUIVER_API_KEYS entry 2`. */
  where: string;
  name: unknown;
  role: unknown;
  key: unknown;
}

/** Shorter than any key, so a key written where the name goes is refused, never logged as a name. */
export const MAX_API_KEY_NAME_LENGTH = 24;
const KEY_NAME = new RegExp(`^[A-Za-z0-9._-]{1,${MAX_API_KEY_NAME_LENGTH}}$`);
/** RFC 6750 b64token: what may follow `Bearer ` in a header. */
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const KEYS_FILE_SHAPE = '{"keys": [{"name": "...", "role": "read|write|admin", "key": "..."}]}';

/**
 * Both sources' keys, checked, as digests; pushes a problem per bad key. Problems name an
 * entry by its position only, never by a value: with the fields out of order, any of them
 * may be the key.
 */
function readApiKeys(keysVar: string | undefined, keysFile: string | undefined, problems: string[]): ApiKey[] {
  const raw = [...(keysVar === undefined ? [] : keysFromVar(keysVar, problems)), ...(keysFile === undefined ? [] : keysFromFile(keysFile, problems))];
  const keys: ApiKey[] = [];
  const byName = new Map<string, string>();
  const byDigest = new Map<string, string>();
  raw.forEach((entry, i) => {
    // The role is checked first and never shown: a value in the wrong place may be a key.
    if (typeof entry.role !== 'string' || !(ROLES as readonly string[]).includes(entry.role)) {
      problems.push(`${entry.where}: the role must be ${ROLES.join(', ')} (the value is not shown, in case the fields are out of order)`);
      return;
    }
    if (entry.name !== undefined && (typeof entry.name !== 'string' || !KEY_NAME.test(entry.name))) {
      problems.push(`${entry.where}: the name must be 1 to ${MAX_API_KEY_NAME_LENGTH} letters, digits, '.', '_' or '-' (the value is not shown)`);
      return;
    }
    const name = (entry.name as string | undefined) ?? `key#${i + 1}`;
    const where = entry.where;
    if (typeof entry.key !== 'string') {
      problems.push(`${where}: the key must be a string`);
      return;
    }
    if (entry.key.length < MIN_API_KEY_LENGTH || entry.key.length > MAX_API_KEY_LENGTH) {
      problems.push(
        `${where}: the key has ${entry.key.length} characters; expected ${MIN_API_KEY_LENGTH} to ${MAX_API_KEY_LENGTH} ` +
          '(make one with `openssl rand -hex 32`)',
      );
      return;
    }
    if (!BEARER_TOKEN.test(entry.key)) {
      problems.push(`${where}: the key may hold only letters, digits and - . _ ~ + / (and = at the end), as a bearer token does`);
      return;
    }
    const digest = keyDigest(entry.key);
    const sameName = byName.get(name);
    const sameKey = byDigest.get(digest);
    if (sameName !== undefined) problems.push(`${where}: the same name as ${sameName}; every name must be different`);
    else if (sameKey !== undefined) problems.push(`${where}: the same key as ${sameKey}; every key must be different`);
    else {
      byName.set(name, where);
      byDigest.set(digest, where);
      keys.push(Object.freeze({ name, role: entry.role as Role, digest }));
    }
  });
  return keys;
}

/** `role:key` or `name:role:key`, comma-separated; empty entries (a trailing comma) are skipped. */
function keysFromVar(value: string, problems: string[]): RawKey[] {
  const keys: RawKey[] = [];
  value.split(',').forEach((text, i) => {
    const entry = text.trim();
    if (entry === '') return;
    const where = `QUIVER_API_KEYS entry ${i + 1}`;
    const fields = entry.split(':');
    if (fields.length === 2) keys.push({ where, name: undefined, role: fields[0], key: fields[1] });
    else if (fields.length === 3) keys.push({ where, name: fields[0], role: fields[1], key: fields[2] });
    else problems.push(`${where}: expected role:key or name:role:key; got ${fields.length} colon-separated fields (a key may not hold ':' or ',')`);
  });
  return keys;
}

/** The keys of a JSON keys file; its path is named in messages, its content never. */
function keysFromFile(file: string, problems: string[]): RawKey[] {
  const variable = `QUIVER_API_KEYS_FILE=${JSON.stringify(file)}`;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    problems.push(`${variable}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    return [];
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // V8's message quotes the text near the error, which may be a key.
    problems.push(`${variable}: the file is not valid JSON; expected ${KEYS_FILE_SHAPE}`);
    return [];
  }
  const list = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>).keys : undefined;
  if (!Array.isArray(list) || Object.keys(body as object).length !== 1) {
    problems.push(`${variable}: expected ${KEYS_FILE_SHAPE}`);
    return [];
  }
  const keys: RawKey[] = [];
  list.forEach((item: unknown, i) => {
    const where = `QUIVER_API_KEYS_FILE keys[${i}]`;
    const fields = typeof item === 'object' && item !== null && !Array.isArray(item) ? (item as Record<string, unknown>) : undefined;
    if (fields === undefined || Object.keys(fields).some((f) => !['name', 'role', 'key'].includes(f))) {
      problems.push(`${where}: expected an object with "role", "key" and, optionally, "name", and no other field`);
      return;
    }
    keys.push({ where, name: fields.name, role: fields.role, key: fields.key });
  });
  return keys;
}
