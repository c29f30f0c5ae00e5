/**
 * @module bench/lib/workloads
 * The three SQL benchmark workloads, shared by the driver (which sends them) and the baseline
 * server (which prepares each one's SQL once and serves it on its own route). Each request body
 * is `{"sql": ..., "params": [...]}` for both sides, so both parse the same bytes; the baseline
 * ignores `sql` and runs its prepared statement. Bodies come from a seeded pool built before the
 * run: building them while measuring would spend the client's CPU, which on a small machine is
 * the server's CPU too.
 */
import { INSERT_DIMS, ITEM_DIMS, ROW_COUNT } from './dataset.ts';
import { Random } from './random.ts';

export const INSERT_ROWS = 100;
const TOP_K = 10;

export interface Workload {
  /** Short key, e.g. for log lines. */
  key: string;
  /** The row label in the results table. */
  title: string;
  sql: string;
  /** The baseline's route for this workload. */
  route: string;
  /** Builds the pool of request bodies cycled through during a run; seeded, so the same every run. */
  bodies(): Buffer[];
}

function bodyPool(seed: number, size: number, sql: string, params: (random: Random) => unknown[]): Buffer[] {
  const random = new Random(seed);
  return Array.from({ length: size }, () => Buffer.from(JSON.stringify({ sql, params: params(random) })));
}

const POINT_SQL = 'SELECT id, name FROM items WHERE id = ?';

// One text for every request, so both sides prepare it once; only the parameters vary.
const INSERT_SQL = `INSERT INTO items2 (name, v) VALUES ${Array.from({ length: INSERT_ROWS }, () => '(?, ?)').join(', ')}`;

const VECTOR_SQL = `SELECT id, VEC_DISTANCE_COSINE(v, ?) AS d FROM items ORDER BY d LIMIT ${TOP_K}`;

export const WORKLOADS: readonly Workload[] = [
  {
    key: 'point',
    title: 'point SELECT by primary key',
    sql: POINT_SQL,
    route: '/point',
    bodies: () => bodyPool(2, ROW_COUNT, POINT_SQL, (random) => [random.int(1, ROW_COUNT)]),
  },
  {
    key: 'insert',
    title: `${INSERT_ROWS}-row INSERT (text + ${INSERT_DIMS}-d vector)`,
    sql: INSERT_SQL,
    route: '/insert',
    bodies: () =>
      bodyPool(3, 200, INSERT_SQL, (random) =>
        Array.from({ length: INSERT_ROWS }, () => [`n-${random.int(0, 999_999)}`, random.vector(INSERT_DIMS)]).flat(),
      ),
  },
  {
    key: 'vector',
    title: `exact top-${TOP_K} cosine over ${ROW_COUNT.toLocaleString('en')} × ${ITEM_DIMS}-d`,
    sql: VECTOR_SQL,
    route: '/vector',
    bodies: () => bodyPool(4, 1000, VECTOR_SQL, (random) => [random.vector(ITEM_DIMS)]),
  },
];
