/**
 * @module exec/request-context
 * What the executor knows about the request it is running on the writer's connection: its
 * `ef_search` setting, its statement timeout (counted, for its first statement, from when it
 * began to wait for the connection) and the running statement's deadline, what it has
 * returned so far against the result limits, and which statement is running. One is made per
 * request run, so nothing of one request leaks into the next.
 */
import type { ExecuteOptions } from '../types.ts';
import { effectiveTimeoutMs, ResultBudget, StatementDeadline, type Limits } from '../runtime/index.ts';

export class RequestContext {
  /** The request's `ef_search`: its option, then SET vidx_hnsw_ef_search. */
  efSearch: number | undefined;
  readonly timeoutMs: number;
  readonly budget: ResultBudget;
  /** The statement running, for limit errors. */
  statementIndex = 0;
  /** The running statement's deadline; DEADLINE_FUNCTION on the writer's connection checks it. */
  readonly deadline = new StatementDeadline();

  /** When the request began to wait for the connection: its first statement's timeout counts from then. */
  private queuedAt: number | undefined;

  constructor(limits: Limits, options: ExecuteOptions, queuedAt?: number) {
    this.efSearch = typeof options.efSearch === 'number' ? options.efSearch : undefined;
    this.timeoutMs = effectiveTimeoutMs(limits, options.timeoutMs);
    this.budget = new ResultBudget(limits);
    this.queuedAt = queuedAt;
  }

  /** Runs `statement` with the statement timeout's deadline set: the first from when the request was queued, the others from their start. */
  timed<T>(statement: () => T): T {
    const since = this.queuedAt;
    this.queuedAt = undefined;
    return this.deadline.timed(this.timeoutMs, statement, since);
  }
}
