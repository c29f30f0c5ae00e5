/**
 * The NATS cluster harness (tests/cluster/nats-cluster.ts) against real nats-servers:
 * - a 3-node cluster starts and serves an R3 stream; SIGKILLing the server the harness names
 *   as that stream's leader interrupts publishing until the other two elect a new one, no
 *   acked message is lost, and the killed server comes back on its store and catches up;
 * - a paused server answers nothing until resumed;
 * - a server that exits or hangs at startup fails the start with what the servers logged, and
 *   without nats-server on PATH the start fails naming the install command, so the cluster
 *   tests fail rather than skip on a machine that lacks it;
 * - scripts/nats-cluster.ts, whose config format the harness uses, writes the files and prints
 *   the commands with `--write-only`, and exits 1 naming the install command without nats-server.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamClient } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNodeScript } from '../api/server-process.ts';
import { killAllNats, startNatsCluster } from './nats-cluster.ts';
import type { NatsCluster } from './nats-cluster.ts';

const STREAM = 'orders';
const BEFORE_KILL = 200;
const AFTER_KILL = 20;
/** A nats-server 2.9 election after a leader dies takes seconds; publishing must resume within this. */
const RESUME_BUDGET_MS = 20_000;
const ACK_TIMEOUT_MS = 1_000;
const RETRY_PAUSE_MS = 100;

afterAll(killAllNats);

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Publishes until the stream acks or `deadline` passes. While the survivors elect a new leader
 * the publish times out, or finds no responder (nats.js reports that 503 as
 * JetStreamNotEnabled) at once, hence the pause between tries. The message id makes a retry
 * of a publish that was stored after all a duplicate the stream drops, so the count stays exact.
 * Resolves with the number of failed tries.
 */
async function publishUntilAcked(js: JetStreamClient, subject: string, msgID: string, deadline: number): Promise<number> {
  for (let failures = 0; ; failures++) {
    try {
      await js.publish(subject, msgID, { msgID, timeout: ACK_TIMEOUT_MS });
      return failures;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${msgID} not acked within ${RESUME_BUDGET_MS} ms of the leader's death: ${String(e)}`);
      await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
    }
  }
}

describe('a 3-node NATS JetStream cluster on loopback', () => {
  let dir: string;
  let cluster: NatsCluster;
  let nc: NatsConnection;

  beforeAll(async () => {
    dir = tempDir('quiver-nats-cluster-');
    cluster = await startNatsCluster({ dir });
    nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  });

  afterAll(async () => {
    await nc?.close();
    await cluster?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts three servers, each on its own client URL', () => {
    expect(cluster.servers.map((s) => s.name)).toEqual(['n1', 'n2', 'n3']);
    expect(new Set(cluster.urls).size).toBe(3);
    expect(cluster.natsUrl).toBe(cluster.urls.join(','));
    expect(cluster.natsUrl).toMatch(/^nats:\/\/127\.0\.0\.1:\d+(,nats:\/\/127\.0\.0\.1:\d+){2}$/);
  });

  it('keeps every acked message of an R3 stream when its leader is SIGKILLed and restarted', async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: STREAM, subjects: [`${STREAM}.>`], num_replicas: 3 });
    const js = jetstream(nc);
    for (let i = 0; i < BEFORE_KILL; i++) await js.publish(`${STREAM}.new`, `before-${i}`, { msgID: `before-${i}` });
    expect((await jsm.streams.info(STREAM)).state.messages).toBe(BEFORE_KILL);

    const leader = await cluster.streamLeader(STREAM);
    const pid = leader.pid;
    await leader.kill();
    const deadline = Date.now() + RESUME_BUDGET_MS;
    let failures = 0;
    for (let i = 0; i < AFTER_KILL; i++) failures += await publishUntilAcked(js, `${STREAM}.new`, `after-${i}`, deadline);
    // Killing a follower would not have interrupted publishing: the failures show it was the leader.
    expect(failures).toBeGreaterThan(0);

    await leader.start();
    expect(leader.pid).not.toBe(pid);
    const info = await jsm.streams.info(STREAM);
    // Only a leader's answer counts: a replica that knows no leader answers with its own state.
    expect(info.cluster?.leader).toBeDefined();
    expect(info.state.messages).toBe(BEFORE_KILL + AFTER_KILL);
    expect(info.state.last_seq).toBe(BEFORE_KILL + AFTER_KILL);
    // The restarted server is a replica again, and catches up on what it missed.
    expect(info.cluster?.replicas?.map((r) => r.name).sort()).toEqual(cluster.servers.map((s) => s.name).filter((n) => n !== info.cluster?.leader).sort());
    await expect.poll(async () => (await jsm.streams.info(STREAM)).cluster?.replicas?.every((r) => r.current), { timeout: 10_000 }).toBe(true);
  }, 45_000);

  it('pauses a server so it answers nothing until resumed', async () => {
    const server = cluster.servers[0];
    server.pause();
    await expect(fetch(`${server.monitorUrl}/varz`, { signal: AbortSignal.timeout(500) })).rejects.toThrow();
    server.resume();
    expect((await fetch(`${server.monitorUrl}/varz`, { signal: AbortSignal.timeout(2_000) })).status).toBe(200);
  });
});

describe('a cluster that does not come up', () => {
  let dir: string;

  beforeAll(() => {
    dir = tempDir('quiver-nats-fake-');
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Puts a `nats-server` running `script` (sh) first on a PATH of its own, which it returns. */
  function fakeNatsServer(script: string): string {
    const bin = fs.mkdtempSync(path.join(dir, 'bin-'));
    fs.writeFileSync(path.join(bin, 'nats-server'), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    return `${bin}${path.delimiter}${process.env.PATH}`;
  }

  it('fails as soon as a server exits, with what it logged', async () => {
    const PATH = fakeNatsServer('echo "bad config line 7" >&2; exit 1');
    await expect(startNatsCluster({ dir: path.join(dir, 'exits'), env: { PATH } })).rejects.toThrow(/exited while starting[\s\S]*bad config line 7/);
  });

  it('fails after its timeout, with what the servers logged', async () => {
    const PATH = fakeNatsServer('echo "still starting" >&2; exec sleep 60');
    const started = startNatsCluster({ dir: path.join(dir, 'hangs'), env: { PATH }, timeoutMs: 1_000 });
    await expect(started).rejects.toThrow(/not ready within 1000 ms \(n1: no answer[\s\S]*still starting/);
  });
});

describe('without nats-server', () => {
  it('fails naming the install command, not skipping', async () => {
    const empty = tempDir('quiver-no-nats-');
    try {
      await expect(startNatsCluster({ dir: empty, env: { PATH: empty } })).rejects.toThrow('apt-get install -y nats-server');
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('scripts/nats-cluster.ts', () => {
  let dir: string;

  beforeAll(() => {
    dir = tempDir('quiver-nats-script-');
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('--write-only writes one config per server and prints how to start each, and the URLs', async () => {
    const { code, stdout } = await runNodeScript('scripts/nats-cluster.ts', ['--dir', dir, '--size', '3', '--write-only']);
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toEqual([
      ...[1, 2, 3].map((i) => `nats-server -c ${path.join(dir, `n${i}.conf`)}`),
      'QUIVER_NATS_URL=nats://127.0.0.1:14221,nats://127.0.0.1:14222,nats://127.0.0.1:14223',
    ]);
    const n2 = fs.readFileSync(path.join(dir, 'n2.conf'), 'utf8');
    expect(n2).toContain('listen: 127.0.0.1:14222');
    expect(n2).toContain('http: 127.0.0.1:18222');
    expect(n2).toContain(`store_dir: ${JSON.stringify(path.join(dir, 'n2'))}`);
    expect(n2).toContain('listen: 127.0.0.1:16222');
    expect(n2).toMatch(/routes: \[\s*nats-route:\/\/127\.0\.0\.1:16221\s*nats-route:\/\/127\.0\.0\.1:16223\s*\]/);
  });

  it('exits 1 naming the install command when there is no nats-server to run', async () => {
    const { code, stderr } = await runNodeScript('scripts/nats-cluster.ts', ['--dir', dir], { env: { QUIVER_NATS_SERVER: path.join(dir, 'nats-server') } });
    expect(code).toBe(1);
    expect(stderr).toContain('apt-get install -y nats-server');
  });
});
