/** Reading the environment: defaults, overrides, and a clear error for every bad value. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/api/index.ts';

describe('loadConfig', () => {
  it('has safe defaults: loopback only, port 8080, ./data, 16 MiB bodies', () => {
    expect(loadConfig({})).toEqual({
      port: 8080,
      host: '127.0.0.1',
      dataDir: path.resolve('data'),
      maxBodyBytes: 16 * 1024 * 1024,
      bodyTimeoutMs: 10_000,
      maxConnectionsPerClient: 256,
      indexFlushRows: 10_000,
      indexFlushAgeMs: 30_000,
      synchronous: 'FULL',
      diskReserveBytes: 64 * 1024 * 1024,
      readWorkers: 3,
      searchOnWorkers: true,
      limits: { statementTimeoutMs: 30_000, maxStatements: 10_000, maxSqlTokens: 1_000_000, maxRows: 100_000, maxResultBytes: 64 * 1024 * 1024, maxQueuedWrites: 256, maxQueuedReads: 1024, maxQueuedPerClient: 64, maxReadsPerClient: 0, maxEmbeddingTexts: 1_000_000, maxQueuedEmbeddings: 2_000_000 },
      maxConcurrentRequests: 512,
      apiKeys: [],
      allowUnauthenticated: false,
      logLevel: 'info',
    });
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(loadConfig({}))).toBe(true);
  });

  it('reads every variable', () => {
    const env = {
      PORT: '9000',
      HOST: '0.0.0.0',
      QUIVER_DATA_DIR: '/var/lib/quiver',
      QUIVER_MAX_BODY_BYTES: '1024',
      QUIVER_BODY_TIMEOUT_MS: '2500',
      QUIVER_MAX_CONNECTIONS_PER_CLIENT: '16',
      QUIVER_INDEX_FLUSH_ROWS: '500',
      QUIVER_INDEX_FLUSH_AGE_MS: '2000',
      QUIVER_READ_WORKERS: '4',
      QUIVER_SYNCHRONOUS: 'normal',
      QUIVER_DISK_RESERVE_MB: '8',
      QUIVER_STATEMENT_TIMEOUT_MS: '5000',
      QUIVER_MAX_STATEMENTS: '10',
      QUIVER_MAX_SQL_TOKENS: '300',
      QUIVER_MAX_ROWS: '20',
      QUIVER_MAX_RESULT_BYTES: '4096',
      QUIVER_MAX_CONCURRENT_REQUESTS: '30',
      QUIVER_MAX_QUEUED_WRITES: '40',
      QUIVER_MAX_QUEUED_READS: '50',
      QUIVER_MAX_QUEUED_PER_KEY: '8',
      QUIVER_MAX_READS_PER_KEY: '2',
      QUIVER_MAX_EMBEDDING_TEXTS: '60',
      QUIVER_MAX_QUEUED_EMBEDDINGS: '70',
      QUIVER_ALLOW_UNAUTHENTICATED: '1',
      QUIVER_SEARCH_ON_WORKERS: '0',
      QUIVER_LOG_LEVEL: 'DEBUG',
    };
    expect(loadConfig(env)).toEqual({
      port: 9000,
      host: '0.0.0.0',
      dataDir: '/var/lib/quiver',
      maxBodyBytes: 1024,
      bodyTimeoutMs: 2500,
      maxConnectionsPerClient: 16,
      indexFlushRows: 500,
      indexFlushAgeMs: 2000,
      synchronous: 'NORMAL',
      diskReserveBytes: 8 * 1024 * 1024,
      readWorkers: 4,
      searchOnWorkers: false,
      limits: { statementTimeoutMs: 5000, maxStatements: 10, maxSqlTokens: 300, maxRows: 20, maxResultBytes: 4096, maxQueuedWrites: 40, maxQueuedReads: 50, maxQueuedPerClient: 8, maxReadsPerClient: 2, maxEmbeddingTexts: 60, maxQueuedEmbeddings: 70 },
      maxConcurrentRequests: 30,
      apiKeys: [],
      allowUnauthenticated: true,
      logLevel: 'debug',
    });
  });

  it('accepts PORT=0 (any free port) and IPv6 hosts', () => {
    expect(loadConfig({ PORT: '0', HOST: '::1' })).toMatchObject({ port: 0, host: '::1' });
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ PORT: '', HOST: '', QUIVER_DATA_DIR: '', QUIVER_MAX_BODY_BYTES: '' })).toEqual(loadConfig({}));
  });

  it('resolves a relative data dir to an absolute path', () => {
    expect(loadConfig({ QUIVER_DATA_DIR: 'some/dir' }).dataDir).toBe(path.resolve('some/dir'));
  });

  const bad: [Record<string, string>, string][] = [
    [{ PORT: 'http' }, 'PORT="http": expected a whole number from 0 to 65535'],
    [{ PORT: '65536' }, 'PORT="65536": expected a whole number from 0 to 65535'],
    [{ PORT: '-1' }, 'PORT="-1": expected a whole number from 0 to 65535'],
    [{ PORT: '80.5' }, 'PORT="80.5": expected a whole number from 0 to 65535'],
    [{ PORT: ' 80' }, 'PORT=" 80": expected a whole number from 0 to 65535'],
    [{ QUIVER_MAX_BODY_BYTES: '0' }, 'QUIVER_MAX_BODY_BYTES="0": expected a whole number from 1 to 268435456'],
    [{ QUIVER_MAX_BODY_BYTES: '16MiB' }, 'QUIVER_MAX_BODY_BYTES="16MiB": expected a whole number from 1 to 268435456'],
    [{ QUIVER_MAX_BODY_BYTES: '268435457' }, 'QUIVER_MAX_BODY_BYTES="268435457": expected a whole number from 1 to 268435456'],
    [{ HOST: 'local host' }, 'HOST="local host": expected a hostname or IP address such as 127.0.0.1, ::1 or 0.0.0.0'],
    [{ HOST: 'http://x' }, 'HOST="http://x": expected a hostname or IP address such as 127.0.0.1, ::1 or 0.0.0.0'],
    [{ QUIVER_SYNCHRONOUS: 'OFF' }, 'QUIVER_SYNCHRONOUS="OFF": expected FULL or NORMAL'],
    [{ QUIVER_LOG_LEVEL: 'verbose' }, 'QUIVER_LOG_LEVEL="verbose": expected one of trace, debug, info, warn, error, fatal, silent'],
    [{ QUIVER_READ_WORKERS: '65' }, 'QUIVER_READ_WORKERS="65": expected a whole number from 0 to 64'],
    [{ QUIVER_STATEMENT_TIMEOUT_MS: '5' }, 'QUIVER_STATEMENT_TIMEOUT_MS="5": expected a whole number from 10 to 86400000'],
    [{ QUIVER_MAX_ROWS: '0' }, 'QUIVER_MAX_ROWS="0": expected a whole number from 1 to 1000000000'],
    [{ QUIVER_DISK_RESERVE_MB: '64M' }, 'QUIVER_DISK_RESERVE_MB="64M": expected a whole number from 0 to 1048576'],
    [{ QUIVER_BODY_TIMEOUT_MS: '99' }, 'QUIVER_BODY_TIMEOUT_MS="99": expected a whole number from 100 to 3600000'],
    [{ QUIVER_BODY_TIMEOUT_MS: '10s' }, 'QUIVER_BODY_TIMEOUT_MS="10s": expected a whole number from 100 to 3600000'],
    [{ QUIVER_MAX_CONNECTIONS_PER_CLIENT: '0' }, 'QUIVER_MAX_CONNECTIONS_PER_CLIENT="0": expected a whole number from 1 to 1000000'],
  ];
  for (const [env, problem] of bad) {
    it(`refuses ${JSON.stringify(env)}`, () => {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(problem);
    });
  }

  it('names every bad variable at once', () => {
    try {
      loadConfig({ PORT: 'x', HOST: 'a b', QUIVER_MAX_BODY_BYTES: 'y' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).problems).toHaveLength(3);
      expect((e as ConfigError).message).toBe(
        'invalid configuration:\n' +
          '  PORT="x": expected a whole number from 0 to 65535\n' +
          '  QUIVER_MAX_BODY_BYTES="y": expected a whole number from 1 to 268435456\n' +
          '  HOST="a b": expected a hostname or IP address such as 127.0.0.1, ::1 or 0.0.0.0',
      );
    }
  });
});
