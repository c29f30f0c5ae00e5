/** @module runtime — the door of src/sql/runtime/. */
export { DEADLINE_FUNCTION, DEFAULT_LIMITS, OUTER_DEADLINE_FUNCTION, ResultBudget, StatementDeadline, effectiveTimeoutMs, registerDeadlineFunction, statementTimedOut, tooManyStatements } from './limits.ts';
export type { Limits } from './limits.ts';
export { ParamCursor, bindRowIds, toBindable, withNamed } from './params.ts';
export { StatementCache } from './statement-cache.ts';
export { ANY_CLIENT, FairQueue, clientQueueFull, waitedTooLong } from './fair-queue.ts';
