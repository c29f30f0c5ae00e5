/**
 * @module scripts/nats-cluster
 * `node --import tsx scripts/nats-cluster.ts --dir DIR [--size 3] [--port 14221] [--cluster-port 16221] [--http-port 18221] [--write-only]`
 *
 * Runs a NATS JetStream cluster on loopback for Quiver to use: writes one config file per
 * server (`DIR/n1.conf`, `DIR/n2.conf`, ...; server I listens for clients on `--port`+I-1, for
 * its routes on `--cluster-port`+I-1 and for monitoring on `--http-port`+I-1, keeps its
 * JetStream store in `DIR/nI` and routes to every other server), starts every server as a child
 * in the foreground with its log lines prefixed by its name, and once the servers agree on a
 * JetStream meta leader prints one line, `QUIVER_NATS_URL=nats://127.0.0.1:14221,...`, the
 * client URLs in the form Quiver's QUIVER_NATS_URL takes. SIGINT or SIGTERM stops them all.
 * `--write-only` writes the configs and prints the commands that start each server instead.
 * `--size` is at least 2 (nats-server runs JetStream clustered only with a route to another
 * server); R3 streams need 3. A DIR kept from an earlier run keeps its streams.
 *
 * The config format lives here only: the test harness (tests/cluster/nats-cluster.ts) writes
 * its clusters with {@link writeClusterConfigs} and waits for them with {@link clusterLeader},
 * so what the tests prove is what users run. Exits 0 when stopped by a signal, 1 on failure
 * (nats-server missing, a server exiting on its own, no meta leader in time), 2 on bad usage.
 * QUIVER_NATS_SERVER names the nats-server binary when it is not on PATH (nor in /usr/sbin).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const USAGE = 'usage: node --import tsx scripts/nats-cluster.ts --dir DIR [--size 3] [--port 14221] [--cluster-port 16221] [--http-port 18221] [--write-only]';
const CLUSTER_NAME = 'quiver';
const NATS_INSTALL_HINT = 'nats-server is not on PATH: install it with `apt-get install -y nats-server` (macOS: `brew install nats-server`)';
const READY_TIMEOUT_MS = 30_000;
const POLL_MS = 200;
/** A monitoring request that takes longer belongs to a stopped or paused server. */
const MONITOR_TIMEOUT_MS = 1_000;

/** The loopback ports one server listens on. */
export interface NatsNodePorts {
  client: number;
  cluster: number;
  http: number;
}

/** One server of a cluster as its config file describes it. */
export interface NatsNodeConfig {
  /** `n1`, `n2`, ...: the config's server_name, which JetStream reports leaders by. */
  name: string;
  configFile: string;
  storeDir: string;
  ports: NatsNodePorts;
  /** `nats://127.0.0.1:<client port>` */
  url: string;
  /** `http://127.0.0.1:<http port>`, the monitoring endpoint. */
  monitorUrl: string;
}

/** What one server's monitoring endpoint says about the cluster. */
export interface MonitorView {
  /** The JetStream meta leader's server name; undefined while it knows none. */
  metaLeader: string | undefined;
  routes: number;
}

class UsageError extends Error {}

/** `size` servers' ports counting up from `base`: the CLI's layout, easy to remember and to firewall. */
function consecutivePorts(size: number, base: NatsNodePorts): NatsNodePorts[] {
  return Array.from({ length: size }, (_, i) => ({ client: base.client + i, cluster: base.cluster + i, http: base.http + i }));
}

/** The config file of the server at `index` of `nodes`. */
function configText(nodes: readonly NatsNodeConfig[], index: number): string {
  const node = nodes[index];
  const routes = nodes.filter((_, i) => i !== index).map((other) => `    nats-route://127.0.0.1:${other.ports.cluster}`);
  return [
    `server_name: ${node.name}`,
    `listen: 127.0.0.1:${node.ports.client}`,
    `http: 127.0.0.1:${node.ports.http}`,
    'jetstream {',
    `  store_dir: ${JSON.stringify(node.storeDir)}`,
    '}',
    'cluster {',
    `  name: ${CLUSTER_NAME}`,
    `  listen: 127.0.0.1:${node.ports.cluster}`,
    '  routes: [',
    ...routes,
    '  ]',
    '}',
    '',
  ].join('\n');
}

/**
 * Writes `n1.conf`, `n2.conf`, ... into `dir` (created if missing), one per entry of `ports`,
 * each server routed to all the others. Paths in the files are absolute, so a server can be
 * started from any directory.
 */
export function writeClusterConfigs(dir: string, ports: readonly NatsNodePorts[]): NatsNodeConfig[] {
  const root = path.resolve(dir);
  fs.mkdirSync(root, { recursive: true });
  const nodes = ports.map((p, i): NatsNodeConfig => ({
    name: `n${i + 1}`,
    configFile: path.join(root, `n${i + 1}.conf`),
    storeDir: path.join(root, `n${i + 1}`),
    ports: p,
    url: `nats://127.0.0.1:${p.client}`,
    monitorUrl: `http://127.0.0.1:${p.http}`,
  }));
  nodes.forEach((node, i) => fs.writeFileSync(node.configFile, configText(nodes, i)));
  return nodes;
}

/**
 * The nats-server executable: QUIVER_NATS_SERVER when set (a path), else the first on
 * `searchPath` (a PATH value; by default PATH and the sbin directories, where Debian puts
 * nats-server and which a user's PATH often lacks). Throws naming the install command when
 * there is none.
 */
export function findNatsServer(searchPath = [process.env.PATH ?? '', '/usr/sbin', '/usr/local/sbin'].join(path.delimiter)): string {
  const explicit = process.env.QUIVER_NATS_SERVER;
  const candidates = explicit ? [explicit] : searchPath.split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'nats-server'));
  for (const candidate of candidates) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not there
    }
  }
  throw new Error(explicit ? `QUIVER_NATS_SERVER=${explicit} is not an executable file; ${NATS_INSTALL_HINT}` : NATS_INSTALL_HINT);
}

async function monitorJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(MONITOR_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return response.json();
}

/** Asks one server's monitoring endpoint (`/jsz`, `/routez`) for its meta leader and routes; throws when it does not answer. */
async function monitorView(monitorUrl: string): Promise<MonitorView> {
  const [jsz, routez] = await Promise.all([monitorJson(`${monitorUrl}/jsz`), monitorJson(`${monitorUrl}/routez`)]);
  const leader = (jsz as { meta_cluster?: { leader?: string } }).meta_cluster?.leader;
  return { metaLeader: leader || undefined, routes: (routez as { num_routes: number }).num_routes };
}

/**
 * The JetStream meta leader when every one of `views` (one per server, an Error for one that
 * did not answer) names the same one and is routed to all the others; undefined until then.
 * A leader known to some servers only is not enough: a server that has not heard of it yet
 * answers JetStream API requests with errors.
 */
export function clusterLeader(views: readonly (MonitorView | Error)[]): string | undefined {
  const leaders = new Set(views.map((v) => (v instanceof Error ? undefined : v.metaLeader)));
  const routed = views.every((v) => !(v instanceof Error) && v.routes >= views.length - 1);
  const [leader] = leaders;
  return leaders.size === 1 && routed ? leader : undefined;
}

/** Every server's view, an Error in place of one that did not answer. */
export function monitorViews(monitorUrls: readonly string[]): Promise<(MonitorView | Error)[]> {
  return Promise.all(monitorUrls.map((url) => monitorView(url).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))));
}

function parsePort(flag: string, value: string, size: number): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port + size - 1 > 65535) throw new UsageError(`--${flag} must be a port with room for ${size} servers above it (got ${value})`);
  return port;
}

function parseFlags() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        dir: { type: 'string' },
        size: { type: 'string', default: '3' },
        port: { type: 'string', default: '14221' },
        'cluster-port': { type: 'string', default: '16221' },
        'http-port': { type: 'string', default: '18221' },
        'write-only': { type: 'boolean', default: false },
      },
    }));
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  if (!values.dir) throw new UsageError('--dir DIR is required');
  const size = Number(values.size);
  // A cluster block without routes stops nats-server at startup ("JetStream cluster requires configured routes").
  if (!Number.isInteger(size) || size < 2) throw new UsageError(`--size must be a whole number of servers, at least 2 (got ${values.size})`);
  const base = {
    client: parsePort('port', values.port, size),
    cluster: parsePort('cluster-port', values['cluster-port'], size),
    http: parsePort('http-port', values['http-port'], size),
  };
  return { dir: values.dir, ports: consecutivePorts(size, base), writeOnly: values['write-only'] };
}

/** Starts one server with its log lines (nats-server logs to stderr) prefixed by its name on this process's stderr. */
function spawnNode(binary: string, node: NatsNodeConfig): ChildProcess {
  const child = spawn(binary, ['-c', node.configFile], { stdio: ['ignore', 'inherit', 'pipe'] });
  createInterface({ input: child.stderr! }).on('line', (line) => process.stderr.write(`${node.name} | ${line}\n`));
  return child;
}

/** Resolves once every child has exited, after sending each one still running `signal`. */
async function stopAll(children: readonly ChildProcess[], signal: NodeJS.Signals): Promise<void> {
  await Promise.all(children.map((child) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  })));
}

/** Polls the servers until they agree on a meta leader; throws after READY_TIMEOUT_MS. */
async function waitForLeader(nodes: readonly NatsNodeConfig[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (clusterLeader(await monitorViews(nodes.map((n) => n.monitorUrl))) === undefined) {
    if (Date.now() > deadline) throw new Error(`the servers did not agree on a JetStream meta leader within ${READY_TIMEOUT_MS / 1000} s (their logs are above)`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Runs the cluster until a signal, or until a server exits on its own (then stops the rest and fails). */
function runCluster(nodes: readonly NatsNodeConfig[]): Promise<number> {
  const binary = findNatsServer();
  const children = nodes.map((node) => spawnNode(binary, node));
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string, code: number) => {
      if (stopping) return;
      stopping = true;
      console.error(`nats-cluster: ${why}, stopping ${nodes.length} servers`);
      void stopAll(children, 'SIGTERM').then(() => resolve(code));
    };
    process.once('SIGINT', (signal) => stop(signal, 0)).once('SIGTERM', (signal) => stop(signal, 0));
    children.forEach((child, i) => {
      child.once('exit', (code, signal) => stop(`${nodes[i].name} exited on its own (${signal ?? `code ${code}`})`, 1));
      child.once('error', (e) => stop(`${nodes[i].name} could not be started: ${e.message}`, 1));
    });
    waitForLeader(nodes).then(
      () => {
        if (!stopping) console.log(`QUIVER_NATS_URL=${nodes.map((n) => n.url).join(',')}`);
      },
      (e: unknown) => stop(e instanceof Error ? e.message : String(e), 1),
    );
  });
}

async function main(): Promise<number> {
  const { dir, ports, writeOnly } = parseFlags();
  const nodes = writeClusterConfigs(dir, ports);
  if (!writeOnly) return runCluster(nodes);
  for (const node of nodes) console.log(`nats-server -c ${node.configFile}`);
  console.log(`QUIVER_NATS_URL=${nodes.map((n) => n.url).join(',')}`);
  return 0;
}

/** True when this file is the program run, not a module the tests import for its config format. */
function isMain(): boolean {
  return process.argv[1] !== undefined && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href;
}

if (isMain()) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (e instanceof UsageError) {
        console.error(`nats-cluster: ${e.message}\n${USAGE}`);
        process.exit(2);
      }
      console.error(`nats-cluster: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
}
