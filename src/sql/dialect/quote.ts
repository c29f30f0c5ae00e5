/**
 * @module dialect/quote
 * How a name or a string is written in SQL text, in both of the dialects Quiver writes:
 * Quiver's own (backticks, as MySQL users expect) and SQLite's (double quotes). Every piece of
 * Quiver that writes SQL text quotes through here, so no caller gets an escape rule wrong.
 */

/** How identifiers are quoted: Quiver's dialect uses backticks, SQLite's double quotes. */
export type QuoteStyle = 'quiver' | 'sqlite';

/**
 * Words that are quoted when used as names, so printed SQL parses back unambiguously: SQLite's
 * keywords plus Quiver's own.
 */
const RESERVED_WORDS = new Set(
  ('ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE BEGIN ' +
    'BETWEEN BY CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE CROSS ' +
    'CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP DATABASE DEFAULT DEFERRABLE DEFERRED DELETE ' +
    'DESC DETACH DISTINCT DO DROP EACH ELSE END ESCAPE EXCEPT EXCLUDE EXCLUSIVE EXISTS EXPLAIN FAIL ' +
    'FILTER FIRST FOLLOWING FOR FOREIGN FROM FULL GENERATED GLOB GROUP GROUPS HAVING IF IGNORE ' +
    'IMMEDIATE IN INDEX INDEXED INITIALLY INNER INSERT INSTEAD INTERSECT INTO IS ISNULL JOIN KEY LAST ' +
    'LEFT LIKE LIMIT MATCH MATERIALIZED NATURAL NO NOT NOTHING NOTNULL NULL NULLS OF OFFSET ON OR ' +
    'ORDER OTHERS OUTER OVER PARTITION PLAN PRAGMA PRECEDING PRIMARY QUERY RAISE RANGE RECURSIVE ' +
    'REFERENCES REGEXP REINDEX RELEASE RENAME REPLACE RESTRICT RETURNING RIGHT ROLLBACK ROW ROWS ' +
    'SAVEPOINT SELECT SET TABLE TEMP TEMPORARY THEN TIES TO TRANSACTION TRIGGER UNBOUNDED UNION ' +
    'UNIQUE UPDATE USING VACUUM VALUES VIEW VIRTUAL WHEN WHERE WINDOW WITH WITHOUT ' +
    // Quiver's own words, quoted so its output parses back unambiguously.
    'AUTO_INCREMENT COMMENT VECTOR SEPARATOR FORCE USE TRUE FALSE FULLTEXT AGAINST').split(' '),
);

/** `name` quoted in `style`, whatever it is. */
export function quoteIdent(name: string, style: QuoteStyle = 'sqlite'): string {
  return style === 'sqlite' ? `"${name.replace(/"/g, '""')}"` : `\`${name.replace(/`/g, '``')}\``;
}

/** `name` as `style` writes it: bare when it is a plain word that is not reserved, else quoted. */
export function identifier(name: string, style: QuoteStyle): string {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !RESERVED_WORDS.has(name.toUpperCase())) return name;
  return quoteIdent(name, style);
}

/** A string literal: `'it''s'`. The same in both dialects. */
export function quoteString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
