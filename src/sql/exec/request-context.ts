/**
 * @module exec/request-context
 * What the executor knows about the request it is running on the writer's connection: its
 * `ef_search` setting, its statement timeout and the running statement's deadline, what it has
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

  constructor(limits: Limits, options: ExecuteOptions) {
    this.efSearch = typeof options.efSearch === 'number' ? options.efSearch : undefined;
    this.timeoutMs = effectiveTimeoutMs(limits, options.timeoutMs);
    this.budget = new ResultBudget(limits);
  }

  /** Runs `statement` with the statement timeout's deadline set. */
  timed<T>(statement: () => T): T {
    return this.deadline.timed(this.timeoutMs, statement);
  }
}
