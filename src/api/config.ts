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
 * | HOST                  | 127.0.0.1   | interface to bind; `0.0.0.0` (or `::`) exposes Quiver to the network, which has no auth yet |
 * | QUIVER_DATA_DIR       | ./data      | directory of the database file, created if missing  |
 * | QUIVER_MAX_BODY_BYTES | 16777216    | largest accepted request body, in bytes (16 MiB)    |
 * | QUIVER_INDEX_FLUSH_ROWS | 10000     | rows a vector index's tail holds before a flush builds an HNSW segment |
 * | QUIVER_INDEX_FLUSH_AGE_MS | 30000   | age of the oldest tail row that starts a flush anyway |
 */
import path from 'node:path';
import { DEFAULT_FLUSH_AGE_MS, DEFAULT_FLUSH_ROWS, MIN_FLUSH_ROWS } from '../index/index.ts';

export const DEFAULT_PORT = 8080;
export const MIN_PORT = 0;
export const MAX_PORT = 65535;
/** Loopback only: binding every interface must be a deliberate choice. */
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_DATA_DIR = './data';
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
export const MIN_MAX_BODY_BYTES = 1;
/** The body is held as bytes and then as a string; V8 caps strings near 512 MiB. */
export const MAX_MAX_BODY_BYTES = 256 * 1024 * 1024;

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Absolute, so the startup line shows exactly where the data lives. */
  readonly dataDir: string;
  readonly maxBodyBytes: number;
  readonly indexFlushRows: number;
  readonly indexFlushAgeMs: number;
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
  const indexFlushRows = integer('QUIVER_INDEX_FLUSH_ROWS', DEFAULT_FLUSH_ROWS, MIN_FLUSH_ROWS, 10_000_000);
  const indexFlushAgeMs = integer('QUIVER_INDEX_FLUSH_AGE_MS', DEFAULT_FLUSH_AGE_MS, 100, 86_400_000);

  const host = read('HOST') ?? DEFAULT_HOST;
  // Letters, digits and the punctuation of hostnames and IPv4/IPv6 addresses (with a zone id).
  if (!/^[A-Za-z0-9._:%-]+$/.test(host)) {
    problems.push(`HOST=${JSON.stringify(host)}: expected a hostname or IP address such as 127.0.0.1, ::1 or 0.0.0.0`);
  }

  const dataDir = path.resolve(read('QUIVER_DATA_DIR') ?? DEFAULT_DATA_DIR);

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ port, host, dataDir, maxBodyBytes, indexFlushRows, indexFlushAgeMs });
}
