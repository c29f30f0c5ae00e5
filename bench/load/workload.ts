/**
 * @module bench/load/workload
 * The mixed workload of `npm run bench:load` and the soak (scripts/soak.ts): the table, its
 * seed rows, and the request bodies of each operation. One table, `docs`, whose vectors the
 * database computes (`vec VECTOR(d) AS (EMBEDDING(doc, 'load-embed', d)) STORED`, provider
 * ./provider.ts) under an HNSW index, with a tenant and a category column for filters.
 *
 * Operations, by default 80 / 15 / 5:
 * - query: `SELECT id, doc FROM docs WHERE <filter> ORDER BY DISTANCE(vec, ?, 'COSINE') LIMIT
 *   10` with a bound query vector, the filter one of QUERY_SHAPES (chosen so that on the seeded
 *   table the planner takes a different path for each; the benchmark prints which);
 * - insert: one row of new text (never seen, so the provider is asked every time);
 * - delete: one live row by id, which must change exactly one row.
 * Query vectors are built ahead in a pool (building them while measuring would take the
 * client's CPU, which on a small machine is the server's too); ids to delete come from LiveIds.
 */
import { Random } from '../lib/random.ts';
import { TOPICS, textVector } from './vectors.ts';

export const MODEL = 'load-embed';
export const TABLE = 'docs';
export const INDEX = 'vi';
export const K = 10;
export const TENANTS = 5;
export const CATEGORIES = 10;
/** Rows per seeding INSERT. */
export const SEED_BATCH_ROWS = 500;
const QUERY_POOL = 2_000;

const WORDS = (
  'vector index segment merge graph query filter recall latency embedding provider batch cache table column row ' +
  'insert commit snapshot cosine distance neighbour layer search hybrid keyword score rank document chunk token ' +
  'model server request client stream page disk memory thread lock queue retry timeout tenant category answer'
).split(' ');

export type OpKind = 'query' | 'insert' | 'delete';
export const OP_KINDS: readonly OpKind[] = ['query', 'insert', 'delete'];

/** Shares of each operation, summing to 1. */
export type Mix = Record<OpKind, number>;
export const DEFAULT_MIX: Mix = { query: 0.8, insert: 0.15, delete: 0.05 };

/** One filter of the query operation, with its share of the queries. */
export interface QueryShape {
  key: string;
  /** The WHERE as written, for reports. */
  where: string;
  share: number;
  params(random: Random): number[];
}

/**
 * On the seeded table (uniform tenants and categories): `tenant = ?` keeps 20%, which the
 * planner answers by filtered-ann once its 200-row sample puts more than 2,000 rows through
 * (from about 15,000 rows on); `tenant = ? AND category = ?` keeps 2% (prefilter: SQLite
 * filters, survivors are scored exactly); `category <> ?` keeps 90% (postfilter: the index's
 * candidates, filtered by SQLite). The planner samples per query, so near a threshold one
 * filter may take either path.
 */
export const QUERY_SHAPES: readonly QueryShape[] = [
  { key: 'tenant', where: 'tenant = ?', share: 0.5, params: (r) => [r.int(0, TENANTS - 1)] },
  { key: 'tenant+category', where: 'tenant = ? AND category = ?', share: 0.25, params: (r) => [r.int(0, TENANTS - 1), r.int(0, CATEGORIES - 1)] },
  { key: 'not category', where: 'category <> ?', share: 0.25, params: (r) => [r.int(0, CATEGORIES - 1)] },
];

/** The statements creating the table and its indexes. */
export function schemaStatements(dims: number): string[] {
  return [
    `CREATE TABLE ${TABLE} (id INT AUTO_INCREMENT PRIMARY KEY, tenant INT NOT NULL, category INT NOT NULL, doc TEXT NOT NULL, ` +
      `vec VECTOR(${dims}) AS (EMBEDDING(doc, '${MODEL}', ${dims})) STORED, VECTOR INDEX ${INDEX}(vec) distance=cosine)`,
    `CREATE INDEX ${TABLE}_tenant ON ${TABLE}(tenant, category)`,
  ];
}

/** The query statement of `shape`: the filter's parameters first, then the query vector. */
export function querySql(shape: QueryShape): string {
  return `SELECT id, doc FROM ${TABLE} WHERE ${shape.where} ORDER BY DISTANCE(vec, ?, 'COSINE') LIMIT ${K}`;
}

export const INSERT_SQL = `INSERT INTO ${TABLE} (tenant, category, doc) VALUES (?, ?, ?)`;
export const DELETE_SQL = `DELETE FROM ${TABLE} WHERE id = ?`;
export const POINT_SQL = `SELECT id, tenant, category, doc FROM ${TABLE} WHERE id = ?`;

/** A document of 4–9 words: a topic word, words from WORDS, and `tag`, which makes it unique. */
export function documentText(random: Random, tag: string): string {
  const words = Array.from({ length: random.int(3, 8) }, () => WORDS[random.int(0, WORDS.length - 1)]);
  return `t${random.int(0, TOPICS - 1)} ${words.join(' ')} ${tag}`;
}

/** One seeding INSERT of `rows` rows; tags `s<first>`..., so seeded texts never repeat. */
export function seedBody(random: Random, first: number, rows: number): string {
  const values = Array.from({ length: rows }, () => '(?, ?, ?)').join(', ');
  const params: (number | string)[] = [];
  for (let i = 0; i < rows; i++) params.push(random.int(0, TENANTS - 1), random.int(0, CATEGORIES - 1), documentText(random, `s${first + i}`));
  return JSON.stringify({ sql: `INSERT INTO ${TABLE} (tenant, category, doc) VALUES ${values}`, params });
}

/** Ids of the rows believed live, with O(1) add, random take and size. */
export class LiveIds {
  private readonly ids: number[] = [];

  get size(): number {
    return this.ids.length;
  }

  add(id: number): void {
    this.ids.push(id);
  }

  /** Removes and returns a random id, or undefined when there is none. */
  take(random: Random): number | undefined {
    if (this.ids.length === 0) return undefined;
    const i = random.int(0, this.ids.length - 1);
    const id = this.ids[i];
    this.ids[i] = this.ids[this.ids.length - 1];
    this.ids.pop();
    return id;
  }

  /** Up to `n` ids at random, left in place. */
  sample(random: Random, n: number): number[] {
    return Array.from({ length: Math.min(n, this.ids.length) }, () => this.ids[random.int(0, this.ids.length - 1)]);
  }
}

/** Builds request bodies for the operations, from a seed; the query vectors are built ahead. */
export class Bodies {
  private readonly vectors: string[];
  private readonly random: Random;
  private serial = 0;

  /** `tagPrefix` keeps inserted texts unique across drivers and runs on one table. */
  constructor(
    seed: number,
    readonly dims: number,
    private readonly tagPrefix: string,
  ) {
    const pool = new Random(seed);
    this.vectors = Array.from({ length: QUERY_POOL }, (_, i) => JSON.stringify(textVector(documentText(pool, `q${seed}-${i}`), dims)));
    this.random = new Random(seed + 1);
  }

  /** The next operation kind, drawn from `mix`. */
  pick(mix: Mix): OpKind {
    const r = this.random.next();
    if (r < mix.query) return 'query';
    return r < mix.query + mix.insert ? 'insert' : 'delete';
  }

  /** A query body: a shape drawn by share, its parameters and a pooled vector. */
  query(): { shape: QueryShape; body: string } {
    let r = this.random.next();
    const shape = QUERY_SHAPES.find((s) => (r -= s.share) < 0) ?? QUERY_SHAPES[QUERY_SHAPES.length - 1];
    const vector = this.vectors[this.random.int(0, this.vectors.length - 1)];
    const params = shape.params(this.random);
    const sql = JSON.stringify(querySql(shape));
    return { shape, body: `{"sql":${sql},"params":[${params.join(',')},${vector}]}` };
  }

  insert(): string {
    const doc = documentText(this.random, `${this.tagPrefix}-${++this.serial}`);
    return JSON.stringify({ sql: INSERT_SQL, params: [this.random.int(0, TENANTS - 1), this.random.int(0, CATEGORIES - 1), doc] });
  }

  delete(id: number): string {
    return JSON.stringify({ sql: DELETE_SQL, params: [id] });
  }

  point(id: number): string {
    return JSON.stringify({ sql: POINT_SQL, params: [id] });
  }

  /** The random source of this builder, for choices the caller makes (which id to delete). */
  get source(): Random {
    return this.random;
  }
}
