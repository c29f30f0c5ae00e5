/**
 * @module index-sync/fulltext
 * MySQL's FULLTEXT indexes on SQLite's FTS5. An index `ft` on t(doc) is an FTS5 table
 * `__quiver_fts_ft` holding its own copy of the indexed text under t's row ids, kept in step by
 * triggers in the same transaction as every change to t. `MATCH (doc) AGAINST ('words')` is
 * natural-language search: a row matches if it has any of the words (stemmed, case- and
 * accent-insensitive), and its relevance is BM25, higher for better matches, 0 for none.
 */
import type Database from 'better-sqlite3';
import type { FulltextIndexInfo } from '../catalog/index.ts';
import { quoteIdent } from '../dialect/index.ts';

export const FTS_TABLE_PREFIX = '__quiver_fts_';

/** The FTS5 table of full-text index `name`. */
export function ftsTable(name: string): string {
  return quoteIdent(`${FTS_TABLE_PREFIX}${name}`);
}

function triggerNames(name: string): string[] {
  return ['ai', 'au', 'ad'].map((suffix) => quoteIdent(`${FTS_TABLE_PREFIX}${name}_${suffix}`));
}

/** Creates the FTS5 table and triggers of `info`, and indexes the rows already there. */
export function installFulltext(db: Database.Database, info: FulltextIndexInfo): void {
  const fts = ftsTable(info.name);
  const table = quoteIdent(info.table);
  const cols = info.columns.map((c) => quoteIdent(c));
  const [ai, au, ad] = triggerNames(info.name);
  db.exec(`CREATE VIRTUAL TABLE ${fts} USING fts5(${cols.join(', ')}, tokenize = 'porter unicode61 remove_diacritics 2')`);
  const insertNew = `INSERT INTO ${fts} (rowid, ${cols.join(', ')}) VALUES (NEW.rowid, ${cols.map((c) => `NEW.${c}`).join(', ')});`;
  const deleteOld = `DELETE FROM ${fts} WHERE rowid = OLD.rowid;`;
  const changed = [...cols.map((c) => `OLD.${c} IS NOT NEW.${c}`), 'OLD.rowid IS NOT NEW.rowid'].join(' OR ');
  db.exec(`CREATE TRIGGER ${ai} AFTER INSERT ON ${table} BEGIN ${insertNew} END`);
  db.exec(`CREATE TRIGGER ${au} AFTER UPDATE ON ${table} WHEN ${changed} BEGIN ${deleteOld} ${insertNew} END`);
  db.exec(`CREATE TRIGGER ${ad} AFTER DELETE ON ${table} BEGIN ${deleteOld} END`);
  db.exec(`INSERT INTO ${fts} (rowid, ${cols.join(', ')}) SELECT rowid, ${cols.join(', ')} FROM ${table}`);
}

/** Drops the FTS5 table and triggers of full-text index `name` (inside the DDL's transaction). */
export function dropFulltext(db: Database.Database, name: string): void {
  for (const trigger of triggerNames(name)) db.exec(`DROP TRIGGER IF EXISTS ${trigger}`);
  db.exec(`DROP TABLE IF EXISTS ${ftsTable(name)}`);
}

/** Words of a natural-language query as an FTS5 query matching any of them. */
export function naturalLanguageQuery(text: string): string {
  const words = text.match(/[\p{L}\p{N}_]+/gu) ?? [];
  // No words: a phrase no tokenizer produces, so nothing matches (FTS5 rejects an empty query).
  if (words.length === 0) return '"\u0001"';
  return words.map((w) => `"${w}"`).join(' OR ');
}

/**
 * Registers __quiver_fts_query(text), which the translation to SQLite (lower/fulltext-rewrite.ts)
 * wraps around AGAINST's argument.
 */
export function registerFulltextFunctions(db: Database.Database): void {
  db.function('__quiver_fts_query', { deterministic: true }, (text: unknown) => naturalLanguageQuery(text === null ? '' : String(text)));
}
