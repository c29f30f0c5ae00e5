/**
 * @module bench/lib/dataset
 * The data both sides of the SQL benchmark hold: `items`, 10,000 rows of seeded-random 128-d
 * vectors that the point and vector workloads read, and an empty `items2` that the insert
 * workload fills, so the read table stays the same size throughout. Quiver declares its vector
 * columns VECTOR(n); the baseline stores the same float32 little-endian bytes in a plain BLOB.
 */
import { Random } from './random.ts';

export const ROW_COUNT = 10_000;
export const ITEM_DIMS = 128;
export const INSERT_DIMS = 8;
const DATA_SEED = 1;

/** The baseline's database file inside its data dir. */
export const BASELINE_DATABASE_FILE = 'baseline.db';

export const QUIVER_SCHEMA = [
  `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, v VECTOR(${ITEM_DIMS}))`,
  `CREATE TABLE items2 (id INTEGER PRIMARY KEY, name TEXT, v VECTOR(${INSERT_DIMS}))`,
];

export const BASELINE_SCHEMA = [
  'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, v BLOB)',
  'CREATE TABLE items2 (id INTEGER PRIMARY KEY, name TEXT, v BLOB)',
];

export interface Item {
  id: number;
  name: string;
  v: number[];
}

/** The `items` rows, ids 1..ROW_COUNT; the same on every call. */
export function generateItems(): Item[] {
  const random = new Random(DATA_SEED);
  return Array.from({ length: ROW_COUNT }, (_, i) => ({ id: i + 1, name: `item-${i + 1}`, v: random.vector(ITEM_DIMS) }));
}

/** A vector as the float32 little-endian BLOB Quiver stores for it, encoded as cheaply as Quiver does. */
export function vectorBlob(values: readonly number[]): Buffer {
  const blob = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) blob.writeFloatLE(values[i], i * 4);
  return blob;
}
