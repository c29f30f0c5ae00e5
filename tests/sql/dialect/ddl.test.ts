/**
 * The DDL family (src/sql/dialect/parser/ddl.ts and table-def.ts): CREATE TABLE with SQLite's
 * and MySQL's column and table clauses, indexes of every kind, views, triggers, DROP and ALTER
 * round-trip through Quiver's print; MySQL's spellings read as the trees Quiver expects; node
 * ranges cover their text; malformed definitions fail where they go wrong.
 */
import { describe, expect, test } from 'vitest';
import { parseStatement, type A } from '../../../src/sql/dialect/index.ts';
import { errorOf, expectStatementRoundTrip, expectSyntaxError, textOf, type SyntaxErrorCase } from './parse-checks.ts';

function createTable(sql: string): A.CreateTableStatement {
  const s = parseStatement(sql);
  expect(s.kind).toBe('createTable');
  return s as A.CreateTableStatement;
}

describe('round trip', () => {
  test.each([
    'CREATE TABLE IF NOT EXISTS s.t (id INTEGER PRIMARY KEY DESC ON CONFLICT REPLACE AUTOINCREMENT, a INT(11) UNSIGNED ZEROFILL NOT NULL ON CONFLICT FAIL)',
    'CREATE TABLE t (b VARCHAR(20) UNIQUE KEY COLLATE nocase, c DECIMAL(10, -2) DEFAULT -1.5, d TEXT DEFAULT CURRENT_TIMESTAMP, e TEXT DEFAULT abc)',
    "CREATE TABLE t (f INT DEFAULT (1 + 2), g TEXT DEFAULT lower('X'), h INT KEY, i INT CONSTRAINT positive CHECK (i > 0), m INT NULL COMMENT 'note')",
    'CREATE TABLE t (j INT REFERENCES u (id) ON DELETE SET NULL ON UPDATE CASCADE MATCH SIMPLE NOT DEFERRABLE INITIALLY DEFERRED, k INT REFERENCES u DEFERRABLE)',
    'CREATE TABLE t (a INT, k INT GENERATED ALWAYS AS (a + 1) VIRTUAL, l INT AS (a * 2) STORED, n TEXT CHARACTER SET utf8mb4, o ENUM(\'a\', \'b\'), `p q` INT)',
    'CREATE TABLE t (a INT, b INT, CONSTRAINT pk PRIMARY KEY USING HASH (a, b) ON CONFLICT IGNORE, UNIQUE KEY uk (b), UNIQUE (a), CHECK (a < b), FOREIGN KEY (a, b) REFERENCES u (x, y) ON DELETE NO ACTION)',
    'CREATE TABLE t (id INT, doc TEXT, v VECTOR(3), w VECTOR(3), KEY k1 (id), INDEX (doc DESC), FULLTEXT KEY ft (doc), VECTOR INDEX vi (v) m=16 WITH (distance = cosine), VECTOR KEY (w))',
    "CREATE TABLE t (a INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='x'",
    'CREATE TABLE t (a INT PRIMARY KEY) WITHOUT ROWID, STRICT',
    'CREATE TABLE t (`key` INT, `index` TEXT, value INT, KEY (`key`))',
    'CREATE TABLE t (id SERIAL PRIMARY KEY, n SERIAL)',
    'CREATE TEMP TABLE t AS SELECT 1 AS a',
    'CREATE UNIQUE INDEX IF NOT EXISTS s.i ON t (a COLLATE nocase DESC, lower(b)) WHERE a > 0',
    'CREATE INDEX i USING BTREE ON t (a)',
    "CREATE VECTOR INDEX IF NOT EXISTS vi ON t (v) m=8 WITH (ef_construction = 64, quantization = 'int8') distance=l2",
    'CREATE FULLTEXT INDEX IF NOT EXISTS ft ON t (title, body)',
    'CREATE TEMPORARY VIEW IF NOT EXISTS v (x, y) AS SELECT a, b FROM t',
    "CREATE TRIGGER IF NOT EXISTS tr INSTEAD OF DELETE ON v FOR EACH ROW WHEN old.a > 0 BEGIN DELETE FROM t WHERE id = old.id; SELECT RAISE(ABORT, 'gone'); END",
    'CREATE TEMP TRIGGER tr BEFORE UPDATE OF a, b ON t BEGIN UPDATE t SET c = new.a WHERE id = new.id; INSERT INTO log VALUES (new.id); END',
    'DROP TABLE IF EXISTS s.t',
    'DROP INDEX i ON t',
    'DROP VIEW v',
    'DROP TRIGGER IF EXISTS tr',
    'ALTER TABLE t RENAME TO u',
    'ALTER TABLE s.t RENAME COLUMN a TO b',
    'ALTER TABLE t ADD COLUMN c INT NOT NULL DEFAULT 0',
    'ALTER TABLE t ADD v VECTOR(3)',
    'ALTER TABLE t DROP COLUMN c',
    'ALTER TABLE t MODIFY COLUMN c TEXT',
  ])('%s', (sql) => {
    expect(expectStatementRoundTrip(sql).kind).toMatch(/^(create|drop|alterTable)/);
  });
});

describe('trees', () => {
  test("MySQL's column forms: KEY is PRIMARY KEY, a bare DEFAULT word is a string, CHARACTER SET is dropped", () => {
    const [id, label, name] = createTable("CREATE TABLE t (id INT KEY, label TEXT DEFAULT none, name TEXT CHARACTER SET utf8 COMMENT 'who')").columns;
    expect(id.constraints).toMatchObject([{ kind: 'primaryKey', autoIncrement: false }]);
    expect(label.constraints).toMatchObject([{ kind: 'default', expr: { kind: 'literal', type: 'string', value: 'none' } }]);
    expect(name).toMatchObject({ constraints: [], comment: 'who' });
  });

  test('a type name keeps its words, arguments and MySQL attributes; a quoted word is always part of it', () => {
    const [a, b] = createTable('CREATE TABLE t (a INT(11) UNSIGNED NOT NULL, b `not` NULL)').columns;
    expect(a.type).toMatchObject({ name: 'INT UNSIGNED', args: ['11'] });
    expect(b.type).toMatchObject({ name: 'NOT', args: [] });
    expect(b.constraints).toMatchObject([{ kind: 'null' }]);
  });

  test('a quoted word names a column; the same word bare before a parenthesis starts an index', () => {
    const s = createTable('CREATE TABLE t (`key` INT, `index` TEXT, KEY (`key`), INDEX ix (`index`))');
    expect(s.columns.map((c) => c.name)).toEqual(['key', 'index']);
    expect(s.indexes).toMatchObject([{ name: undefined, unique: false }, { name: 'ix', unique: false }]);
  });

  test('inline indexes and options land in their own lists', () => {
    const s = createTable("CREATE TABLE t (v VECTOR(2), d TEXT, VECTOR INDEX vi (v) m=6 distance=cosine, FULLTEXT KEY (d)) ENGINE=InnoDB, COMMENT 'c' STRICT");
    expect(s.vectorIndexes).toMatchObject([{ name: 'vi', column: 'v', declaredAs: 'inline', options: [{ name: 'm', value: '6' }, { name: 'distance', value: 'cosine' }] }]);
    expect(s.fulltextIndexes).toMatchObject([{ name: undefined, columns: ['d'] }]);
    expect(s.options).toEqual([{ name: 'ENGINE', value: 'InnoDB' }, { name: 'COMMENT', value: 'c' }]);
    expect(s.comment).toBe('c');
    expect(s.strict).toBe(true);
  });

  test("SERIAL reads as MySQL's expansion, BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE, spanning the word", () => {
    const sql = 'CREATE TABLE t (id SERIAL PRIMARY KEY, s serial)';
    const [id, other] = createTable(sql).columns;
    expect(id.type).toMatchObject({ name: 'BIGINT UNSIGNED', args: [] });
    expect(id.constraints.map((c) => c.kind)).toEqual(['notNull', 'autoIncrement', 'unique', 'primaryKey']);
    expect([textOf(sql, id.type!), ...id.constraints.slice(0, 3).map((c) => textOf(sql, c))]).toEqual(['SERIAL', 'SERIAL', 'SERIAL', 'SERIAL']);
    expect(other.constraints.map((c) => c.kind)).toEqual(['notNull', 'autoIncrement', 'unique']);
    // Only the bare word is the alias: SERIAL(5) is some other type.
    expect(createTable('CREATE TABLE t (a SERIAL(5))').columns[0]).toMatchObject({ type: { name: 'SERIAL', args: ['5'] }, constraints: [] });
  });

  test('UNIQUE KEY name names the constraint', () => {
    expect(createTable('CREATE TABLE t (a INT, UNIQUE KEY uk (a))').constraints).toMatchObject([{ kind: 'unique', constraintName: 'uk' }]);
  });
});

describe('source ranges', () => {
  test('columns, their types and constraints', () => {
    const sql = "CREATE TABLE t (\n  a VARCHAR(20) NOT NULL DEFAULT 'x',\n  b INT REFERENCES u (id) ON DELETE CASCADE,\n  PRIMARY KEY (a)\n)";
    const s = createTable(sql);
    const [a, b] = s.columns;
    expect(textOf(sql, a)).toBe("a VARCHAR(20) NOT NULL DEFAULT 'x'");
    expect(textOf(sql, a.type!)).toBe('VARCHAR(20)');
    expect(a.constraints.map((c) => textOf(sql, c))).toEqual(['NOT NULL', "DEFAULT 'x'"]);
    expect(textOf(sql, b.constraints[0])).toBe('REFERENCES u (id) ON DELETE CASCADE');
    expect(textOf(sql, s.constraints[0])).toBe('PRIMARY KEY (a)');
    expect(textOf(sql, s)).toBe(sql);
  });

  test('vector indexes: inline from VECTOR, by statement from the column list', () => {
    const inline = 'CREATE TABLE t (v VECTOR(2), VECTOR INDEX vi (v) m=16)';
    expect(textOf(inline, createTable(inline).vectorIndexes[0])).toBe('VECTOR INDEX vi (v) m=16');
    const statement = 'CREATE VECTOR INDEX vi ON t (v) WITH (m = 8)';
    const s = parseStatement(statement) as A.CreateVectorIndexStatement;
    expect(textOf(statement, s.index)).toBe('(v) WITH (m = 8)');
    expect(textOf(statement, s)).toBe(statement);
  });

  test("a trigger's body statements and an index's columns", () => {
    const sql = 'CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  INSERT INTO log VALUES (new.id);\n  DELETE FROM q;\nEND';
    const s = parseStatement(sql) as A.CreateTriggerStatement;
    expect(s.body.map((b) => textOf(sql, b))).toEqual(['INSERT INTO log VALUES (new.id)', 'DELETE FROM q']);
    const index = 'CREATE INDEX i ON t (a COLLATE nocase DESC, b)';
    expect((parseStatement(index) as A.CreateIndexStatement).columns.map((c) => textOf(index, c))).toEqual(['a COLLATE nocase DESC', 'b']);
  });
});

describe('syntax errors', () => {
  test.each<SyntaxErrorCase>([
    ['CREATE TABLE t', "expected '(' near end of input", 1, 15],
    ['CREATE TABLE t (a INT, CONSTRAINT c FOO)', "expected PRIMARY KEY, UNIQUE, CHECK or FOREIGN KEY near 'FOO'", 1, 37],
    ['CREATE TABLE t (a INT CONSTRAINT c)', "expected a constraint after CONSTRAINT name near ')'", 1, 35],
    ['CREATE TABLE t (a INT COMMENT 5)', "expected a string after COMMENT near '5'", 1, 31],
    ['CREATE TABLE t (a DECIMAL(x))', "expected a number in the type near 'x'", 1, 27],
    ['CREATE TABLE t (a INT PRIMARY KEY ON CONFLICT NOPE)', "expected ROLLBACK, ABORT, FAIL, IGNORE or REPLACE near 'NOPE'", 1, 47],
    ['CREATE TABLE t (a INT, PRIMARY KEY a)', "expected '(' near 'a'", 1, 36],
    ['CREATE TABLE t (a INT REFERENCES u ON INSERT CASCADE)', "expected DELETE or UPDATE near 'INSERT'", 1, 39],
    ['CREATE TABLE t (a INT REFERENCES u ON DELETE FOO)', "expected SET NULL, SET DEFAULT, CASCADE, RESTRICT or NO ACTION near 'FOO'", 1, 46],
    ['CREATE TABLE t (a INT REFERENCES u DEFERRABLE INITIALLY LATER)', "expected DEFERRED or IMMEDIATE near 'LATER'", 1, 57],
    ['CREATE TABLE t (a INT) WITHOUT x', "expected ROWID near 'x'", 1, 32],
    ['CREATE TABLE t (a INT) COMMENT = (1)', "expected a table option value near '('", 1, 34],
    ['CREATE TABLE t (\n  id INT PRIMARY KEY,\n  v VECTOR(3) GENERATED ALWAYS (EMBEDDING(doc))\n)', "expected AS near '('", 3, 32],
    ['CREATE TEMP INDEX i ON t (a)', "expected TABLE, VIEW or TRIGGER after TEMP near 'INDEX'", 1, 13],
    ['CREATE SEQUENCE s', "expected TABLE, INDEX, VECTOR INDEX, FULLTEXT INDEX, VIEW or TRIGGER near 'SEQUENCE'", 1, 8],
    ['CREATE INDEX i USING FOO ON t (a)', "expected BTREE or HASH near 'FOO'", 1, 22],
    ['CREATE VECTOR INDEX vi ON t (v) WITH (m 8)', "expected an index option: name = value near 'm'", 1, 39],
    ['CREATE VECTOR INDEX vi ON t (v) m=', 'expected an option value near end of input', 1, 35],
    ['CREATE TRIGGER tr AFTER TRUNCATE ON t BEGIN SELECT 1; END', "expected DELETE, INSERT or UPDATE near 'TRUNCATE'", 1, 25],
    ['CREATE TRIGGER tr AFTER INSERT ON t BEGIN END', 'expected at least one statement in the trigger body near end of input', 1, 46],
    ['DROP SCHEMA x', "expected TABLE, INDEX, VIEW or TRIGGER near 'SCHEMA'", 1, 6],
    ['DROP TABLE a, b', "drop one table per statement (DROP TABLE a; DROP TABLE b) near ','", 1, 13],
    ['ALTER TABLE t CHANGE a b', "expected RENAME, ADD, DROP or MODIFY near 'CHANGE'", 1, 15],
    ['ALTER TABLE t RENAME COLUMN a b', "expected TO near 'b'", 1, 31],
  ])('%s', (sql, message, line, column) => {
    expectSyntaxError(() => parseStatement(sql), message, line, column);
  });

  test('a trigger body holds only INSERT, UPDATE, DELETE and SELECT', () => {
    const e = errorOf(() => parseStatement('CREATE TRIGGER tr AFTER INSERT ON t BEGIN CREATE TABLE x (a); END'));
    expect(e.code).toBe('SYNTAX_ERROR');
    expect(e.message).toMatch(/^a trigger body holds only INSERT, UPDATE, DELETE and SELECT statements /);
  });

  test.each([
    ['CREATE VIRTUAL TABLE f USING fts5(a)', 'CREATE VIRTUAL TABLE is not supported', 8],
    ['CREATE TABLE t (a INT, SPATIAL INDEX (a))', 'SPATIAL indexes are not supported', 24],
  ])('%s is refused where the refused word is written', (sql, message, column) => {
    const e = errorOf(() => parseStatement(sql));
    expect([e.code, e.message, e.position]).toEqual(['UNSUPPORTED_STATEMENT', message, { line: 1, column }]);
  });
});
