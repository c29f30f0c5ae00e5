/**
 * @module check/pragmas
 * Which PRAGMAs user SQL may run: reads of the schema and of harmless settings. Everything
 * else (writing settings, files, safety switches) belongs to Quiver and is refused, and so are
 * `table_list` and `function_list`, which list SQLite's and Quiver's own tables and functions
 * (SHOW TABLES lists the user's). A table or index argument must be a user's (user-objects.ts).
 */
import type { A } from '../dialect/index.ts';
import { QuiverError } from '../../core/index.ts';

/** PRAGMAs a user may read. */
const READABLE_PRAGMAS = new Set([
  'table_info', 'table_xinfo', 'index_list', 'index_info', 'index_xinfo', 'foreign_key_list', 'foreign_key_check',
  'integrity_check', 'quick_check', 'compile_options', 'collation_list', 'pragma_list', 'page_count', 'page_size',
  'freelist_count', 'encoding', 'user_version', 'schema_version', 'data_version', 'journal_mode', 'synchronous',
  'foreign_keys', 'application_id',
]);

/** PRAGMAs that take an argument naming a table or index (reads, not settings). */
const PRAGMAS_WITH_ARGUMENT = new Set([
  'table_info', 'table_xinfo', 'index_list', 'index_info', 'index_xinfo', 'foreign_key_list', 'foreign_key_check',
  'integrity_check', 'quick_check',
]);

/** Refuses a PRAGMA that is not a read a user may make. */
export function checkPragma(s: A.PragmaStatement): void {
  const name = s.name.name.toLowerCase();
  if (READABLE_PRAGMAS.has(name) && (s.value === undefined || PRAGMAS_WITH_ARGUMENT.has(name))) return;
  throw new QuiverError(
    'UNSUPPORTED_STATEMENT',
    `PRAGMA ${s.name.name}${s.value !== undefined ? ' with a value' : ''} is not allowed: Quiver owns the database's settings and files. Readable PRAGMAs: ${[...READABLE_PRAGMAS].join(', ')}`,
  );
}
