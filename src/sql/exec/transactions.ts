/**
 * @module exec/transactions
 * A request's transaction rules:
 * - no BEGIN/COMMIT in the request: all statements run in one transaction, all or nothing;
 * - BEGIN/COMMIT/ROLLBACK in the request: they run as written; a failure rolls back the open
 *   transaction, and a transaction left open at the end is rolled back with an error.
 * This module says which statements need a transaction and refuses, before anything runs, an
 * order of transaction statements that cannot succeed; the executor (engine.ts) applies them.
 */
import type { A } from '../dialect/index.ts';
import { positionOf } from '../dialect/index.ts';
import { QuiverError } from '../../core/index.ts';

/** Statement kinds that write: they always run inside a transaction. */
export const WRITE_KINDS = new Set<A.Statement['kind']>([
  'insert', 'update', 'delete', 'createTable', 'createIndex', 'createVectorIndex', 'createFulltextIndex', 'createView',
  'createTrigger', 'drop', 'alterTable', 'truncate',
]);

/** Statement kinds that change the schema: they invalidate cached lowerings and statements. */
export const SCHEMA_KINDS = new Set<A.Statement['kind']>([
  'createTable', 'createIndex', 'createVectorIndex', 'createFulltextIndex', 'createView', 'createTrigger', 'drop', 'alterTable',
]);

/** Whether the request manages its own transactions (holds BEGIN, COMMIT, SAVEPOINT, ...). */
export function isExplicit(statements: readonly A.Statement[]): boolean {
  return statements.some((s) => s.kind === 'transaction');
}

/** Whether a request without transaction statements runs inside one: several statements, or a write. */
export function needsImplicitTransaction(statements: readonly A.Statement[]): boolean {
  return statements.length > 1 || WRITE_KINDS.has(statements[0].kind);
}

/**
 * Refuses, before anything runs, a request whose transaction statements cannot all succeed in
 * their order (a COMMIT with no BEGIN before it, a BEGIN inside an open transaction, ...): run
 * as written, the statements before the bad one would autocommit and stay, though the request
 * fails. A request always starts outside a transaction, so the order alone decides.
 */
export function checkTransactionOrder(statements: readonly A.Statement[], sql: string): boolean[] {
  /** Whether each statement ends the transaction open before it (COMMIT, or RELEASE of the savepoint that began it). */
  const ends = statements.map(() => false);
  let open = false;
  /** Savepoints open, outermost first; `openedBy` is the one that began the transaction, if any. */
  const savepoints: string[] = [];
  let openedBy: string | undefined;
  statements.forEach((s, i) => {
    if (s.kind !== 'transaction') return;
    const refuse = (why: string) => {
      throw new QuiverError('TRANSACTION_ERROR', `statement ${i + 1}: ${why}; nothing was run`, { statementIndex: i, position: positionOf(sql, s.start) });
    };
    const name = s.savepoint?.toLowerCase();
    switch (s.action) {
      case 'BEGIN':
        if (open) refuse('BEGIN inside a transaction that is already open');
        open = true;
        break;
      case 'COMMIT':
        if (!open) refuse('COMMIT with no open transaction (no BEGIN before it)');
        open = false;
        break;
      case 'ROLLBACK':
        if (!open) refuse(`ROLLBACK${name ? ' TO' : ''} with no open transaction`);
        if (name === undefined) open = false;
        else if (!savepoints.includes(name)) refuse(`ROLLBACK TO ${s.savepoint}: no such savepoint is open`);
        else savepoints.length = savepoints.lastIndexOf(name) + 1;
        break;
      case 'SAVEPOINT':
        if (!open) {
          open = true;
          openedBy = name;
        }
        savepoints.push(name!);
        break;
      case 'RELEASE':
        if (!open || !savepoints.includes(name!)) refuse(`RELEASE ${s.savepoint}: no such savepoint is open`);
        savepoints.length = savepoints.lastIndexOf(name!);
        if (savepoints.length === 0 && openedBy === name) open = false;
        break;
    }
    if (!open) {
      ends[i] = s.action === 'COMMIT' || s.action === 'RELEASE';
      savepoints.length = 0;
      openedBy = undefined;
    }
  });
  return ends;
}
