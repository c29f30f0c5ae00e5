/**
 * @module check/user-objects
 * What user SQL may name and call (DESIGN decision 9): names under Quiver's reserved prefix
 * belong to its catalog, and functions that reach outside the database are refused wherever
 * they appear. The translation to SQLite calls these as it meets each name, so no statement
 * reaches SQLite with one.
 */
import { QuiverError } from '../../core/index.ts';

/** Tables, triggers and functions whose names start with this belong to Quiver, not the user. */
export const INTERNAL_PREFIX = '__quiver_';

/** Functions that reach outside the database; refused wherever they appear. */
const FORBIDDEN_FUNCTIONS = new Set(['load_extension', 'fts3_tokenizer', 'readfile', 'writefile', 'edit']);

/** Refuses a user's table or view name under Quiver's reserved prefix. */
export function checkUserTableName(name: string): void {
  if (name.toLowerCase().startsWith(INTERNAL_PREFIX)) {
    throw new QuiverError('RESERVED_NAME', `names starting with ${INTERNAL_PREFIX} belong to Quiver's catalog; choose another name than ${name}`);
  }
}

/** Refuses a call of a function that reaches outside the database. */
export function checkFunctionAllowed(name: string): void {
  if (FORBIDDEN_FUNCTIONS.has(name.toLowerCase())) {
    throw new QuiverError('UNSUPPORTED_STATEMENT', `${name}() is not allowed: it reaches outside the database`);
  }
}
