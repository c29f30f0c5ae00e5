/**
 * @module metrics
 * What `GET /metrics` shows, in Prometheus's text format, with prom-client: HTTP requests by
 * route pattern (never the raw path, which would carry ids and grow without bound), method and
 * status, with a latency histogram; /v1/sql's statements by kind and errors by code; the
 * process's memory, CPU and event loop (prom-client's default metrics); and, read from the
 * engine at scrape time (Engine.stats, one call per scrape, no timer), the writer's requests,
 * the read workers and each vector index's size and lag; in cluster mode this node's role,
 * epoch, log positions and lag. Labels are routes, methods, statuses,
 * statement kinds, error codes and index and table names: never a key, SQL text, a parameter or
 * a row value.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ClusterStats } from '../cluster/index.ts';
import type { EngineStats, IndexStatus } from '../sql/index.ts';

/** From 1 ms to 30 s (the default statement timeout), about doubling. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The per-index gauges: name, help, and the figure of IndexStatus each shows. */
const INDEX_GAUGES: [string, string, (s: IndexStatus) => number][] = [
  ['quiver_vector_index_rows', 'Live rows in the vector index', (s) => s.rows],
  ['quiver_vector_index_tail_rows', 'Live rows not yet in an HNSW graph (the tail)', (s) => s.tailRows],
  ['quiver_vector_index_segments', 'HNSW segments of the vector index', (s) => s.segments],
  ['quiver_vector_index_deleted_fraction', 'Deleted rows still in segments, over all rows in segments', (s) => s.deletedFraction],
  ['quiver_vector_index_lag_rows', 'Rows not yet in a graph', (s) => s.lagRows],
  ['quiver_vector_index_lag_seconds', 'Age of the oldest row not yet in a graph, in seconds', (s) => s.lagSeconds],
  ['quiver_vector_index_loading', '1 while the vector index is loading, else 0', (s) => (s.state === 'loading' ? 1 : 0)],
];

/** One HTTP request as the request log saw it. */
export interface ObservedRequest {
  method: string;
  /** The route pattern that answered (`/v1/sql`, `/v1/*` when a middleware did). */
  route: string;
  status: number;
  seconds: number;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly latency: Histogram<'method' | 'route' | 'status'>;
  private readonly statements: Counter<'kind'>;
  private readonly errors: Counter<'code'>;
  /** The engine's numbers for the scrape in progress; the gauges' collect functions read them. */
  private stats: EngineStats | null = null;

  /** `clusterStats`: cluster mode's figures of this node, read at scrape time; absent for a single node. */
  constructor(
    private readonly engineStats: () => EngineStats,
    clusterStats?: () => ClusterStats,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'quiver_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status', labelNames: ['method', 'route', 'status'], registers });
    this.latency = new Histogram({
      name: 'quiver_http_request_duration_seconds', help: 'Time from a request to its answer, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'], buckets: LATENCY_BUCKETS, registers,
    });
    this.statements = new Counter({ name: 'quiver_sql_statements_total', help: 'Statements of /v1/sql requests answered 200, by kind', labelNames: ['kind'], registers });
    this.errors = new Counter({ name: 'quiver_sql_errors_total', help: '/v1/sql requests answered with an error, by code', labelNames: ['code'], registers });
    this.engineGauges(registers);
    if (clusterStats) clusterGauges(registers, clusterStats);
  }

  /** Counts an answered request. */
  observeRequest(r: ObservedRequest): void {
    const labels = { method: r.method, route: r.route, status: String(r.status) };
    this.requests.inc(labels);
    this.latency.observe(labels, r.seconds);
  }

  /** Counts a /v1/sql request's statements (answered) or its error code (refused or failed). */
  observeSql(kinds: readonly string[] | undefined, errorCode: string | undefined): void {
    if (errorCode !== undefined) this.errors.inc({ code: errorCode });
    for (const kind of kinds ?? []) this.statements.inc({ kind });
  }

  /** The exposition text, with the engine's numbers read once, now. */
  async scrape(): Promise<string> {
    this.stats = this.engineStats();
    try {
      return await this.registry.metrics();
    } finally {
      this.stats = null;
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private engineGauges(registers: Registry[]): void {
    const gauge = (name: string, help: string, read: (s: EngineStats) => number) => {
      const g: Gauge = new Gauge({
        name, help, registers,
        collect: () => {
          if (this.stats) g.set(read(this.stats));
        },
      });
    };
    gauge('quiver_writer_requests', 'Requests sent to the writer and not answered yet: running, waiting for its lock, or waiting on an embedding provider', (s) => s.writerRequests);
    gauge('quiver_read_workers', 'Read worker threads', (s) => s.readWorkers?.workers ?? 0);
    gauge('quiver_read_workers_busy', 'Read workers running a read; utilisation is this over quiver_read_workers', (s) => s.readWorkers?.busy ?? 0);
    gauge('quiver_read_queue', 'Reads waiting for a read worker', (s) => s.readWorkers?.queued ?? 0);
    for (const [name, help, read] of INDEX_GAUGES) {
      const g: Gauge<'index' | 'table'> = new Gauge({
        name, help, labelNames: ['index', 'table'], registers,
        collect: () => {
          // A dropped index leaves the next scrape.
          g.reset();
          for (const s of this.stats?.indexes ?? []) g.set({ index: s.index, table: s.table }, read(s));
        },
      });
    }
  }
}

/** Cluster mode: this node's role and its place in the log, read at scrape time. */
function clusterGauges(registers: Registry[], stats: () => ClusterStats): void {
  const gauges: [string, string, (s: ClusterStats) => number][] = [
    ['quiver_cluster_primary', '1 while this node is the primary, else 0', (s) => (s.primary ? 1 : 0)],
    ['quiver_cluster_epoch', 'The epoch (log position of its primary\'s marker) this node follows', (s) => s.epoch],
    ['quiver_cluster_applied_position', 'The last log position committed on this node', (s) => s.appliedPosition],
    ['quiver_cluster_log_position', 'The log\'s last position as this node last learnt it', (s) => s.logPosition],
    ['quiver_cluster_lag_messages', 'Log entries this node has not applied yet (0 on the primary)', (s) => s.lagMessages],
  ];
  for (const [name, help, read] of gauges) {
    const g: Gauge = new Gauge({ name, help, registers, collect: () => g.set(read(stats())) });
  }
}
