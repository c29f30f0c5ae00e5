/**
 * @module keywords
 * The keyword sets the parser decides by, and the one question the printer asks of them. SQLite
 * lets most keywords be names, so these are the few words that never are (RESERVED), the words
 * that end a column's type and start its constraints, and the keyword constants.
 */

/** Words that never stand alone as a name or an alias without quoting. */
export const RESERVED: ReadonlySet<string> = new Set(
  ('ADD ALL ALTER AND AS BETWEEN BY CASE CAST CHECK COLLATE COMMIT CONSTRAINT CREATE CROSS ' +
    'CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP DEFAULT DEFERRABLE DELETE DISTINCT DROP ELSE END ' +
    'ESCAPE EXCEPT EXISTS FOREIGN FROM FULL GLOB GROUP HAVING IN INDEX INDEXED INNER INSERT INTERSECT ' +
    'INTO IS ISNULL JOIN LEFT LIKE LIMIT MATCH NATURAL NOT NOTNULL NULL OFFSET ON OR ORDER OUTER ' +
    'PRIMARY REFERENCES REGEXP RETURNING RIGHT SELECT SET TABLE THEN TO UNION UNIQUE UPDATE USING ' +
    'VALUES WHEN WHERE WINDOW').split(' '),
);

/** Words that end a column's type name and start its constraints. */
export const COLUMN_CONSTRAINT_WORDS: ReadonlySet<string> = new Set(
  'CONSTRAINT PRIMARY NOT NULL UNIQUE CHECK DEFAULT COLLATE REFERENCES GENERATED AS AUTO_INCREMENT AUTOINCREMENT COMMENT KEY CHARACTER CHARSET'.split(' '),
);

/** Words read as a literal value (NULL, TRUE, CURRENT_DATE...) when no `(` follows. */
export const KEYWORD_LITERALS: ReadonlySet<string> = new Set(['NULL', 'TRUE', 'FALSE', 'CURRENT_TIME', 'CURRENT_DATE', 'CURRENT_TIMESTAMP']);

/** Whether a word of a type name can be printed bare: one the parser reads as part of the type. */
export function isBareTypeWord(word: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_$]*$/.test(word) && !RESERVED.has(word.toUpperCase()) && !COLUMN_CONSTRAINT_WORDS.has(word.toUpperCase());
}
