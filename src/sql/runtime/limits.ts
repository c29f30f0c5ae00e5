/**
 * @module runtime/limits
 * The engine's limits on one request: statements, rows and bytes returned, time, and how many
 * requests may wait for the writer and the read workers, in all and per client. Each has a
 * default a serious deployment can live with, and crossing one is a LIMIT_EXCEEDED (or
 * OVERLOADED, TOO_MANY_REQUESTS, STATEMENT_TIMEOUT) error that names the setting to change —
 * never a silent cut. The server sets them from its environment
 * (src/api/config.ts); the names in messages are those variables.
 */
import type Database from 'better-sqlite3';
import { QuiverError } from '../../core/index.ts';
import type { SqlValue } from '../types.ts';

export interface Limits {
  /** A statement running longer is stopped — QUIVER_STATEMENT_TIMEOUT_MS. */
  statementTimeoutMs: number;
  /** Statements in one request — QUIVER_MAX_STATEMENTS. */
  maxStatements: number;
  /** SQL tokens in one request (parsing is on the engine's thread) — QUIVER_MAX_SQL_TOKENS. */
  maxSqlTokens: number;
  /** Rows one statement may return — QUIVER_MAX_ROWS. */
  maxRows: number;
  /** Bytes (estimated as JSON would carry them) all statements of a request may return — QUIVER_MAX_RESULT_BYTES. */
  maxResultBytes: number;
  /** Requests that may wait for the writer before new ones get 503 — QUIVER_MAX_QUEUED_WRITES. */
  maxQueuedWrites: number;
  /** Reads that may wait for a read worker before new ones get 503 — QUIVER_MAX_QUEUED_READS. */
  maxQueuedReads: number;
  /** Requests one client (API key) may have waiting for the writer, and as many for read workers, before its new ones get 429 — QUIVER_MAX_QUEUED_PER_KEY. */
  maxQueuedPerClient: number;
  /** Read workers one client may hold at once — QUIVER_MAX_READS_PER_KEY; 0: no cap but the one worker always left for keys holding none. */
  maxReadsPerClient: number;
  /** Distinct texts one request may send to embedding providers — QUIVER_MAX_EMBEDDING_TEXTS. */
  maxEmbeddingTexts: number;
  /** Texts all requests together may be waiting on providers for before new ones get 503 — QUIVER_MAX_QUEUED_EMBEDDINGS. */
  maxQueuedEmbeddings: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  statementTimeoutMs: 30_000,
  maxStatements: 10_000,
  maxSqlTokens: 1_000_000,
  maxRows: 100_000,
  maxResultBytes: 64 * 1024 * 1024,
  maxQueuedWrites: 256,
  maxQueuedReads: 1024,
  maxQueuedPerClient: 64,
  maxReadsPerClient: 0,
  maxEmbeddingTexts: 1_000_000,
  maxQueuedEmbeddings: 2_000_000,
});

/** The timeout of one request: the server's, lowered (never raised) by the request's own. */
export function effectiveTimeoutMs(limits: Limits, requested: number | undefined): number {
  return requested === undefined ? limits.statementTimeoutMs : Math.min(limits.statementTimeoutMs, requested);
}

/**
 * The SQL function statements call as they step to be stopped at the timeout, where SQLite
 * cannot be interrupted (better-sqlite3 has neither sqlite3_interrupt nor a progress handler):
 * it throws statementTimedOut once past the deadline. Registered on the writer's connection
 * (engine.ts) and each read worker's (read-worker.ts) by {@link registerDeadlineFunction};
 * ../lower/to-sqlite.ts says which SELECTs call it, ../lower/deadline-checks.ts where: once per
 * row of each of their loops.
 */
export const DEADLINE_FUNCTION = '__quiver_check_deadline';

/**
 * The check of a statement whose loops cannot each be checked (../lower/deadline-checks.ts):
 * once per row of its outermost loop, whose inner loops run unchecked, so it reads the clock
 * at every call rather than once in CHECKS_PER_CLOCK_READ.
 */
export const OUTER_DEADLINE_FUNCTION = '__quiver_check_deadline_outer';

/**
 * Checks read the clock once in this many: a clock read costs a good part of what the call into
 * JavaScript itself costs (BENCHMARKS.md, the notes after bench:sql), and each check stands
 * for one row of one loop.
 */
const CHECKS_PER_CLOCK_READ = 16;

/** The running statement's deadline on one connection: set while it runs, Infinity between statements. */
export class StatementDeadline {
  private at = Infinity;
  private timeoutMs = 0;
  private checks = 0;

  /** Runs `statement` stopped `timeoutMs` after `since` (default: now; earlier when the request waited in a queue first). */
  timed<T>(timeoutMs: number, statement: () => T, since = Date.now()): T {
    this.timeoutMs = timeoutMs;
    this.at = since + timeoutMs;
    try {
      return statement();
    } finally {
      this.at = Infinity;
    }
  }

  /**
   * Throws STATEMENT_TIMEOUT once past the deadline, noticed within CHECKS_PER_CLOCK_READ checks,
   * or at once with `everyCall`; `rolledBack`, asked only then: the statement runs in a
   * transaction that is undone.
   */
  check(rolledBack: () => boolean, everyCall = false): void {
    if ((++this.checks % CHECKS_PER_CLOCK_READ !== 0 && !everyCall) || Date.now() <= this.at) return;
    throw statementTimedOut(this.timeoutMs, rolledBack());
  }
}

/**
 * Registers DEADLINE_FUNCTION and OUTER_DEADLINE_FUNCTION on `db`; `check` throws once the
 * running statement is past its deadline, reading the clock at every call when `everyCall`.
 */
export function registerDeadlineFunction(db: Database.Database, check: (everyCall: boolean) => void): void {
  db.function(DEADLINE_FUNCTION, { deterministic: false }, () => {
    check(false);
    return 1;
  });
  db.function(OUTER_DEADLINE_FUNCTION, { deterministic: false }, () => {
    check(true);
    return 1;
  });
}

/** A statement stopped at the timeout; `rolledBack`: it ran in a transaction that was undone. */
export function statementTimedOut(timeoutMs: number, rolledBack: boolean): QuiverError {
  return new QuiverError(
    'STATEMENT_TIMEOUT',
    `the statement ran longer than the statement timeout of ${timeoutMs} ms and was stopped; ${rolledBack ? 'its transaction was rolled back' : 'nothing was written'}`,
  );
}

export function tooManyStatements(count: number, limits: Limits): QuiverError {
  return new QuiverError(
    'LIMIT_EXCEEDED',
    `the request holds ${count} statements; at most ${limits.maxStatements} are allowed per request (QUIVER_MAX_STATEMENTS): split it`,
  );
}

/**
 * Counts what a request returns, row by row, and stops it the moment a limit is crossed, so an
 * oversized result is never built in memory. Runs on whichever thread runs the statement.
 */
export class ResultBudget {
  private bytes = 0;
  constructor(private readonly limits: Pick<Limits, 'maxRows' | 'maxResultBytes'>) {}

  /** Accounts for the `count`-th row (1-based) of statement `index`; throws LIMIT_EXCEEDED past a limit. */
  add(row: readonly SqlValue[], count: number, index: number): void {
    if (count > this.limits.maxRows) {
      throw new QuiverError(
        'LIMIT_EXCEEDED',
        `statement ${index + 1} returns more than ${this.limits.maxRows} rows (QUIVER_MAX_ROWS); add a LIMIT, or page with WHERE/OFFSET`,
        { statementIndex: index },
      );
    }
    for (const v of row) this.bytes += valueBytes(v);
    if (this.bytes > this.limits.maxResultBytes) {
      throw new QuiverError(
        'LIMIT_EXCEEDED',
        `the results are larger than ${this.limits.maxResultBytes} bytes (QUIVER_MAX_RESULT_BYTES); select fewer columns or rows`,
        { statementIndex: index },
      );
    }
  }
}

/** Roughly what `v` costs in the JSON answer; vectors and blobs count their bytes. */
function valueBytes(v: SqlValue): number {
  if (v === null) return 4;
  if (typeof v === 'string') return v.length + 2;
  if (typeof v === 'number' || typeof v === 'bigint') return 8;
  return v.byteLength;
}
