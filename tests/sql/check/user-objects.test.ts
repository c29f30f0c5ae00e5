/**
 * User SQL sees users' objects only (DESIGN decision 9, issue 20), tried against a live
 * database rather than a list written by hand. A data dir with every feature in use is opened
 * (a vector index and its capture triggers and change log, a FULLTEXT index and its FTS5
 * tables, AUTO_INCREMENT and so sqlite_sequence, ANALYZE's statistics, users' keys, views and
 * triggers), and the internal objects are read from it at test time:
 * - every table, index, trigger and view in the schema that the user's statements did not
 *   create by name, and SQLite's schema tables, which the schema does not list;
 * - the functions Quiver registers on its connection beyond SQLite's own, but for those users
 *   call (PUBLIC_FUNCTIONS), and SQLite's `sqlite_*` functions;
 * - SQLite's eponymous virtual tables: the modules of pragma_module_list and the pragma table
 *   functions of pragma_pragma_list that answer to a bare name.
 * For each, every statement kind that can name it, with every role and with auth off, and the
 * name written every way SQL allows (cases, quotes, schema), must be refused with RESERVED_NAME
 * (a 400) by the checker, before anything runs; after it all the database is unchanged, and the
 * vector index, the full-text index, AUTO_INCREMENT and the user's trigger still work. A new
 * internal object is covered the day it appears. (The embedding cache is a file of its own,
 * src/embed/cache-file.ts, which no SQL reaches: ATTACH does not parse.)
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { HTTP_STATUS } from '../../../src/api/problem.ts';
import { isQuiverError, type QuiverError } from '../../../src/core/index.ts';
import { DATABASE_FILE, Engine, ROLES, type Role } from '../../../src/sql/index.ts';
import { engineConnection } from '../exec/engine-connection.ts';

/** What the user creates: each feature whose objects SQLite or Quiver keep beside it. */
const USER_SETUP = `
  CREATE TABLE docs (id INT AUTO_INCREMENT PRIMARY KEY, tenant INT, doc TEXT, v VECTOR(3),
    VECTOR INDEX docs_vi(v) distance=cosine, FULLTEXT INDEX docs_ft (doc), KEY docs_tenant (tenant));
  CREATE TABLE tags (name VARCHAR(20) PRIMARY KEY, note TEXT UNIQUE);
  CREATE TABLE audit (n INT);
  CREATE VIEW recent AS SELECT id, doc FROM docs;
  CREATE TRIGGER docs_audit AFTER INSERT ON docs BEGIN INSERT INTO audit VALUES (NEW.id); END;
  INSERT INTO docs (tenant, doc, v) VALUES (1, 'red apple', '[1, 0, 0]'), (2, 'green pear', '[0, 1, 0]'), (1, 'blue sky', '[0, 0, 1]');
  INSERT INTO tags VALUES ('fruit', 'sweet');
  DELETE FROM docs WHERE id = 2;
  ANALYZE;
`;

/** The objects USER_SETUP names: everything else in the schema is SQLite's or Quiver's. */
const USER_OBJECTS = new Set(['docs', 'tags', 'audit', 'recent', 'docs_audit', 'docs_tenant']);

/** SQLite's schema tables, which sqlite_schema does not list. */
const SCHEMA_TABLES = ['sqlite_schema', 'sqlite_master', 'sqlite_temp_schema', 'sqlite_temp_master'];

/** The functions Quiver registers for users to call (README, "Vectors" and "Embeddings"). */
const PUBLIC_FUNCTIONS = new Set([
  'vec_fromtext', 'to_vector', 'string_to_vector', 'vec_totext', 'from_vector', 'vector_to_string', 'vector_dim', 'vec_normalize',
  'vec_distance_cosine', 'vec_distance_euclidean', 'vec_distance_dot', 'distance', 'vector_distance', 'embedding',
]);

type ObjectType = 'table' | 'view' | 'index' | 'trigger' | 'function' | 'virtual table';

interface InternalObject {
  type: ObjectType;
  name: string;
}

/**
 * One statement naming an object, written three ways: `ref` where SQL takes a possibly
 * qualified name, `bare` where it takes a plain one, `arg` where a PRAGMA takes it.
 */
type Template = (name: { ref: string; bare: string; arg: string }) => string;

const TABLE_STATEMENTS: Template[] = [
  ({ ref }) => `SELECT * FROM ${ref}`,
  ({ ref }) => `SELECT count(*) FROM docs JOIN ${ref} ON 1 = 1`,
  ({ ref }) => `SELECT count(*) FROM docs, ${ref} AS x`,
  ({ ref }) => `SELECT * FROM (SELECT * FROM ${ref}) AS s`,
  ({ ref }) => `SELECT (SELECT count(*) FROM ${ref})`,
  ({ ref }) => `SELECT 1 WHERE EXISTS (SELECT 1 FROM ${ref})`,
  ({ ref }) => `SELECT 1 WHERE 1 IN ${ref}`,
  ({ ref }) => `SELECT 1 WHERE 1 NOT IN (SELECT rowid FROM ${ref})`,
  ({ ref }) => `SELECT 1 UNION SELECT 1 FROM ${ref}`,
  ({ ref }) => `WITH c AS (SELECT * FROM ${ref}) SELECT * FROM c`,
  ({ ref }) => `WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < (SELECT count(*) FROM ${ref})) SELECT n FROM c`,
  ({ ref }) => `EXPLAIN SELECT * FROM ${ref}`,
  ({ ref }) => `EXPLAIN QUERY PLAN DELETE FROM ${ref}`,
  ({ ref }) => `INSERT INTO ${ref} DEFAULT VALUES`,
  ({ ref }) => `REPLACE INTO ${ref} (rowid) VALUES (1)`,
  ({ ref }) => `INSERT INTO audit SELECT count(*) FROM ${ref}`,
  ({ ref }) => `INSERT INTO tags VALUES ('fruit', 'x') ON CONFLICT (name) DO UPDATE SET note = (SELECT count(*) FROM ${ref})`,
  ({ ref }) => `UPDATE ${ref} SET rowid = rowid`,
  ({ ref }) => `UPDATE docs SET tenant = (SELECT count(*) FROM ${ref})`,
  ({ ref }) => `UPDATE docs SET tenant = 1 FROM ${ref} WHERE 0`,
  ({ ref }) => `DELETE FROM ${ref}`,
  ({ ref }) => `DELETE FROM docs WHERE id IN (SELECT rowid FROM ${ref})`,
  ({ ref }) => `DELETE FROM docs WHERE 0 RETURNING (SELECT count(*) FROM ${ref})`,
  ({ ref }) => `BEGIN; DELETE FROM ${ref}; COMMIT`,
  ({ ref }) => `TRUNCATE TABLE ${ref}`,
  ({ ref }) => `DROP TABLE ${ref}`,
  ({ ref }) => `DROP TABLE IF EXISTS ${ref}`,
  ({ ref }) => `ALTER TABLE ${ref} RENAME TO stolen`,
  ({ ref }) => `ALTER TABLE ${ref} ADD COLUMN x INT`,
  ({ ref }) => `ALTER TABLE ${ref} DROP COLUMN seq`,
  ({ bare }) => `ALTER TABLE audit RENAME TO ${bare}`,
  ({ ref }) => `CREATE TABLE ${ref} (a INT)`,
  ({ ref }) => `CREATE TABLE IF NOT EXISTS ${ref} (a INT)`,
  ({ ref }) => `CREATE TABLE evil AS SELECT * FROM ${ref}`,
  ({ bare }) => `CREATE TABLE evil (a INT REFERENCES ${bare})`,
  ({ bare }) => `CREATE TABLE evil (a INT, FOREIGN KEY (a) REFERENCES ${bare} (rowid))`,
  ({ ref }) => `CREATE TABLE evil (a INT CHECK (a IN (SELECT rowid FROM ${ref})))`,
  ({ bare }) => `CREATE INDEX evil ON ${bare} (rowid)`,
  ({ bare }) => `CREATE TRIGGER evil AFTER INSERT ON ${bare} BEGIN SELECT 1; END`,
  ({ ref }) => `CREATE TRIGGER evil AFTER INSERT ON docs BEGIN DELETE FROM ${ref}; END`,
  ({ ref }) => `CREATE TRIGGER evil AFTER INSERT ON docs WHEN (SELECT count(*) FROM ${ref}) > 0 BEGIN SELECT 1; END`,
  ({ ref }) => `CREATE VIEW evil AS SELECT * FROM ${ref}`,
  ({ ref }) => `CREATE TEMP VIEW evil AS SELECT * FROM ${ref}`,
  ({ bare }) => `CREATE VECTOR INDEX evil ON ${bare} (v)`,
  ({ bare }) => `CREATE FULLTEXT INDEX evil ON ${bare} (doc)`,
  ({ ref }) => `OPTIMIZE TABLE ${ref}`,
  ({ ref }) => `REINDEX ${ref}`,
  ({ ref }) => `ANALYZE ${ref}`,
  ({ arg }) => `PRAGMA table_info(${arg})`,
  ({ arg }) => `PRAGMA table_xinfo(${arg})`,
  ({ arg }) => `PRAGMA index_list(${arg})`,
  ({ arg }) => `PRAGMA foreign_key_list(${arg})`,
  ({ arg }) => `PRAGMA integrity_check(${arg})`,
  ({ bare }) => `SHOW CREATE TABLE ${bare}`,
  ({ bare }) => `DESCRIBE ${bare}`,
  ({ bare }) => `SHOW COLUMNS FROM ${bare}`,
  ({ bare }) => `SHOW INDEX FROM ${bare}`,
  ({ bare }) => `SHOW INDEX STATUS FROM ${bare}`,
  ({ ref }) => `SET vidx_hnsw_ef_search = (SELECT count(*) FROM ${ref})`,
];

const STATEMENTS: Record<ObjectType, Template[]> = {
  table: TABLE_STATEMENTS,
  view: [...TABLE_STATEMENTS, ({ ref }) => `DROP VIEW ${ref}`, ({ ref }) => `CREATE VIEW ${ref} AS SELECT 1`],
  index: [
    ({ ref }) => `DROP INDEX ${ref}`,
    ({ bare }) => `DROP INDEX ${bare} ON docs`,
    ({ ref }) => `CREATE INDEX ${ref} ON docs (tenant)`,
    ({ ref }) => `CREATE UNIQUE INDEX IF NOT EXISTS ${ref} ON docs (doc)`,
    ({ bare }) => `CREATE TABLE evil (a INT, KEY ${bare} (a))`,
    ({ bare }) => `CREATE VECTOR INDEX ${bare} ON docs (v)`,
    ({ bare }) => `CREATE FULLTEXT INDEX ${bare} ON docs (doc)`,
    ({ bare }) => `SELECT * FROM docs INDEXED BY ${bare}`,
    ({ bare }) => `SELECT * FROM docs FORCE INDEX (${bare})`,
    ({ ref }) => `REINDEX ${ref}`,
    ({ arg }) => `PRAGMA index_info(${arg})`,
    ({ arg }) => `PRAGMA index_xinfo(${arg})`,
  ],
  trigger: [
    ({ ref }) => `DROP TRIGGER ${ref}`,
    ({ ref }) => `DROP TRIGGER IF EXISTS ${ref}`,
    ({ ref }) => `CREATE TRIGGER ${ref} AFTER INSERT ON docs BEGIN SELECT 1; END`,
    ({ ref }) => `CREATE TEMP TRIGGER IF NOT EXISTS ${ref} AFTER DELETE ON audit BEGIN SELECT 1; END`,
  ],
  function: [
    ({ ref }) => `SELECT ${ref}()`,
    ({ ref }) => `SELECT ${ref}(1, 2, 3)`,
    ({ ref }) => `SELECT id FROM docs WHERE ${ref}(doc) IS NULL`,
    ({ ref }) => `SELECT id FROM docs ORDER BY ${ref}(id)`,
    ({ ref }) => `SELECT count(*) FROM docs GROUP BY ${ref}(tenant)`,
    ({ ref }) => `SELECT count(*) FILTER (WHERE ${ref}(1)) FROM docs`,
    ({ ref }) => `SELECT row_number() OVER (ORDER BY ${ref}(id)) FROM docs`,
    ({ ref }) => `SELECT (SELECT ${ref}(1))`,
    ({ ref }) => `WITH c AS (SELECT ${ref}(1) AS x) SELECT x FROM c`,
    ({ ref }) => `EXPLAIN SELECT ${ref}(1)`,
    ({ ref }) => `INSERT INTO audit VALUES (${ref}(1))`,
    ({ ref }) => `UPDATE docs SET tenant = ${ref}(tenant)`,
    ({ ref }) => `DELETE FROM docs WHERE ${ref}(id) = 1`,
    ({ ref }) => `CREATE TABLE evil (a INT CHECK (${ref}(a)))`,
    ({ ref }) => `CREATE TABLE evil (a INT DEFAULT (${ref}(1)))`,
    ({ ref }) => `CREATE TABLE evil (a INT, b INT AS (${ref}(a)))`,
    ({ ref }) => `CREATE INDEX evil ON docs (${ref}(tenant))`,
    ({ ref }) => `CREATE VIEW evil AS SELECT ${ref}(1)`,
    ({ ref }) => `CREATE TRIGGER evil AFTER INSERT ON docs BEGIN SELECT ${ref}(NEW.id); END`,
    ({ ref }) => `SET vidx_hnsw_ef_search = ${ref}(1)`,
  ],
  'virtual table': [
    ({ ref }) => `SELECT * FROM ${ref}`,
    ({ ref }) => `SELECT * FROM ${ref}()`,
    ({ ref }) => `SELECT * FROM ${ref}('main')`,
    ({ ref }) => `SELECT count(*) FROM docs JOIN ${ref} ON 1 = 1`,
    ({ ref }) => `SELECT count(*) FROM docs, ${ref}('main') AS x`,
    ({ ref }) => `WITH c AS (SELECT * FROM ${ref}) SELECT * FROM c`,
    ({ ref }) => `SELECT (SELECT count(*) FROM ${ref}('main'))`,
    ({ ref }) => `SELECT 1 WHERE 1 IN ${ref}`,
    ({ ref }) => `INSERT INTO ${ref} DEFAULT VALUES`,
    ({ ref }) => `DELETE FROM ${ref}`,
    ({ ref }) => `CREATE TABLE ${ref} (a INT)`,
    ({ ref }) => `CREATE TEMP TABLE ${ref} (a INT)`,
    ({ ref }) => `CREATE VIEW evil AS SELECT * FROM ${ref}`,
    ({ ref }) => `CREATE TRIGGER evil AFTER INSERT ON docs BEGIN SELECT * FROM ${ref}; END`,
  ],
};

/** The ways SQL writes one name: cases, quotes, and the schema qualifier where one is taken. */
const NAME_FORMS: ((n: string) => { ref: string; bare: string; arg: string })[] = [
  (n) => ({ ref: n, bare: n, arg: n }),
  (n) => ({ ref: n.toUpperCase(), bare: n.toUpperCase(), arg: `'${n.toUpperCase()}'` }),
  (n) => ({ ref: `main.\`${n}\``, bare: `\`${n}\``, arg: `\`${n}\`` }),
  (n) => ({ ref: `[${n}]`, bare: `[${n}]`, arg: `'${n}'` }),
  (n) => ({ ref: `main.${n.toUpperCase()}`, bare: `\`${n.toUpperCase()}\``, arg: n.toUpperCase() }),
  (n) => ({ ref: `temp.${n}`, bare: `[${n.toUpperCase()}]`, arg: n }),
];

/** Function names take no quotes or schema: only their case varies. */
const FUNCTION_FORMS: ((n: string) => { ref: string; bare: string; arg: string })[] = [
  (n) => ({ ref: n, bare: n, arg: n }),
  (n) => ({ ref: n.toUpperCase(), bare: n, arg: n }),
  (n) => ({ ref: n[0].toUpperCase() + n.slice(1), bare: n, arg: n }),
];

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-user-objects-'));
let engine: Engine;
/** A second, read-only connection to the file: what is committed, whatever user SQL may see. */
let reader: Database.Database;
let internal: InternalObject[];

function open(): Engine {
  return Engine.open({ dataDir: root, readWorkers: 1, index: { builder: 'inline' }, planner: { exactMaxRows: 0 } });
}

beforeAll(async () => {
  engine = open();
  await engine.execute(USER_SETUP);
  await engine.execute('OPTIMIZE TABLE docs');
  // A clean stop saves the index and prunes the change log, as on a server that has run a while;
  // after it nothing is left to save, so nothing but requests writes to the database.
  await engine.shutdown();
  engine = open();
  await indexReady(engine);
  reader = new Database(path.join(root, DATABASE_FILE), { readonly: true });
  internal = internalObjects();
}, 60_000);

/** Waits until the reopened engine's vector index has loaded its saved files (it loads in the background). */
async function indexReady(e: Engine): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const [status] = (await e.execute('SHOW INDEX STATUS FROM docs')).results;
    if (status.rows.every((r) => r[status.columns.indexOf('state')] === 'ready')) return;
    if (Date.now() > deadline) throw new Error(`the vector index did not load within 30 s: ${JSON.stringify(status.rows)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

afterAll(async () => {
  reader?.close();
  await engine?.shutdown();
  fs.rmSync(root, { recursive: true, force: true });
});

/** What SQLite and Quiver keep in the live database and on the engine's connection (see the file comment). */
function internalObjects(): InternalObject[] {
  const db = engineConnection(engine);
  const schema = db.prepare('SELECT type, name FROM sqlite_schema UNION ALL SELECT type, name FROM sqlite_temp_schema').all() as InternalObject[];
  const objects = schema.filter((o) => !USER_OBJECTS.has(o.name));
  objects.push(...SCHEMA_TABLES.map((name): InternalObject => ({ type: 'table', name })));

  const plain = new Database(':memory:');
  try {
    const functionsOf = (c: Database.Database): Set<string> =>
      new Set((c.prepare('SELECT DISTINCT name FROM pragma_function_list').pluck().all() as string[]).map((n) => n.toLowerCase()));
    const sqlites = functionsOf(plain);
    for (const name of functionsOf(db)) {
      if (sqlites.has(name) ? name.startsWith('sqlite_') : !PUBLIC_FUNCTIONS.has(name)) objects.push({ type: 'function', name });
    }
    const modules = plain.prepare('SELECT name FROM pragma_module_list').pluck().all() as string[];
    const pragmas = (plain.prepare('SELECT name FROM pragma_pragma_list').pluck().all() as string[]).map((p) => `pragma_${p}`);
    for (const name of [...modules, ...pragmas]) {
      if (answersToBareName(plain, name)) objects.push({ type: 'virtual table', name });
    }
  } finally {
    plain.close();
  }
  return objects;
}

/** Whether a bare `name` in FROM reaches a virtual table (eponymous) rather than "no such table". */
function answersToBareName(db: Database.Database, name: string): boolean {
  try {
    db.prepare(`SELECT * FROM "${name}" LIMIT 0`);
    return true;
  } catch (e) {
    return !/no such table/.test((e as Error).message);
  }
}

/** A hash of everything committed: the schema (triggers included) and every table's rows. */
function contentHash(): string {
  const hash = createHash('sha256');
  const objects = reader.prepare('SELECT type, name, sql FROM sqlite_schema ORDER BY type, name').raw().all() as [string, string, string | null][];
  for (const [type, name, sql] of objects) {
    hash.update(`${type}\0${name}\0${sql ?? ''}\n`);
    if (type !== 'table' || sql?.startsWith('CREATE VIRTUAL')) continue;
    for (const row of reader.prepare(`SELECT * FROM "${name}"`).raw().safeIntegers().iterate() as IterableIterator<unknown[]>) {
      hash.update(JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)));
    }
  }
  return hash.digest('hex');
}

/** The code `sql` is refused with under `role` (undefined: auth off), or ACCEPTED. */
async function outcome(sql: string, role: Role | undefined): Promise<string> {
  try {
    await engine.execute(sql, undefined, role === undefined ? {} : { role });
    return 'ACCEPTED';
  } catch (e) {
    if (!isQuiverError(e)) throw e;
    return e.code;
  }
}

describe('the live database holds internal objects of every kind', () => {
  test('the list read from it has what each feature keeps', () => {
    const names = internal.map((o) => `${o.type} ${o.name}`);
    for (const expected of [
      'table __quiver_changes', 'table __quiver_tables', 'table sqlite_sequence', 'table sqlite_stat1', 'table sqlite_schema',
      'table __quiver_fts_docs_ft', 'trigger __quiver_vidx_docs_vi_ai', 'trigger __quiver_fts_docs_ft_ad', 'function __quiver_to_vector',
      'function sqlite_version', 'virtual table dbstat', 'virtual table pragma_database_list', 'virtual table pragma_table_info',
    ]) {
      expect(names).toContain(expected);
    }
    expect(internal.some((o) => o.type === 'index' && o.name.startsWith('sqlite_autoindex___quiver_'))).toBe(true);
    expect(internal.some((o) => o.type === 'table' && /^__quiver_fts_docs_ft_\w+$/.test(o.name)), 'the FTS5 shadow tables').toBe(true);
  });

  test('a refusal is a 4xx', () => {
    expect(HTTP_STATUS.RESERVED_NAME).toBe(400);
  });
});

describe('every statement naming an internal object is refused, for every role', () => {
  const roles: (Role | undefined)[] = [...ROLES, undefined];

  test('and the database is unchanged after', async () => {
    const before = contentHash();
    const wrong: string[] = [];
    let tried = 0;
    for (const [i, object] of internal.entries()) {
      const forms = object.type === 'function' ? FUNCTION_FORMS : NAME_FORMS;
      for (const [j, template] of STATEMENTS[object.type].entries()) {
        const sql = template(forms[(i + j) % forms.length](object.name));
        for (const role of roles) {
          tried++;
          const code = await outcome(sql, role);
          if (code !== 'RESERVED_NAME') wrong.push(`${role ?? 'auth off'}: ${sql} -> ${code}`);
        }
      }
    }
    expect(wrong, `${wrong.length} of ${tried} attempts were not refused with RESERVED_NAME`).toEqual([]);
    expect(contentHash()).toBe(before);
  }, 120_000);

  test('the features the attacks broke still work after', async () => {
    const { results } = await engine.execute("INSERT INTO docs (tenant, doc, v) VALUES (3, 'golden plum', '[0.6, 0.8, 0]')");
    expect(results[0].lastInsertId, 'AUTO_INCREMENT goes on past the deleted row').toBe(4);
    const found = await engine.execute(
      "SELECT id FROM docs FORCE INDEX (docs_vi) ORDER BY DISTANCE(v, '[0.6, 0.8, 0]', 'COSINE') LIMIT 1; " +
        "SELECT id FROM docs WHERE MATCH (doc) AGAINST ('plum'); SELECT n FROM audit ORDER BY n",
    );
    expect(found.results.map((r) => r.rows)).toEqual([[[4]], [[4]], [[1], [2], [3], [4]]]);
    const [status] = (await engine.execute('SHOW INDEX STATUS FROM docs')).results;
    expect(status.rows[0][status.columns.indexOf('rows')], 'the index holds every row of its table').toBe(3);
  });
});

describe('the rule', () => {
  test('points at the name, in the statement that has it, and runs nothing of the request', async () => {
    const e = (await engine.execute('INSERT INTO audit VALUES (99);\nSELECT * FROM docs JOIN sqlite_master ON 1').catch((x: unknown) => x)) as QuiverError;
    expect([e.code, e.statementIndex, e.position]).toEqual(['RESERVED_NAME', 1, { line: 2, column: 25 }]);
    expect(e.detail).toMatch(/^table sqlite_master is not a user's/);
    expect((await engine.execute('SELECT count(*) FROM audit WHERE n = 99')).results[0].rows).toEqual([[0]]);
  });

  test('refuses functions that reach outside the database, and table functions but the JSON ones', async () => {
    for (const sql of ["SELECT load_extension('x')", "SELECT readfile('/etc/passwd')", "SELECT fts3_tokenizer('simple')"]) {
      expect(await outcome(sql, 'admin'), sql).toBe('UNSUPPORTED_STATEMENT');
    }
    expect(await outcome('SELECT * FROM docs_tenant(1)', 'admin')).toBe('UNSUPPORTED_STATEMENT');
    expect((await engine.execute("SELECT sum(j.value) FROM json_each('[1, 2]') AS j, json_tree('[3]') AS t WHERE t.type = 'integer'")).results[0].rows).toEqual([[3]]);
  });

  test("leaves the user's own names alone, those that only look alike included", async () => {
    await engine.execute('CREATE TABLE sqlite (quiver_x INT, __quiver_col INT, sqlite_version INT); CREATE INDEX my_sqlite_idx ON sqlite (quiver_x)');
    await engine.execute('INSERT INTO sqlite VALUES (1, 2, 3)');
    const { results } = await engine.execute('SELECT quiver_x AS sqlite_a, __quiver_col, sqlite_version FROM sqlite AS pragmatic; SHOW TABLES LIKE \'sqlite\'');
    expect(results.map((r) => r.rows)).toEqual([[[1, 2, 3]], [['sqlite']]]);
    await engine.execute('DROP TABLE sqlite');
  });
});
