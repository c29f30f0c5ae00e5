/**
 * @module bench/ann/quantized
 * The quantized variants of bench:ann. Each re-encodes the float32 segment's vectors as int8 or
 * int16 records (same graph, same links: what a quantized index's flush makes of the graph it
 * linked), searches it for rerankPoolSize(k, quantization) candidates and re-ranks them exactly with the
 * index's own ExactReranker — the path VectorIndex.search takes for a quantized index. The
 * float32 originals come from where the server keeps them, a SQLite table read by rowid
 * (`sqlite`), or from an array (`memory`), which shows what the reads cost.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Quantization } from '../../src/index/index.ts';
import {
  ExactReranker,
  quantizeSegment,
  partOutput,
  rerankPoolSize,
  type OriginalVectors,
  type PartOutput,
  type Segment,
} from '../../src/index/testing.ts';
import type { AnnDataset } from './dataset.ts';

/** Where a quantized side reads its float32 originals from. */
export type OriginalsKind = 'sqlite' | 'memory';

/** A SQLite file holding the base vectors as float32 BLOBs (rowid = base id), as a table does. */
export class OriginalsTable {
  private readonly db: Database.Database;
  private readonly file: string;
  private readonly select: Database.Statement;

  constructor(data: AnnDataset) {
    this.file = path.join(os.tmpdir(), `quiver-bench-ann-originals-${process.pid}.db`);
    fs.rmSync(this.file, { force: true });
    this.db = new Database(this.file);
    this.db.pragma('journal_mode = WAL');
    this.db.exec('CREATE TABLE base (id INTEGER PRIMARY KEY, vec BLOB NOT NULL)');
    const insert = this.db.prepare('INSERT INTO base (id, vec) VALUES (?, ?)');
    const dims = data.dims;
    this.db.transaction(() => {
      for (let i = 0; i < data.baseCount; i++) {
        const v = data.base.subarray(i * dims, (i + 1) * dims);
        insert.run(i, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
      }
    })();
    this.select = this.db.prepare('SELECT vec FROM base WHERE id = ?').pluck();
  }

  /** The source the index would be given: one rowid lookup per candidate. */
  source(): OriginalVectors {
    return (rowId) => {
      const blob = this.select.get(rowId) as Buffer | undefined;
      if (blob === undefined) return null;
      return blob.byteOffset % 4 === 0
        ? new Float32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4)
        : new Float32Array(Uint8Array.from(blob).buffer);
    };
  }

  close(): void {
    this.db.close();
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(this.file + suffix, { force: true });
  }
}

/** A quantized segment plus the exact re-rank of its pool, as one query path. */
export class QuantizedSearch {
  readonly segment: Segment;
  readonly quantization: Quantization;
  private readonly reranker: ExactReranker;
  private readonly k: number;
  private readonly pool: number;
  private readonly pooled: PartOutput;
  private readonly order: number[];
  private readonly out: Float64Array;

  constructor(float32: Segment, quantization: Exclude<Quantization, 'none'>, originals: OriginalVectors, k: number) {
    this.segment = quantizeSegment(float32, quantization);
    this.quantization = quantization;
    this.reranker = new ExactReranker(float32.metric, float32.dims, originals);
    this.k = k;
    const pool = rerankPoolSize(k, quantization);
    this.pool = pool;
    this.pooled = partOutput(pool);
    this.order = Array.from({ length: pool }, (_, i) => i);
    this.out = new Float64Array(k);
  }

  /** Bytes of the segment's arrays (records, links, row ids, alive bits). */
  structureBytes(): number {
    const s = this.segment;
    return s.graph.byteLength() + s.rowIds.byteLength + s.alive.words.byteLength;
  }

  /** The k nearest ids for a stored-form query, by exact distance among the re-ranked pool. */
  search(query: Float32Array, ef: number, filter: ((id: number) => boolean) | null): Float64Array {
    const found = this.segment.search(query, this.pool, ef, filter, this.pooled);
    const { rowIds: ids, keys } = this.pooled;
    for (let i = 0; i < found; i++) keys[i] = this.reranker.key(ids[i], query) ?? keys[i];
    const order = this.order.slice(0, found).sort((a, b) => keys[a] - keys[b] || ids[a] - ids[b]);
    const n = Math.min(this.k, found);
    for (let i = 0; i < n; i++) this.out[i] = ids[order[i]];
    return this.out.subarray(0, n);
  }
}
