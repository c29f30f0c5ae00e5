/**
 * Every vector function through a real in-memory SQLite: aliases, NULLs, TEXT and BLOB
 * arguments, error codes as the API will see them (better-sqlite3 must rethrow our
 * QuiverError, not a SqliteError), the AliSQL seed's worked example, and the `__quiver_`
 * helpers inside CHECK constraints and generated columns.
 */
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QuiverError } from '../../../src/core/errors.ts';
import type { ErrorCode } from '../../../src/core/errors.ts';
import { encodeVector } from '../../../src/core/vector-codec.ts';
import { registerVectorFunctions } from '../../../src/sql/functions/vector-functions.ts';

let db: Database.Database;

beforeEach(() => {
  db = new Database(':memory:');
  registerVectorFunctions(db);
});

afterEach(() => {
  db.close();
});

/** The single value of a one-column, one-row query. */
function value(sql: string, ...params: unknown[]): unknown {
  return db.prepare(sql).pluck().get(...params);
}

/** Runs `fn` and returns the QuiverError it must throw, checking code and detail. */
function expectQuiverError(fn: () => unknown, code: ErrorCode, detail?: string | RegExp): QuiverError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(QuiverError);
  const error = thrown as QuiverError;
  expect(error.code).toBe(code);
  if (typeof detail === 'string') expect(error.detail).toBe(detail);
  else if (detail) expect(error.detail).toMatch(detail);
  return error;
}

function floats(blob: unknown): number[] {
  expect(Buffer.isBuffer(blob)).toBe(true);
  const b = blob as Buffer;
  return Array.from({ length: b.length / 4 }, (_, i) => b.readFloatLE(i * 4));
}

const NAN_BLOB = encodeVector([1, Number.NaN]);

describe('VEC_FROMTEXT and aliases', () => {
  for (const name of ['VEC_FROMTEXT', 'TO_VECTOR', 'STRING_TO_VECTOR', 'vec_fromtext']) {
    it(`${name} turns text into a float32 LE blob`, () => {
      const blob = value(`SELECT ${name}('[0.1, -2, 3e2]')`);
      expect(blob).toEqual(encodeVector([0.1, -2, 300]));
      expect(value(`SELECT typeof(${name}('[1]'))`)).toBe('blob');
    });
  }

  it('passes a valid blob through and returns NULL for NULL', () => {
    const blob = encodeVector([1, 2]);
    expect(value('SELECT VEC_FROMTEXT(?)', blob)).toEqual(blob);
    expect(value('SELECT VEC_FROMTEXT(NULL)')).toBeNull();
  });

  it('rejects malformed text, numbers and out-of-range lengths, naming the alias called', () => {
    expectQuiverError(() => value("SELECT TO_VECTOR('0.1, 0.2')"), 'INVALID_VECTOR', /^TO_VECTOR: argument 1 must look like/);
    expectQuiverError(() => value("SELECT VEC_FROMTEXT('[]')"), 'INVALID_VECTOR', /no elements/);
    expectQuiverError(() => value("SELECT VEC_FROMTEXT('[1, abc]')"), 'INVALID_VECTOR', /element 2/);
    expectQuiverError(() => value("SELECT VEC_FROMTEXT('[1e39]')"), 'INVALID_VECTOR', /element 1/);
    expectQuiverError(
      () => value('SELECT STRING_TO_VECTOR(42)'),
      'INVALID_VECTOR',
      "STRING_TO_VECTOR: argument 1 must be a vector (a BLOB or TEXT like '[0.1, 0.2]'); got INTEGER",
    );
    expectQuiverError(() => value('SELECT VEC_FROMTEXT(4.5)'), 'INVALID_VECTOR', /got REAL$/);
    const tooLong = `[${new Array(16384).fill('0').join(',')}]`;
    expectQuiverError(() => value('SELECT VEC_FROMTEXT(?)', tooLong), 'INVALID_VECTOR', /16384 dimensions; a vector has 1 to 16383/);
    const longest = `[${new Array(16383).fill('1').join(',')}]`;
    expect((value('SELECT VEC_FROMTEXT(?)', longest) as Buffer).length).toBe(16383 * 4);
  });
});

describe('VEC_TOTEXT and aliases', () => {
  for (const name of ['VEC_TOTEXT', 'FROM_VECTOR', 'VECTOR_TO_STRING']) {
    it(`${name} prints the shortest round-tripping decimals`, () => {
      expect(value(`SELECT ${name}(?)`, encodeVector([0.6, 0.7, -1, 1e-7]))).toBe('[0.6,0.7,-1,1e-7]');
      expect(value(`SELECT ${name}(VEC_FROMTEXT('[0.1, 0.2]'))`)).toBe('[0.1,0.2]');
      expect(value(`SELECT ${name}('[ 0.5 ,1 ]')`)).toBe('[0.5,1]');
      expect(value(`SELECT ${name}(NULL)`)).toBeNull();
    });
  }

  it('rejects blobs that are not whole float32 vectors', () => {
    expectQuiverError(
      () => value("SELECT VEC_TOTEXT(x'000000')"),
      'INVALID_VECTOR',
      'VEC_TOTEXT: argument 1 is a BLOB of 3 bytes; a vector BLOB holds float32 values, so its length must be a multiple of 4',
    );
    expectQuiverError(() => value("SELECT FROM_VECTOR(x'')"), 'INVALID_VECTOR', /0 dimensions/);
    expectQuiverError(() => value('SELECT VECTOR_TO_STRING(?)', NAN_BLOB), 'INVALID_VECTOR', /element 2 is not a finite/);
  });
});

describe('VECTOR_DIM', () => {
  it('counts dimensions of blobs and text as an INTEGER', () => {
    expect(value('SELECT VECTOR_DIM(?)', encodeVector([1, 2, 3]))).toBe(3);
    expect(value("SELECT VECTOR_DIM('[1,2]')")).toBe(2);
    expect(value("SELECT typeof(VECTOR_DIM('[1,2]'))")).toBe('integer');
    expect(value('SELECT VECTOR_DIM(NULL)')).toBeNull();
  });

  it('returns a BigInt under safeIntegers and accepts BigInt dims in helpers', () => {
    db.defaultSafeIntegers(true);
    expect(value("SELECT VECTOR_DIM('[1,2]')")).toBe(2n);
    expect(value("SELECT __quiver_vector_check(VEC_FROMTEXT('[1,2]'), 2, 'v')")).toBe(1n);
  });

  it('rejects a number', () => {
    expectQuiverError(() => value('SELECT VECTOR_DIM(7)'), 'INVALID_VECTOR', /^VECTOR_DIM: argument 1 .* got INTEGER$/);
  });
});

describe('VEC_NORMALIZE', () => {
  it('scales to unit length', () => {
    const out = floats(value("SELECT VEC_NORMALIZE('[3, 4]')"));
    expect(out[0]).toBeCloseTo(0.6, 7);
    expect(out[1]).toBeCloseTo(0.8, 7);
    const random = floats(value('SELECT VEC_NORMALIZE(?)', encodeVector([0.3, -7, 12.5, 1e-3])));
    expect(Math.hypot(...random)).toBeCloseTo(1, 6);
  });

  it('returns a zero vector unchanged rather than failing', () => {
    expect(floats(value("SELECT VEC_NORMALIZE('[0, 0, 0]')"))).toEqual([0, 0, 0]);
  });

  it('passes NULL and rejects non-vectors', () => {
    expect(value('SELECT VEC_NORMALIZE(NULL)')).toBeNull();
    expectQuiverError(() => value('SELECT VEC_NORMALIZE(1)'), 'INVALID_VECTOR', /^VEC_NORMALIZE: argument 1/);
  });
});

describe('distance functions', () => {
  const a = '[1, 2, 3]';
  const b = '[4, 6, 3]';

  it('computes each metric from text and blob arguments alike', () => {
    const blobA = encodeVector([1, 2, 3]);
    expect(value('SELECT VEC_DISTANCE_EUCLIDEAN(?, ?)', a, b)).toBe(5);
    expect(value('SELECT VEC_DISTANCE_EUCLIDEAN(?, ?)', blobA, b)).toBe(5);
    expect(value('SELECT VEC_DISTANCE_DOT(?, ?)', blobA, encodeVector([4, 6, 3]))).toBe(-25);
    const cosine = 1 - 25 / (Math.sqrt(14) * Math.sqrt(61));
    expect(value('SELECT VEC_DISTANCE_COSINE(?, ?)', a, b)).toBeCloseTo(cosine, 12);
    expect(value("SELECT typeof(VEC_DISTANCE_COSINE('[1]', '[1]'))")).toBe('real');
  });

  it('gives the cosine distance of a zero vector as 1', () => {
    expect(value("SELECT VEC_DISTANCE_COSINE('[0, 0]', '[1, 2]')")).toBe(1);
  });

  it('returns NULL when either side is NULL', () => {
    for (const name of ['VEC_DISTANCE_COSINE', 'VEC_DISTANCE_EUCLIDEAN', 'VEC_DISTANCE_DOT']) {
      expect(value(`SELECT ${name}(NULL, '[1]')`)).toBeNull();
      expect(value(`SELECT ${name}('[1]', NULL)`)).toBeNull();
    }
  });

  it('reports mismatched dimensions as DIMENSION_MISMATCH', () => {
    expectQuiverError(
      () => value("SELECT VEC_DISTANCE_COSINE('[1,2,3]', '[1,2]')"),
      'DIMENSION_MISMATCH',
      'VEC_DISTANCE_COSINE: first vector has 3 dimensions, second has 2',
    );
    expectQuiverError(
      () => value('SELECT VEC_DISTANCE_EUCLIDEAN(?, ?)', encodeVector([1]), encodeVector([1, 2])),
      'DIMENSION_MISMATCH',
      'VEC_DISTANCE_EUCLIDEAN: first vector has 1 dimensions, second has 2',
    );
  });

  it('names the failing argument position', () => {
    expectQuiverError(() => value("SELECT VEC_DISTANCE_DOT('[1]', 3)"), 'INVALID_VECTOR', /^VEC_DISTANCE_DOT: argument 2 /);
    expectQuiverError(() => value("SELECT VEC_DISTANCE_DOT(x'00', '[1]')"), 'INVALID_VECTOR', /^VEC_DISTANCE_DOT: argument 1 is a BLOB of 1 bytes/);
  });
});

describe('DISTANCE(a, b, metric)', () => {
  for (const name of ['DISTANCE', 'VECTOR_DISTANCE']) {
    it(`${name} dispatches on the metric name, any case`, () => {
      expect(value(`SELECT ${name}('[1,2,3]', '[4,6,3]', 'EUCLIDEAN')`)).toBe(5);
      expect(value(`SELECT ${name}('[1,2,3]', '[4,6,3]', 'l2')`)).toBe(5);
      expect(value(`SELECT ${name}('[1,2,3]', '[4,6,3]', 'dot')`)).toBe(-25);
      expect(value(`SELECT ${name}('[1,2,3]', '[4,6,3]', 'Inner_Product')`)).toBe(-25);
      expect(value(`SELECT ${name}('[1,0]', '[0,1]', 'COSINE')`)).toBe(1);
    });
  }

  it('returns NULL for any NULL argument', () => {
    expect(value("SELECT DISTANCE(NULL, '[1]', 'COSINE')")).toBeNull();
    expect(value("SELECT DISTANCE('[1]', NULL, 'COSINE')")).toBeNull();
    expect(value("SELECT DISTANCE('[1]', '[1]', NULL)")).toBeNull();
  });

  it('rejects unknown and non-text metrics without echoing them', () => {
    const error = expectQuiverError(
      () => value("SELECT DISTANCE('[1]', '[1]', ?)", 'manhattan'),
      'SQL_ERROR',
      /^DISTANCE: argument 3 is not a known metric; expected one of COSINE, EUCLIDEAN, L2, DOT, IP, INNER_PRODUCT$/,
    );
    expect(error.detail).not.toContain('manhattan');
    expectQuiverError(
      () => value("SELECT DISTANCE('[1]', '[1]', 2)"),
      'TYPE_MISMATCH',
      'DISTANCE: argument 3 must be a metric name as TEXT; got INTEGER',
    );
  });

  it('checks dimensions and vector arguments like the VEC_DISTANCE_* functions', () => {
    expectQuiverError(
      () => value("SELECT DISTANCE('[1]', '[1,2]', 'DOT')"),
      'DIMENSION_MISMATCH',
      'DISTANCE: first vector has 1 dimensions, second has 2',
    );
    expectQuiverError(() => value("SELECT DISTANCE(1, '[1]', 'DOT')"), 'INVALID_VECTOR', /^DISTANCE: argument 1 /);
  });
});

describe('AliSQL seed example (003)', () => {
  it('orders Cat, Dog, Frog by VEC_DISTANCE_COSINE to [0.1, 0.1] with the published distances', () => {
    db.exec('CREATE TABLE t1 (id INTEGER PRIMARY KEY, animal TEXT, vec BLOB NOT NULL)');
    const insert = db.prepare('INSERT INTO t1 (animal, vec) VALUES (?, VEC_FROMTEXT(?))');
    insert.run('Frog', '[0.1, 0.2]');
    insert.run('Dog', '[0.6, 0.7]');
    insert.run('Cat', '[0.6, 0.6]');
    const rows = db
      .prepare("SELECT animal, VEC_DISTANCE_COSINE(vec, VEC_FROMTEXT('[0.1, 0.1]')) AS distance FROM t1 ORDER BY distance")
      .all() as { animal: string; distance: number }[];
    expect(rows.map((r) => r.animal)).toEqual(['Cat', 'Dog', 'Frog']);
    expect(Math.abs(rows[0].distance)).toBeLessThan(1e-6);
    expect(Math.abs(rows[1].distance - 0.0029455257170004634)).toBeLessThan(1e-6);
    expect(Math.abs(rows[2].distance - 0.05131670194948623)).toBeLessThan(1e-6);
  });
});

describe('__quiver_vector_check in a CHECK constraint', () => {
  beforeEach(() => {
    db.exec(`CREATE TABLE t (
      id INTEGER PRIMARY KEY,
      vec BLOB CHECK (__quiver_vector_check(vec, 2, 'vec')),
      raw BLOB CHECK (__quiver_vector_check(raw, NULL, 'raw'))
    )`);
  });

  const insert = (vec: unknown, raw: unknown = null) => db.prepare('INSERT INTO t (vec, raw) VALUES (?, ?)').run(vec, raw);
  const count = () => value('SELECT count(*) FROM t');

  it('accepts a vector of the declared length and NULL', () => {
    insert(encodeVector([0.1, 0.2]));
    insert(null);
    db.exec("INSERT INTO t (vec) VALUES (VEC_FROMTEXT('[1, 2]'))");
    expect(count()).toBe(3);
  });

  it('rejects a wrong-length insert with DIMENSION_MISMATCH and writes nothing', () => {
    expectQuiverError(() => insert(encodeVector([1, 2, 3])), 'DIMENSION_MISMATCH', 'column vec is VECTOR(2); got 3 values');
    expectQuiverError(
      () => db.exec("INSERT INTO t (vec) VALUES (VEC_FROMTEXT('[1]'))"),
      'DIMENSION_MISMATCH',
      'column vec is VECTOR(2); got 1 values',
    );
    expect(count()).toBe(0);
  });

  it('rejects the same on UPDATE', () => {
    insert(encodeVector([1, 2]));
    expectQuiverError(
      () => db.prepare('UPDATE t SET vec = ?').run(encodeVector([1, 2, 3, 4])),
      'DIMENSION_MISMATCH',
      'column vec is VECTOR(2); got 4 values',
    );
    expect(floats(value('SELECT vec FROM t'))).toEqual([1, 2]);
  });

  it('rejects text, numbers, ragged blobs and non-finite elements with INVALID_VECTOR', () => {
    expectQuiverError(
      () => insert('[0.1, 0.2]'),
      'INVALID_VECTOR',
      "column vec is VECTOR(2); got TEXT — write VEC_FROMTEXT('[...]') or bind a JSON array",
    );
    expectQuiverError(() => insert(5), 'INVALID_VECTOR', /^column vec is VECTOR\(2\); got INTEGER — /);
    expectQuiverError(() => insert(Buffer.alloc(7)), 'INVALID_VECTOR', /^column vec is a BLOB of 7 bytes/);
    expectQuiverError(() => insert(NAN_BLOB), 'INVALID_VECTOR', 'column vec: element 2 is not a finite float32 number');
    expect(count()).toBe(0);
  });

  it('with NULL dims checks validity only, any legal length', () => {
    insert(null, encodeVector([1]));
    insert(null, encodeVector([1, 2, 3, 4, 5]));
    expectQuiverError(() => insert(null, Buffer.alloc(0)), 'INVALID_VECTOR', 'column raw has 0 dimensions; a vector has 1 to 16383');
    expectQuiverError(() => insert(null, Buffer.alloc(6)), 'INVALID_VECTOR', /^column raw is a BLOB of 6 bytes/);
    expectQuiverError(() => insert(null, 'x'), 'INVALID_VECTOR', /^column raw holds vectors; got TEXT — /);
    expect(count()).toBe(2);
  });

  it('treats a bad dims argument as a bug (plain Error), not a user mistake', () => {
    const call = () => value("SELECT __quiver_vector_check(x'00000000', 'two', 'vec')");
    expect(call).toThrow(Error);
    expect(call).not.toThrow(QuiverError);
  });
});

describe('__quiver_to_vector', () => {
  it('converts text and passes blobs of the declared length', () => {
    expect(floats(value("SELECT __quiver_to_vector('[0.5, 1]', 2, 'vec')"))).toEqual([0.5, 1]);
    const blob = encodeVector([3, 4]);
    expect(value("SELECT __quiver_to_vector(?, 2, 'vec')", blob)).toEqual(blob);
    expect(value("SELECT __quiver_to_vector(NULL, 2, 'vec')")).toBeNull();
    expect(floats(value("SELECT __quiver_to_vector('[1,2,3]', NULL, 'raw')"))).toEqual([1, 2, 3]);
  });

  it('rejects wrong lengths, numbers and bad text', () => {
    expectQuiverError(
      () => value("SELECT __quiver_to_vector('[1,2,3]', 2, 'vec')"),
      'DIMENSION_MISMATCH',
      'column vec is VECTOR(2); got 3 values',
    );
    expectQuiverError(
      () => value("SELECT __quiver_to_vector(?, 1024, 'vec')", encodeVector(new Array(768).fill(0))),
      'DIMENSION_MISMATCH',
      'column vec is VECTOR(1024); got 768 values',
    );
    expectQuiverError(
      () => value("SELECT __quiver_to_vector(1.5, 2, 'vec')"),
      'INVALID_VECTOR',
      "column vec is VECTOR(2); got REAL — write '[0.1, 0.2, ...]' or bind a JSON array",
    );
    expectQuiverError(() => value("SELECT __quiver_to_vector('nope', 2, 'vec')"), 'INVALID_VECTOR', /^column vec must look like/);
    expectQuiverError(() => value("SELECT __quiver_to_vector(?, 2, 'vec')", NAN_BLOB), 'INVALID_VECTOR', /element 2/);
  });

  it('wraps inserted values so text lands as a checked blob', () => {
    db.exec("CREATE TABLE t (vec BLOB CHECK (__quiver_vector_check(vec, 2, 'vec')))");
    db.prepare("INSERT INTO t (vec) VALUES (__quiver_to_vector(?, 2, 'vec'))").run('[0.25, 0.5]');
    expect(value('SELECT typeof(vec) FROM t')).toBe('blob');
    expect(value('SELECT VEC_TOTEXT(vec) FROM t')).toBe('[0.25,0.5]');
  });
});

describe('use inside schema objects', () => {
  it('works in a STORED generated column (deterministic is required there)', () => {
    db.exec('CREATE TABLE docs (body TEXT, vec BLOB GENERATED ALWAYS AS (VEC_FROMTEXT(body)) STORED)');
    db.prepare('INSERT INTO docs (body) VALUES (?)').run('[1, 2]');
    expect(value('SELECT VECTOR_DIM(vec) FROM docs')).toBe(2);
    expectQuiverError(() => db.prepare('INSERT INTO docs (body) VALUES (?)').run('oops'), 'INVALID_VECTOR', /^VEC_FROMTEXT: argument 1/);
    expect(value('SELECT count(*) FROM docs')).toBe(1);
  });

  it('works in an expression index', () => {
    db.exec('CREATE TABLE t (vec BLOB)');
    db.exec('CREATE INDEX t_dim ON t (VECTOR_DIM(vec))');
    db.prepare('INSERT INTO t (vec) VALUES (?)').run(encodeVector([1, 2, 3]));
    expect(value('SELECT count(*) FROM t WHERE VECTOR_DIM(vec) = 3')).toBe(1);
  });

  it('keeps the QuiverError when the failure happens inside a transaction', () => {
    db.exec("CREATE TABLE t (vec BLOB CHECK (__quiver_vector_check(vec, 2, 'vec')))");
    const run = db.transaction(() => {
      db.prepare("INSERT INTO t VALUES (VEC_FROMTEXT('[1,2]'))").run();
      db.prepare("INSERT INTO t VALUES (VEC_FROMTEXT('[1,2,3]'))").run();
    });
    expectQuiverError(() => run(), 'DIMENSION_MISMATCH');
    expect(value('SELECT count(*) FROM t')).toBe(0);
  });
});
