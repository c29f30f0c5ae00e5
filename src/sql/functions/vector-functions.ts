/**
 * @module functions/vector-functions
 * The vector functions SQLite runs on Quiver's behalf, registered on each connection: AliSQL's
 * VEC_* family, MySQL's names for the same things (TO_VECTOR, VECTOR_DIM, ...), PolarDB's
 * DISTANCE(a, b, metric), and the `__quiver_` helpers the DDL layer writes into CHECK
 * constraints and INSERT rewrites. Every vector argument is a float32 little-endian BLOB or
 * '[0.1, 0.2]' TEXT; NULL in gives NULL out; a bad argument throws a QuiverError, which
 * better-sqlite3 rethrows unchanged from run()/all()/get(), so its code reaches the API.
 * All functions are deterministic, which SQLite requires for generated columns and lets it
 * evaluate a constant query vector once per statement instead of once per row. They are not
 * flagged innocuous (better-sqlite3 cannot), so schemas using them need trusted_schema on,
 * SQLite's default.
 */
import type Database from 'better-sqlite3';
import { cosineDistance, distanceFunction, euclideanDistance, negativeDot, type DistanceFunction } from '../../index/index.ts';
import { parseMetric, QuiverError, MAX_VECTOR_DIMS, MIN_VECTOR_DIMS, checkDims, viewVector, encodeVector, formatVectorText, parseVectorText } from '../../core/index.ts';

/** What better-sqlite3 hands a function for one SQL value (BigInt under safeIntegers). */
type SqlArg = string | number | bigint | Buffer | null;

const REGISTER_OPTIONS = { deterministic: true } as const;

/** Registers every vector function and alias on `db`; call once per connection, before use. */
export function registerVectorFunctions(db: Database.Database): void {
  // Each alias is its own closure so an error names the function the user actually called.
  for (const name of ['VEC_FROMTEXT', 'TO_VECTOR', 'STRING_TO_VECTOR']) {
    db.function(name, REGISTER_OPTIONS, (value: SqlArg) =>
      value === null ? null : encodeVector(readVector(value, name, 1)),
    );
  }
  for (const name of ['VEC_TOTEXT', 'FROM_VECTOR', 'VECTOR_TO_STRING']) {
    db.function(name, REGISTER_OPTIONS, (value: SqlArg) =>
      value === null ? null : formatVectorText(readVector(value, name, 1)),
    );
  }

  // A number comes back from a function as REAL; a BigInt makes typeof() say 'integer'.
  db.function('VECTOR_DIM', REGISTER_OPTIONS, (value: SqlArg) =>
    value === null ? null : BigInt(readVector(value, 'VECTOR_DIM', 1).length),
  );

  db.function('VEC_NORMALIZE', REGISTER_OPTIONS, (value: SqlArg) =>
    value === null ? null : encodeVector(normalize(readVector(value, 'VEC_NORMALIZE', 1))),
  );

  registerDistance(db, 'VEC_DISTANCE_COSINE', cosineDistance);
  registerDistance(db, 'VEC_DISTANCE_EUCLIDEAN', euclideanDistance);
  registerDistance(db, 'VEC_DISTANCE_DOT', negativeDot);

  // PolarDB's DISTANCE; VECTOR_DISTANCE is MySQL 9's synonym for the same three-argument form.
  for (const name of ['DISTANCE', 'VECTOR_DISTANCE']) {
    db.function(name, REGISTER_OPTIONS, (a: SqlArg, b: SqlArg, metric: SqlArg) => {
      if (a === null || b === null || metric === null) return null;
      if (typeof metric !== 'string') {
        throw new QuiverError('TYPE_MISMATCH', `${name}: argument 3 must be a metric name as TEXT; got ${sqlTypeName(metric)}`);
      }
      const kernel = distanceFunction(parseMetric(metric, `${name}: argument 3`));
      return measure(name, kernel, a, b);
    });
  }

  db.function('__quiver_vector_check', REGISTER_OPTIONS, (value: SqlArg, dims: SqlArg, column: SqlArg) => {
    if (value !== null) checkColumnValue(value, readColumnDims(dims), String(column), false);
    return 1n;
  });
  db.function('__quiver_to_vector', REGISTER_OPTIONS, (value: SqlArg, dims: SqlArg, column: SqlArg) =>
    value === null ? null : checkColumnValue(value, readColumnDims(dims), String(column), true),
  );
}

function registerDistance(db: Database.Database, name: string, kernel: DistanceFunction): void {
  db.function(name, REGISTER_OPTIONS, (a: SqlArg, b: SqlArg) =>
    a === null || b === null ? null : measure(name, kernel, a, b),
  );
}

/** Runs `kernel` on two non-NULL arguments after checking both are vectors of one length. */
function measure(name: string, kernel: DistanceFunction, a: Exclude<SqlArg, null>, b: Exclude<SqlArg, null>): number {
  const first = readVector(a, name, 1);
  const second = readVector(b, name, 2);
  if (first.length !== second.length) {
    throw new QuiverError(
      'DIMENSION_MISMATCH',
      `${name}: first vector has ${first.length} dimensions, second has ${second.length}`,
    );
  }
  return kernel(first, second);
}

/** A vector argument (BLOB or '[...]' TEXT) of function `name` at 1-based `position`. */
function readVector(value: Exclude<SqlArg, null>, name: string, position: number): Float32Array {
  const what = `${name}: argument ${position}`;
  if (typeof value === 'string') return parseVectorText(value, what);
  if (Buffer.isBuffer(value)) {
    const vector = decodeBlob(value, what);
    checkDims(vector.length, what);
    checkFinite(vector, what);
    return vector;
  }
  throw new QuiverError(
    'INVALID_VECTOR',
    `${what} must be a vector (a BLOB or TEXT like '[0.1, 0.2]'); got ${sqlTypeName(value)}`,
  );
}

/**
 * The shared body of __quiver_vector_check and __quiver_to_vector: checks a non-NULL value
 * against a column of `dims` values (NULL dims: any legal length, for VARBINARY columns).
 * A CHECK constraint sees the value as stored, so only a BLOB passes it; the conversion also
 * accepts '[...]' TEXT and returns the BLOB to store.
 */
function checkColumnValue(value: Exclude<SqlArg, null>, dims: number | null, column: string, acceptText: boolean): Buffer {
  const declared = dims === null ? `column ${column} holds vectors` : `column ${column} is VECTOR(${dims})`;
  const what = `column ${column}`;
  let vector: Float32Array;
  if (Buffer.isBuffer(value)) {
    vector = decodeBlob(value, what);
  } else if (typeof value === 'string' && acceptText) {
    vector = parseVectorText(value, what);
  } else {
    const hint = acceptText ? `write '[0.1, 0.2, ...]' or bind a JSON array` : `write VEC_FROMTEXT('[...]') or bind a JSON array`;
    throw new QuiverError('INVALID_VECTOR', `${declared}; got ${sqlTypeName(value)} — ${hint}`);
  }
  if (dims === null) checkDims(vector.length, what);
  else if (vector.length !== dims) {
    throw new QuiverError('DIMENSION_MISMATCH', `${declared}; got ${vector.length} values`);
  }
  checkFinite(vector, what);
  return Buffer.isBuffer(value) ? value : encodeVector(vector);
}

/** Decodes a BLOB whose length must be a whole number of float32 values. */
function decodeBlob(blob: Buffer, what: string): Float32Array {
  if (blob.length % 4 !== 0) {
    throw new QuiverError(
      'INVALID_VECTOR',
      `${what} is a BLOB of ${blob.length} bytes; a vector BLOB holds float32 values, so its length must be a multiple of 4`,
    );
  }
  // Functions only read their arguments during the call, so a view is enough.
  return viewVector(blob);
}

function checkFinite(vector: Float32Array, what: string): void {
  for (let i = 0; i < vector.length; i++) {
    if (!Number.isFinite(vector[i])) {
      throw new QuiverError('INVALID_VECTOR', `${what}: element ${i + 1} is not a finite float32 number`);
    }
  }
}

/**
 * The `dims` argument the DDL layer wrote: an integer in range, or NULL for "any length".
 * Anything else is a bug in the generated SQL, not the user's mistake, hence a plain Error.
 */
function readColumnDims(dims: SqlArg): number | null {
  if (dims === null) return null;
  const n = typeof dims === 'bigint' ? Number(dims) : dims;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < MIN_VECTOR_DIMS || n > MAX_VECTOR_DIMS) {
    throw new Error(`__quiver_ vector helper called with an invalid dimension argument (${typeof dims})`);
  }
  return n;
}

/**
 * Scales to unit length (in float64, then rounded to float32). The zero vector has no
 * direction and is returned unchanged, as pgvector's l2_normalize does, so one zero row does
 * not abort a whole statement; cosine distance already treats it as distance 1 from anything.
 */
function normalize(vector: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i] * vector[i];
  if (sum === 0) return vector;
  const norm = Math.sqrt(sum);
  const out = new Float32Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i] / norm;
  return out;
}

/**
 * SQLite's storage-class name for a value, for "expected vs got" messages. better-sqlite3
 * hands over a whole REAL such as 2.0 as the number 2, so that one reads as INTEGER.
 */
function sqlTypeName(value: Exclude<SqlArg, null>): string {
  if (typeof value === 'string') return 'TEXT';
  if (typeof value === 'bigint') return 'INTEGER';
  if (typeof value === 'number') return Number.isInteger(value) ? 'INTEGER' : 'REAL';
  return 'BLOB';
}
