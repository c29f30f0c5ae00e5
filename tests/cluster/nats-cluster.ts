/**
 * @module nats-cluster
 * Runs real NATS JetStream clusters on loopback for the cluster tests: {@link startNatsCluster}
 * picks free ports, writes the servers' configs with scripts/nats-cluster.ts (the same files
 * users run), starts one nats-server per config and resolves once every server is routed to
 * all the others and names the same JetStream meta leader, since before that the JetStream API
 * answers with errors. Each server can then be killed, restarted on its config and store,
 * paused and resumed, and {@link NatsCluster.streamLeader} says which one leads a stream, so a
 * test can take down exactly the server that matters. Every child started here is remembered
 * until it exits, so a suite's `afterAll(killAllNats)` leaves no server behind even when a test
 * failed half-way. A missing nats-server is an error naming its install command: the cluster
 * tests fail without it, they never skip.
 *
 * @example
 * ```ts
 * afterAll(killAllNats);
 * const cluster = await startNatsCluster({ dir });
 * const nc = await connect({ servers: cluster.urls });
 * await (await cluster.streamLeader('orders')).kill();
 * ```
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { clusterLeader, findNatsServer, monitorViews, writeClusterConfigs } from '../../scripts/nats-cluster.ts';
import type { MonitorView, NatsNodeConfig } from '../../scripts/nats-cluster.ts';

const DEFAULT_SIZE = 3;
const DEFAULT_TIMEOUT_MS = 20_000;
const POLL_MS = 100;

export interface StartNatsClusterOptions {
  /** Where the configs and the JetStream stores go; the caller owns and removes it. */
  dir: string;
  size?: number;
  /** Environment for the servers on top of this process's; its PATH is also where nats-server is looked for. */
  env?: Record<string, string>;
  /** How long starting (and each restart, and finding a stream leader) may take. */
  timeoutMs?: number;
}

export interface NatsServer {
  /** `n1`, `n2`, ...: the name JetStream reports leaders by. */
  name: string;
  /** `nats://127.0.0.1:<port>` */
  url: string;
  /** `http://127.0.0.1:<port>`, the monitoring endpoint. */
  monitorUrl: string;
  /** The process id of the current (or, once killed, the last) process. */
  readonly pid: number;
  /** Whether its process runs (it may be paused). */
  readonly isRunning: boolean;
  /** Everything the server has logged (to stderr) since it was last started. */
  log(): string;
  /** Sends `signal` and resolves once the process has exited; at once if it is not running. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the killed server again on the same config and store, resolving once it is routed back in and knows the meta leader. */
  start(): Promise<void>;
  /** Stops the process (SIGSTOP): it holds its sockets but answers nothing, like a hung machine. */
  pause(): void;
  /** Lets a paused process run again (SIGCONT). */
  resume(): void;
}

export interface NatsCluster {
  /** The servers' client URLs. */
  urls: string[];
  /** The client URLs comma-joined, the form QUIVER_NATS_URL takes. */
  natsUrl: string;
  servers: NatsServer[];
  /** The server that leads `stream`'s Raft group, waiting through an election. */
  streamLeader(stream: string): Promise<NatsServer>;
  /** Kills every server of the cluster. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

/** `count` distinct ports free on loopback: all are bound at once, so none is handed out twice, then released for the servers. */
async function freePorts(count: number): Promise<number[]> {
  const listeners = await Promise.all(Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
    const listener = net.createServer();
    listener.once('error', reject).listen(0, '127.0.0.1', () => resolve(listener));
  })));
  const ports = listeners.map((l) => (l.address() as AddressInfo).port);
  await Promise.all(listeners.map((l) => new Promise((resolve) => l.close(resolve))));
  return ports;
}

/** `/jsz` with stream details, as much of it as finding a stream's leader needs. */
interface StreamsJsz {
  account_details?: { stream_detail?: { name: string; cluster?: { leader?: string } }[] }[];
}

/**
 * The streams the server at `monitorUrl` holds a replica of, each with the leader that server
 * knows for it (undefined while it knows none); undefined when the server does not answer.
 */
async function streamLeaders(monitorUrl: string): Promise<Map<string, string | undefined> | undefined> {
  try {
    const response = await fetch(`${monitorUrl}/jsz?streams=true`, { signal: AbortSignal.timeout(1_000) });
    const jsz = (await response.json()) as StreamsJsz;
    const details = (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []);
    return new Map(details.map((d) => [d.name, d.cluster?.leader || undefined]));
  } catch {
    return undefined;
  }
}

function describeViews(names: readonly string[], views: readonly (MonitorView | Error)[]): string {
  return views
    .map((v, i) => `${names[i]}: ${v instanceof Error ? `no answer (${v.message})` : `meta leader ${v.metaLeader ?? 'none'}, ${v.routes} routes`}`)
    .join('; ');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One nats-server on its config: the process it runs as now, restartable. */
class Server implements NatsServer {
  readonly name: string;
  readonly url: string;
  readonly monitorUrl: string;
  private child!: ChildProcess;
  private exited!: Promise<void>;
  private stderr = '';
  /** Set by pause(), cleared by resume() and by each new process. */
  paused = false;

  constructor(
    private readonly node: NatsNodeConfig,
    private readonly binary: string,
    private readonly env: Record<string, string>,
    private readonly cluster: Cluster,
  ) {
    this.name = node.name;
    this.url = node.url;
    this.monitorUrl = node.monitorUrl;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get isRunning(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  log(): string {
    return this.stderr;
  }

  spawn(): void {
    const child = spawn(this.binary, ['-c', this.node.configFile], { env: { ...process.env, ...this.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    running.add(child);
    this.child = child;
    this.stderr = '';
    this.paused = false;
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => {
      const gone = () => {
        running.delete(child);
        resolve();
      };
      child.once('exit', gone);
      // A process that could not be started emits this instead of 'exit'.
      child.once('error', (e) => {
        this.stderr += `could not start ${this.binary}: ${e.message}\n`;
        gone();
      });
    });
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.isRunning) return;
    this.child.kill(signal);
    // A stopped process acts on a catchable signal only once it runs again.
    if (this.paused) this.resume();
    await this.exited;
  }

  async start(): Promise<void> {
    if (this.isRunning) throw new Error(`${this.name} is already running (pid ${this.pid})`);
    this.spawn();
    await this.cluster.waitUntilReady([this]);
  }

  pause(): void {
    this.child.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    this.child.kill('SIGCONT');
    this.paused = false;
  }
}

class Cluster implements NatsCluster {
  readonly servers: Server[];
  readonly urls: string[];
  readonly natsUrl: string;

  constructor(nodes: readonly NatsNodeConfig[], binary: string, env: Record<string, string>, private readonly timeoutMs: number) {
    this.servers = nodes.map((node) => new Server(node, binary, env, this));
    this.urls = nodes.map((n) => n.url);
    this.natsUrl = this.urls.join(',');
  }

  /** The servers that can answer: running and not paused. */
  private live(): Server[] {
    return this.servers.filter((s) => s.isRunning && !s.paused);
  }

  /**
   * Polls until the live servers are routed to each other and agree on a meta leader, and each
   * of `required` knows a leader for every stream it holds: a replica restarted on its store
   * answers STREAM.INFO with its own stale state while it knows none. Throws with the servers' state
   * and logs after the timeout, or as soon as one of `required` exits.
   */
  async waitUntilReady(required: readonly Server[]): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const exited = required.filter((s) => !s.isRunning);
      if (exited.length > 0) throw new Error(`nats-server ${exited.map((s) => s.name).join(', ')} exited while starting\n${this.logs()}`);
      const live = this.live();
      const views = await monitorViews(live.map((s) => s.monitorUrl));
      const leaderless = await this.leaderlessStreams(required);
      if (clusterLeader(views) !== undefined && leaderless.length === 0) return;
      if (Date.now() > deadline) {
        const state = `${describeViews(live.map((s) => s.name), views)}; streams without a known leader: ${leaderless.join(', ') || 'none'}`;
        throw new Error(`the NATS cluster was not ready within ${this.timeoutMs} ms (${state})\n${this.logs()}`);
      }
      await sleep(POLL_MS);
    }
  }

  /** `server: stream` for each stream one of `servers` holds but knows no leader for, or `server: no answer`. */
  private async leaderlessStreams(servers: readonly Server[]): Promise<string[]> {
    const maps = await Promise.all(servers.map((s) => streamLeaders(s.monitorUrl)));
    return servers.flatMap((s, i) => {
      const streams = maps[i];
      if (streams === undefined) return [`${s.name}: no answer`];
      return [...streams].filter(([, leader]) => leader === undefined).map(([stream]) => `${s.name}: ${stream}`);
    });
  }

  async streamLeader(stream: string): Promise<NatsServer> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const live = this.live();
      const maps = await Promise.all(live.map((s) => streamLeaders(s.monitorUrl)));
      // A server's own word that it leads: a follower's may be stale around an election.
      const leaders = live.filter((s, i) => maps[i]?.get(stream) === s.name);
      // Two servers can both claim a group for a moment around an election; wait for one.
      if (leaders.length === 1) return leaders[0];
      if (Date.now() > deadline) throw new Error(`no single server led stream ${stream} within ${this.timeoutMs} ms (claimed by: ${leaders.map((s) => s.name).join(', ') || 'none'})\n${this.logs()}`);
      await sleep(POLL_MS);
    }
  }

  async stop(): Promise<void> {
    // The stores are the test's to throw away, so there is nothing to flush: SIGKILL is enough.
    await Promise.all(this.servers.map((s) => s.kill('SIGKILL')));
  }

  private logs(): string {
    return this.servers.map((s) => `--- ${s.name} (${s.isRunning ? `pid ${s.pid}` : 'exited'}) stderr:\n${s.log()}`).join('\n');
  }
}

/** Starts a cluster of `size` (default 3) nats-servers in `dir` on free loopback ports; resolves once JetStream is usable on every server. */
export async function startNatsCluster(options: StartNatsClusterOptions): Promise<NatsCluster> {
  const env = options.env ?? {};
  const binary = findNatsServer(env.PATH);
  const size = options.size ?? DEFAULT_SIZE;
  const ports = await freePorts(size * 3);
  const nodes = writeClusterConfigs(
    path.resolve(options.dir),
    Array.from({ length: size }, (_, i) => ({ client: ports[3 * i], cluster: ports[3 * i + 1], http: ports[3 * i + 2] })),
  );
  const cluster = new Cluster(nodes, binary, env, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  cluster.servers.forEach((s) => s.spawn());
  try {
    await cluster.waitUntilReady(cluster.servers);
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}

/** Kills every nats-server this module started that is still running; for `afterAll`. */
export async function killAllNats(): Promise<void> {
  const exits = [...running].map((child) => new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  }));
  await Promise.all(exits);
}
