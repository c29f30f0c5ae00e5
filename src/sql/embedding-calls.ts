/**
 * @module embedding-calls
 * The SQL function EMBEDDING(text, model [, dims]) and the bookkeeping that keeps it from ever
 * waiting on the network inside SQLite (DESIGN decision 6).
 *
 * SQLite calls user functions synchronously, so EMBEDDING() only answers from what is already
 * at hand: vectors fetched for this request, then the persistent cache. A statement runs first
 * in *collecting* mode: each miss is recorded and answered with a zero placeholder. If anything
 * was missing, the engine rolls the work back, fetches every missing text in batches (with no
 * transaction open when it can), and runs the statement again; the second run finds them all.
 * Runs on the thread that owns the database connection.
 */
import type Database from 'better-sqlite3';
import { QuiverError } from './errors.ts';
import { encodeVector } from './vector-codec.ts';

/** What EMBEDDING() needs from the embedding layer (src/embed). */
export interface EmbeddingSource {
  /** The dims to produce for `model` (its own when `dims` is undefined); throws for unknown models or impossible dims. */
  resolveDims(model: string, dims: number | undefined): number;
  /** Cached vectors, synchronously; undefined where not cached. */
  cached(model: string, dims: number, texts: string[]): (Float32Array | undefined)[];
  /** Embeds `texts` (all distinct) through the provider, caching them; throws EMBEDDING_FAILED. */
  fetch(model: string, dims: number, texts: string[]): Promise<Float32Array[]>;
  /** The configured models, for SHOW EMBEDDING MODELS; never their keys. */
  listModels(): ReadonlyArray<{ name: string; provider: string; dims: number; maxBatch: number; maxConcurrency: number }>;
}

/** Texts one model/dims pair still needs. */
export interface MissingTexts {
  model: string;
  dims: number;
  texts: string[];
}

/** Texts per provider call in a fetch: enough to keep every batch slot of a model busy. */
const FETCH_SLICE_MIN = 256;

function key(model: string, dims: number, text: string): string {
  return `${model}\u0000${dims}\u0000${text}`;
}

/** One request's embedding state: what it fetched and what its last run missed. */
export class EmbeddingRound {
  /** Vectors fetched for this request: they outlive any cache eviction until it ends. */
  private readonly fetched = new Map<string, Float32Array>();
  private readonly missing = new Map<string, MissingTexts & { seen: Set<string> }>();
  /** Collecting: a miss is recorded and answered with a placeholder; otherwise it is an error. */
  collecting = true;

  constructor(private readonly source: EmbeddingSource) {}

  get hasMisses(): boolean {
    return this.missing.size > 0;
  }

  /** Texts fetched so far and in all, while a fetch runs (SHOW PROCESSLIST, the server log). */
  progress: { model: string; done: number; total: number; startedAt: number } | null = null;

  /**
   * Fetches every miss of the last run (no transaction should be open, see engine.ts), in
   * slices of a few provider rounds each, so progress can be reported between them.
   */
  async fetchMisses(report?: (progress: NonNullable<EmbeddingRound['progress']>) => void): Promise<void> {
    const misses = [...this.missing.values()];
    this.missing.clear();
    try {
      for (const m of misses) {
        const model = this.source.listModels().find((x) => x.name.toLowerCase() === m.model.toLowerCase());
        // A whole number of batches per slice, so slicing never adds a provider request.
        const batch = model?.maxBatch ?? 1;
        const slice = Math.ceil(Math.max(FETCH_SLICE_MIN, batch * (model?.maxConcurrency ?? 1) * 4) / batch) * batch;
        this.progress = { model: m.model, done: 0, total: m.texts.length, startedAt: Date.now() };
        for (let start = 0; start < m.texts.length; start += slice) {
          const texts = m.texts.slice(start, start + slice);
          const vectors = await this.source.fetch(m.model, m.dims, texts);
          texts.forEach((text, i) => this.fetched.set(key(m.model, m.dims, text), vectors[i]));
          this.progress.done += texts.length;
          report?.(this.progress);
        }
      }
    } finally {
      this.progress = null;
    }
  }

  /** EMBEDDING() for one row. */
  lookup(model: string, dims: number, text: string): Float32Array {
    const k = key(model, dims, text);
    const hit = this.fetched.get(k) ?? this.source.cached(model, dims, [text])[0];
    if (hit) return hit;
    if (!this.collecting) {
      throw new QuiverError('EMBEDDING_FAILED', `EMBEDDING(): model ${model} gave no vector for a text it was asked for; retry the request`);
    }
    let entry = this.missing.get(`${model}\u0000${dims}`);
    if (!entry) {
      entry = { model, dims, texts: [], seen: new Set() };
      this.missing.set(`${model}\u0000${dims}`, entry);
    }
    if (!entry.seen.has(text)) {
      entry.seen.add(text);
      entry.texts.push(text);
    }
    return new Float32Array(dims);
  }
}

/** EMBEDDING() on a connection, answering for whichever request holds the connection. */
export class EmbeddingCalls {
  /** The round of the request that holds the engine's lock; null between requests. */
  current: EmbeddingRound | null = null;

  constructor(readonly source: EmbeddingSource | null) {}

  /** Registers EMBEDDING(text, model) and EMBEDDING(text, model, dims) on `db`. */
  register(db: Database.Database): void {
    db.function('embedding', { deterministic: true }, (text: unknown, model: unknown) => this.call(text, model, undefined));
    db.function('embedding', { deterministic: true }, (text: unknown, model: unknown, dims: unknown) => this.call(text, model, dims));
  }

  /** A new round for a request, or null when no embedding model is configured. */
  newRound(): EmbeddingRound | null {
    return this.source ? new EmbeddingRound(this.source) : null;
  }

  private call(text: unknown, model: unknown, dims: unknown): Buffer | null {
    if (text === null || text === undefined) return null;
    if (typeof model !== 'string') throw new QuiverError('SQL_ERROR', "EMBEDDING(text, model [, dims]): model must be a string such as 'text-embedding-v4'");
    if (!this.source) throw new QuiverError('UNKNOWN_MODEL', `EMBEDDING(): no embedding model is configured, so there is no model ${model}`);
    let requested: number | undefined;
    if (dims !== undefined && dims !== null) {
      const n = Number(dims);
      if (!Number.isInteger(n)) throw new QuiverError('SQL_ERROR', 'EMBEDDING(text, model, dims): dims must be an integer');
      requested = n;
    }
    const resolved = this.source.resolveDims(model, requested);
    if (typeof text !== 'string' && typeof text !== 'number' && typeof text !== 'bigint') {
      throw new QuiverError('TYPE_MISMATCH', 'EMBEDDING(text, model [, dims]): text must be text, not a blob');
    }
    const round = this.current;
    if (!round) throw new Error('EMBEDDING() called outside a request');
    return encodeVector(round.lookup(model, resolved, String(text)));
  }
}
