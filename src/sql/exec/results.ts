/**
 * @module exec/results
 * How a statement's rows become a result: column names, which columns hold vectors (decoded
 * from their BLOBs), and integers as numbers where they fit. A reader's shape is worked out
 * once per prepared statement and catalog version, since it depends on both.
 */
import type Database from 'better-sqlite3';
import { decodeVector } from '../../core/index.ts';
import type { Catalog } from '../catalog/index.ts';
import type { LoweredStatement } from '../lower/index.ts';
import type { SqlValue, StatementResult } from '../types.ts';

/** A reader's column names and which of them hold vectors. */
export interface ResultShape {
  version: number;
  names: string[];
  isVector: boolean[];
}

/** The result of a statement that returns no rows. */
export function emptyResult(changes = 0, lastInsertId: number | bigint | null = null): StatementResult {
  return { columns: [], rows: [], changes, lastInsertId };
}

/** A result of rows with the given columns. */
export function rowsResult(columns: string[], rows: SqlValue[][]): StatementResult {
  return { columns, rows, changes: 0, lastInsertId: null };
}

/** Result shapes of prepared statements, per catalog version. */
export class ResultShapes {
  private readonly shapes = new WeakMap<Database.Statement, ResultShape>();

  constructor(private readonly catalog: Catalog) {}

  /** `stmt`'s shape; sets it to return raw rows with exact integers, as results need. */
  of(stmt: Database.Statement, lowered: LoweredStatement): ResultShape {
    const known = this.shapes.get(stmt);
    if (known && known.version === this.catalog.version) return known;
    stmt.raw(true);
    stmt.safeIntegers(true);
    const columns = stmt.columns();
    const shape: ResultShape = {
      version: this.catalog.version,
      names: columns.map((c) => c.name),
      isVector: columns.map((c) => {
        if (lowered.vectorResultNames.has(c.name)) return true;
        if (!c.table || !c.column) return false;
        const table = this.catalog.table(c.table);
        return table?.columns.some((col) => col.vectorDims !== null && col.name.toLowerCase() === c.column!.toLowerCase()) ?? false;
      }),
    };
    this.shapes.set(stmt, shape);
    return shape;
  }
}

/** Rows as the API gives them: safe integers as numbers, vector blobs as Float32Array. In place. */
export function shapeRows(rows: SqlValue[][], { isVector }: ResultShape): SqlValue[][] {
  for (const row of rows) {
    for (let j = 0; j < row.length; j++) {
      const v = row[j];
      if (typeof v === 'bigint') row[j] = normalizeInteger(v);
      else if (isVector[j] && v instanceof Uint8Array && v.byteLength % 4 === 0) row[j] = decodeVector(v);
    }
  }
  return rows;
}

/** An integer as a number when it is a safe one, else as the bigint SQLite gave. */
export function normalizeInteger(v: number | bigint): number | bigint {
  return typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
