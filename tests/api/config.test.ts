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
      cluster: null,
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
      cluster: null,
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

  describe('cluster mode', () => {
    const cluster = { QUIVER_NATS_URL: 'nats://10.0.0.1:4222,nats://10.0.0.2:4222', QUIVER_NODE_ID: 'q1', QUIVER_ADVERTISE_URL: 'http://10.0.0.5:8080' };

    it('is off (cluster: null) without QUIVER_NATS_URL', () => {
      expect(loadConfig({}).cluster).toBeNull();
      expect(loadConfig({ QUIVER_NATS_URL: '' }).cluster).toBeNull();
    });

    it('reads QUIVER_NATS_URL, QUIVER_NODE_ID and QUIVER_ADVERTISE_URL, with defaults for the rest', () => {
      expect(loadConfig(cluster).cluster).toEqual({
        natsUrl: 'nats://10.0.0.1:4222,nats://10.0.0.2:4222',
        nodeId: 'q1',
        advertiseUrl: 'http://10.0.0.5:8080',
        cluster: 'quiver',
        replicas: 3,
        leaseMs: 4000,
        appendTimeoutMs: 10_000,
        connectTimeoutMs: 30_000,
        minPositionWaitMs: 5000,
        snapshotEvery: 10_000,
      });
    });

    it('reads every cluster variable; a trailing slash of the advertised URL goes', () => {
      const env = {
        ...cluster,
        QUIVER_ADVERTISE_URL: 'https://q1.example:8443/',
        QUIVER_CLUSTER: 'orders-eu',
        QUIVER_LOG_REPLICAS: '1',
        QUIVER_LEASE_MS: '2000',
        QUIVER_LOG_TIMEOUT_MS: '3000',
        QUIVER_NATS_CONNECT_TIMEOUT_MS: '1500',
        QUIVER_MIN_POSITION_WAIT_MS: '0',
        QUIVER_SNAPSHOT_EVERY: '0',
      };
      expect(loadConfig(env).cluster).toEqual({
        natsUrl: 'nats://10.0.0.1:4222,nats://10.0.0.2:4222',
        nodeId: 'q1',
        advertiseUrl: 'https://q1.example:8443',
        cluster: 'orders-eu',
        replicas: 1,
        leaseMs: 2000,
        appendTimeoutMs: 3000,
        connectTimeoutMs: 1500,
        minPositionWaitMs: 0,
        snapshotEvery: 0,
      });
    });

    const badCluster: [Record<string, string>, string][] = [
      [{ QUIVER_NATS_URL: 'nats://10.0.0.1:4222' }, 'QUIVER_NODE_ID="": cluster mode needs this node\'s name, unique in the cluster'],
      [{ QUIVER_NATS_URL: 'nats://10.0.0.1:4222' }, 'QUIVER_ADVERTISE_URL="": cluster mode needs the URL other nodes reach this one at'],
      [{ ...cluster, QUIVER_NODE_ID: 'q 1' }, 'QUIVER_NODE_ID="q 1": cluster mode needs this node\'s name'],
      [{ ...cluster, QUIVER_NODE_ID: 'x'.repeat(65) }, `QUIVER_NODE_ID="${'x'.repeat(65)}": cluster mode needs this node's name`],
      [{ ...cluster, QUIVER_ADVERTISE_URL: '10.0.0.5:8080' }, 'QUIVER_ADVERTISE_URL="10.0.0.5:8080": cluster mode needs the URL other nodes reach this one at'],
      [{ ...cluster, QUIVER_ADVERTISE_URL: 'http://10.0.0.5:8080/quiver' }, 'QUIVER_ADVERTISE_URL="http://10.0.0.5:8080/quiver"'],
      [{ ...cluster, QUIVER_NATS_URL: 'http://10.0.0.1:4222' }, 'QUIVER_NATS_URL="http://10.0.0.1:4222": expected nats:// URLs, comma-separated'],
      [{ ...cluster, QUIVER_NATS_URL: 'nats://a:1,,nats://b:2' }, 'QUIVER_NATS_URL="nats://a:1,,nats://b:2": expected nats:// URLs'],
      [{ ...cluster, QUIVER_LOG_REPLICAS: '2' }, 'QUIVER_LOG_REPLICAS="2": expected 1, 3 or 5'],
      [{ ...cluster, QUIVER_LOG_REPLICAS: '7' }, 'QUIVER_LOG_REPLICAS="7": expected 1, 3 or 5'],
      [{ ...cluster, QUIVER_CLUSTER: 'a.b' }, 'QUIVER_CLUSTER="a.b": expected 1 to 32 letters, digits, - or _'],
      [{ ...cluster, QUIVER_LEASE_MS: '500' }, 'QUIVER_LEASE_MS="500": expected a whole number from 1000 to 600000'],
      [{ ...cluster, QUIVER_LOG_TIMEOUT_MS: '10s' }, 'QUIVER_LOG_TIMEOUT_MS="10s": expected a whole number from 100 to 600000'],
      [{ ...cluster, QUIVER_NATS_CONNECT_TIMEOUT_MS: '0' }, 'QUIVER_NATS_CONNECT_TIMEOUT_MS="0": expected a whole number from 100 to 600000'],
      [{ ...cluster, QUIVER_MIN_POSITION_WAIT_MS: '-1' }, 'QUIVER_MIN_POSITION_WAIT_MS="-1": expected a whole number from 0 to 600000'],
      [{ QUIVER_NODE_ID: 'q1' }, 'QUIVER_NODE_ID is set but QUIVER_NATS_URL is not'],
      [{ QUIVER_ADVERTISE_URL: 'http://10.0.0.5:8080' }, 'QUIVER_ADVERTISE_URL is set but QUIVER_NATS_URL is not'],
    ];
    for (const [env, problem] of badCluster) {
      it(`refuses ${JSON.stringify(env)}`, () => {
        expect(() => loadConfig(env)).toThrow(ConfigError);
        expect(() => loadConfig(env)).toThrow(problem);
      });
    }

    it('names QUIVER_NODE_ID and QUIVER_ADVERTISE_URL both when QUIVER_NATS_URL comes alone', () => {
      try {
        loadConfig({ QUIVER_NATS_URL: 'nats://10.0.0.1:4222' });
        expect.unreachable();
      } catch (e) {
        expect((e as ConfigError).problems.map((p) => p.split('=')[0])).toEqual(['QUIVER_NODE_ID', 'QUIVER_ADVERTISE_URL']);
      }
    });

    // One line per bad variable, naming the value as given (the module's promise), for every value.
    for (const value of ['x', '7', '0']) {
      it(`QUIVER_LOG_REPLICAS=${value}: one problem, quoting the value`, () => {
        try {
          loadConfig({ ...cluster, QUIVER_LOG_REPLICAS: value });
          expect.unreachable();
        } catch (e) {
          const problems = (e as ConfigError).problems;
          expect(problems).toHaveLength(1);
          expect(problems[0]).toContain(`QUIVER_LOG_REPLICAS="${value}"`);
          expect(problems[0]).not.toContain('NaN');
        }
      });
    }
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
