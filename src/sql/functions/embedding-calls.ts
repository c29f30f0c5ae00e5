/**
 * @module functions/embedding-calls
 * The SQL function EMBEDDING(text, model [, dims]) and the bookkeeping that keeps it from ever
 * waiting on the network inside SQLite (DESIGN decision 6).
 *
 * SQLite calls user functions synchronously, so EMBEDDING() only answers from what is already
 * at hand: vectors fetched for this request, then the cache. Most texts are known before a
 * statement runs: they are written in it, as literals or bound parameters, either in an
 * EMBEDDING() call or in the VALUES of a column a STORED generated EMBEDDING() column is
 * computed from. EmbeddingRound.prefetchWritten reads those (predictTexts) so the engine can
 * fetch them before the first run, which then finds every vector and runs once. What cannot
 * be read that way (INSERT ... SELECT, UPDATE, EMBEDDING(col) in a query) is found by running
 * the statement in *collecting* mode: each miss is recorded and answered with a zero
 * placeholder, the engine rolls the work back, fetches every missing text in batches (with no
 * transaction open when it can), and runs the statement again; the second run finds them all.
 * A read's collecting run is on a read worker, which has neither the providers nor the cache
 * (read-embedding-calls.ts): it answers with the texts it missed instead of rows, and the engine
 * looks them up in the cache here (takeMissed) before it fetches the rest.
 * A wrong prediction costs at most a provider call for a text no row needed; never a wrong
 * vector, since every run looks each text up by its actual value.
 * Runs on the thread that owns the database connection.
 */
import type Database from 'better-sqlite3';
import { setImmediate } from 'node:timers/promises';
import type { A } from '../dialect/index.ts';
import { QuiverError, vectorBlob, type EmbeddingSource } from '../../core/index.ts';
import type { ColumnEmbedding } from '../catalog/index.ts';
import type { Params } from '../types.ts';

/** Texts one model/dims pair still needs. */
export interface MissingTexts {
  model: string;
  dims: number;
  texts: string[];
}

/** What predictTexts reads from the catalog: a table's columns, with generated ones' EMBEDDING() calls. */
export interface GeneratedColumnsView {
  table(name: string):
    | { columnRows: readonly { name: string; declaredType: string | null; generatedExpr: string | null; generatedStorage: string | null; embedding: ColumnEmbedding | null }[] }
    | undefined;
}

/** Texts per provider call in a fetch: enough to keep every batch slot of a model busy. */
const FETCH_SLICE_MIN = 256;
/** (model, dims) pairs whose resolved dims EMBEDDING() remembers; more clear the memory. */
const MAX_REMEMBERED_DIMS = 1000;

/** Texts looked up in the cache at a time by takeMissed: a long list never holds the thread for long. */
const CACHE_SLICE = 4096;

/**
 * What a read worker's EMBEDDING() answers from: vectors by embeddingKey(), every configured
 * model's own dims by lower-case name, and whether a miss gets a placeholder (collecting).
 */
export interface ReadEmbeddings {
  vectors: Map<string, Float32Array>;
  defaults: Map<string, number>;
  collecting: boolean;
}

/**
 * Texts a read worker's EMBEDDING() was not sent, by model as written and dims as asked
 * (undefined: the model's own, which the worker did not know), with the statement that first
 * missed them.
 */
export interface ReadMisses {
  model: string;
  dims: number | undefined;
  texts: string[];
  statement: number;
}

/** EMBEDDING(text, model [, dims])'s arguments, checked as far as they can be without the models; null when text is NULL. */
export function embeddingArgs(text: unknown, model: unknown, dims: unknown): { text: string; model: string; dims: number | undefined } | null {
  if (text === null || text === undefined) return null;
  if (typeof model !== 'string') throw new QuiverError('SQL_ERROR', "EMBEDDING(text, model [, dims]): model must be a string such as 'text-embedding-v4'");
  let requested: number | undefined;
  if (dims !== undefined && dims !== null) {
    requested = Number(dims);
    if (!Number.isInteger(requested)) throw new QuiverError('SQL_ERROR', 'EMBEDDING(text, model, dims): dims must be an integer');
  }
  if (typeof text !== 'string' && typeof text !== 'number' && typeof text !== 'bigint') {
    throw new QuiverError('TYPE_MISMATCH', 'EMBEDDING(text, model [, dims]): text must be text, not a blob');
  }
  return { text: String(text), model, dims: requested };
}

/** The last run met a text no earlier run missed (the rows changed in between). */
function notAtHand(model: string): QuiverError {
  return new QuiverError('EMBEDDING_FAILED', `EMBEDDING(): model ${model} gave no vector for a text it was asked for; retry the request`);
}

/** The key of EMBEDDING(text, model, dims) in a round and in ReadEmbeddings: model names are case-insensitive. */
export function embeddingKey(model: string, dims: number, text: string): string {
  return `${model.toLowerCase()}\u0000${dims}\u0000${text}`;
}

/** Runs of a request that may fetch embeddings; the last one treats a miss as an error. */
const MAX_EMBEDDING_ROUNDS = 3;

/**
 * Runs `run` until it misses no embedding: after a run that did (and undid whatever it did),
 * `fetch` gets what it missed (with no lock held) and it runs again. The last of
 * MAX_EMBEDDING_ROUNDS runs treats a miss as an error. How reads (../exec/engine.ts) and writes
 * (../exec/writer.ts) alike embed texts they only learn by running.
 */
export async function inEmbeddingRounds<T>(
  round: EmbeddingRound | null,
  run: () => Promise<T | 'fetch embeddings'>,
  fetch: (round: EmbeddingRound) => Promise<void>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    if (round) round.collecting = attempt < MAX_EMBEDDING_ROUNDS;
    const outcome = await run();
    if (outcome !== 'fetch embeddings') return outcome;
    await fetch(round!);
  }
}

/** One request's embedding state: what it fetched and what its last run missed. */
export class EmbeddingRound {
  /** Vectors fetched for this request, by embeddingKey(), with the model as written: they outlive any cache eviction until it ends. */
  private readonly fetched = new Map<string, { model: string; vector: Float32Array }>();
  private readonly missing = new Map<string, MissingTexts & { seen: Set<string> }>();
  /** Collecting: a miss is recorded and answered with a placeholder; otherwise it is an error. */
  collecting = true;

  constructor(private readonly source: EmbeddingSource) {}

  /** Distinct texts the last run (or prediction) missed, over all models. */
  get missCount(): number {
    let n = 0;
    for (const m of this.missing.values()) n += m.texts.length;
    return n;
  }

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
          texts.forEach((text, i) => this.keep(m.model, m.dims, text, vectors[i]));
          this.progress.done += texts.length;
          report?.(this.progress);
        }
      }
    } finally {
      this.progress = null;
    }
  }

  /**
   * Fetches every miss of the last run through `fetch`, the engine's (engine.ts
   * fetchEmbeddings), which bounds and reports it as it does its own rounds: how a writer on a
   * thread of its own fetches, and, for one code path, the writer on the engine's thread too.
   */
  async fetchMissesVia(fetch: (misses: MissingTexts[]) => Promise<Float32Array[][]>): Promise<void> {
    const misses = [...this.missing.values()].map(({ model, dims, texts }) => ({ model, dims, texts }));
    this.missing.clear();
    const vectors = await fetch(misses);
    misses.forEach((m, i) => m.texts.forEach((text, j) => this.keep(m.model, m.dims, text, vectors[i][j])));
  }

  /** Records `misses` as this round's, to be fetched by fetchMisses (the engine fetching for its writer). */
  expect(misses: readonly MissingTexts[]): void {
    for (const m of misses) for (const text of m.texts) this.recordMiss(m.model, m.dims, text);
  }

  /** The vectors fetched for `misses`, in their order. */
  vectorsOf(misses: readonly MissingTexts[]): Float32Array[][] {
    return misses.map((m) => m.texts.map((text) => this.fetched.get(embeddingKey(m.model, m.dims, text))!.vector));
  }

  /**
   * Before `statements` run: the texts written in them (predictTexts) that are neither fetched
   * nor cached are recorded as misses, and the cached ones kept for the run. True when there is
   * something to fetch, which the engine then does before the first run (as after a collecting
   * run), so that run finds every predicted vector at hand. Never throws: a statement it cannot
   * read is left to the collecting run, and its errors to the real one.
   */
  prefetchWritten(statements: readonly A.Statement[], params: Params | undefined, catalog: GeneratedColumnsView): boolean {
    try {
      for (const wanted of predictTexts(statements, params, catalog, this.source)) this.sortOut(wanted);
    } catch {
      // Only an optimisation: whatever it could not do, the collecting run does.
    }
    return this.hasMisses;
  }

  /**
   * After a read worker's collecting run: the texts it missed (dims resolved, see
   * EmbeddingCalls.resolveMissed) are looked up in the cache, which the worker cannot see, and
   * those not there are recorded as misses to fetch. In slices, letting other requests run
   * between them: the list is as long as the rows make it.
   */
  async takeMissed(missed: readonly MissingTexts[]): Promise<void> {
    for (const m of missed) {
      for (let start = 0; start < m.texts.length; start += CACHE_SLICE) {
        if (start > 0) await setImmediate();
        this.sortOut({ ...m, texts: m.texts.slice(start, start + CACHE_SLICE) });
      }
    }
  }

  /** Keeps the cached vectors of `wanted`'s texts not fetched yet, and records the others as misses. */
  private sortOut(wanted: MissingTexts): void {
    const unknown = wanted.texts.filter((text) => !this.fetched.has(embeddingKey(wanted.model, wanted.dims, text)));
    if (unknown.length === 0) return;
    const cached = this.source.cached(wanted.model, wanted.dims, unknown);
    unknown.forEach((text, i) => {
      const vector = cached[i];
      if (vector) this.keep(wanted.model, wanted.dims, text, vector);
      else this.recordMiss(wanted.model, wanted.dims, text);
    });
  }

  /**
   * What a read worker's EMBEDDING() answers from (read-embedding-calls.ts): every vector
   * fetched or found so far, keyed by embeddingKey(); every model's own dims, which a call
   * without dims gets (so a text the worker was not sent still gets a placeholder of the right
   * length); and whether this run collects.
   */
  forReadWorker(): ReadEmbeddings {
    const vectors = new Map<string, Float32Array>();
    for (const [k, { vector }] of this.fetched) vectors.set(k, vector);
    const defaults = new Map<string, number>();
    for (const { name } of this.source.listModels()) defaults.set(name.toLowerCase(), this.source.resolveDims(name, undefined));
    return { vectors, defaults, collecting: this.collecting };
  }

  private keep(model: string, dims: number, text: string, vector: Float32Array): void {
    this.fetched.set(embeddingKey(model, dims, text), { model, vector });
  }

  /** EMBEDDING() for one row. */
  lookup(model: string, dims: number, text: string): Float32Array {
    const hit = this.fetched.get(embeddingKey(model, dims, text))?.vector ?? this.source.cached(model, dims, [text])[0];
    if (hit) return hit;
    if (!this.collecting) throw notAtHand(model);
    this.recordMiss(model, dims, text);
    return new Float32Array(dims);
  }

  private recordMiss(model: string, dims: number, text: string): void {
    let entry = this.missing.get(`${model}\u0000${dims}`);
    if (!entry) {
      entry = { model, dims, texts: [], seen: new Set() };
      this.missing.set(`${model}\u0000${dims}`, entry);
    }
    if (!entry.seen.has(text)) {
      entry.seen.add(text);
      entry.texts.push(text);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Texts known before a statement runs

/** Statement kinds whose EMBEDDING() calls run when the statement does. */
const PREDICTED_KINDS = new Set<A.Statement['kind']>(['select', 'insert', 'update', 'delete']);

/** Functions that may skip an argument: EMBEDDING() calls under them are left to the collecting run. */
const CONDITIONAL_FUNCTIONS = new Set(['iif', 'if', 'coalesce', 'ifnull', 'nullif']);

/**
 * The texts `statements` will embed that are written in them, by model and dims, each list
 * de-duplicated; `params` as the request bound them. Read: EMBEDDING(t, 'model' [, n]) with t a
 * string literal or a string parameter, anywhere in a SELECT, INSERT, UPDATE or DELETE except
 * under CASE and functions that may skip an argument; and in INSERT ... VALUES, the string
 * value given for the source column of each STORED generated `EMBEDDING(column, 'model' [, n])`,
 * when the column keeps it as that text (TEXT or BLOB affinity, or a string not shaped like a
 * number). Numbers are never predicted: SQLite's text for a REAL is not JavaScript's. Models
 * or dims that resolveDims refuses are skipped; the run reports them where they are written.
 */
export function predictTexts(
  statements: readonly A.Statement[],
  params: Params | undefined,
  catalog: GeneratedColumnsView,
  source: Pick<EmbeddingSource, 'resolveDims'>,
): MissingTexts[] {
  const wanted = new Map<string, MissingTexts & { seen: Set<string> }>();
  const add = (model: string, requested: number | undefined, text: string) => {
    let dims: number;
    try {
      dims = source.resolveDims(model, requested);
    } catch {
      return;
    }
    const k = `${model.toLowerCase()}\u0000${dims}`;
    let entry = wanted.get(k);
    if (!entry) wanted.set(k, (entry = { model, dims, texts: [], seen: new Set() }));
    if (!entry.seen.has(text)) {
      entry.seen.add(text);
      entry.texts.push(text);
    }
  };
  // Positional parameters are numbered per statement and consumed in order across the request.
  let base = 0;
  for (const statement of statements) {
    const value = (e: A.InsertValue) => stringValue(e, params, base);
    const shape = shapeOf(statement);
    if (PREDICTED_KINDS.has(statement.kind)) {
      if (statement.kind === 'insert') addGeneratedTexts(statement, catalog, value, add);
      for (const call of shape.calls) {
        const text = value(call.args[0]);
        const model = call.args[1].kind === 'literal' && call.args[1].type === 'string' ? call.args[1].value : undefined;
        const dims = call.args.length === 3 ? integerLiteral(call.args[2]) : undefined;
        if (text === undefined || model === undefined || (call.args.length === 3 && dims === undefined)) continue;
        add(model, dims, text);
      }
    }
    base += shape.positionalParams;
  }
  return [...wanted.values()].map(({ model, dims, texts }) => ({ model, dims, texts }));
}

/** INSERT ... VALUES: the texts of the source columns of STORED generated EMBEDDING() columns. */
function addGeneratedTexts(
  s: A.InsertStatement,
  catalog: GeneratedColumnsView,
  value: (e: A.InsertValue) => string | undefined,
  add: (model: string, dims: number | undefined, text: string) => void,
): void {
  if (s.source.kind !== 'values' || (s.table.schema !== undefined && s.table.schema.toLowerCase() !== 'main')) return;
  const table = catalog.table(s.table.name);
  if (!table) return;
  const targets = (s.columns ?? table.columnRows.filter((c) => c.generatedExpr === null).map((c) => c.name)).map((n) => n.toLowerCase());
  for (const column of table.columnRows) {
    if (column.generatedExpr === null || column.generatedStorage?.toUpperCase() !== 'STORED') continue;
    // Only a plain EMBEDDING(column, 'model' [, n]): the text and dims are known from the row.
    const call = column.embedding;
    if (!call || call.source === undefined || call.dims === null) continue;
    const source = call.source.toLowerCase();
    const at = targets.indexOf(source);
    const sourceColumn = table.columnRows.find((c) => c.name.toLowerCase() === source);
    if (at < 0 || !sourceColumn) continue;
    for (const row of s.source.rows) {
      if (row.length !== targets.length) return;
      const text = value(row[at]);
      if (text !== undefined && keepsText(sourceColumn.declaredType, text)) add(call.model, call.dims, text);
    }
  }
}

/** What predictTexts needs of a statement's tree, worked out once per parsed statement. */
interface StatementShape {
  /** EMBEDDING() calls that run whenever the statement does (see predictTexts). */
  calls: A.FunctionExpr[];
  /** Positional parameters it consumes: its highest `?` number, as the lowering counts them. */
  positionalParams: number;
}

/** The engine keeps parsed scripts by SQL text, so a repeated statement is walked once. */
const shapes = new WeakMap<A.Statement, StatementShape>();

function shapeOf(statement: A.Statement): StatementShape {
  let shape = shapes.get(statement);
  if (shape) return shape;
  shape = { calls: [], positionalParams: 0 };
  const found = shape;
  const visit = (node: unknown, conditional: boolean): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item, conditional);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const kind = (node as { kind?: unknown }).kind;
    if (kind === 'param') {
      const index = (node as A.ParamExpr).index;
      if (index !== undefined && index > found.positionalParams) found.positionalParams = index;
      return;
    }
    if (kind === 'case') conditional = true;
    else if (kind === 'function') {
      const f = node as A.FunctionExpr;
      const name = f.name.toLowerCase();
      if (CONDITIONAL_FUNCTIONS.has(name)) conditional = true;
      else if (!conditional && name === 'embedding' && (f.args.length === 2 || f.args.length === 3)) found.calls.push(f);
    }
    for (const child of Object.values(node)) if (typeof child === 'object' && child !== null) visit(child, conditional);
  };
  visit(statement, false);
  shapes.set(statement, shape);
  return shape;
}

/** A string literal's text, or a string parameter's value; undefined for anything else (DEFAULT included). */
function stringValue(e: A.InsertValue, params: Params | undefined, base: number): string | undefined {
  if (e.kind === 'literal') return e.type === 'string' ? e.value : undefined;
  if (e.kind !== 'param' || params === undefined || params === null) return undefined;
  let v: unknown;
  if (e.index !== undefined) v = Array.isArray(params) ? params[base + e.index - 1] : undefined;
  else if (!Array.isArray(params) && typeof params === 'object') v = Object.hasOwn(params, e.text.slice(1)) ? (params as Record<string, unknown>)[e.text.slice(1)] : undefined;
  return typeof v === 'string' ? v : undefined;
}

function integerLiteral(e: A.Expr): number | undefined {
  return e.kind === 'literal' && e.type === 'number' && /^\d+$/.test(e.value) ? Number(e.value) : undefined;
}

const NUMERIC_TEXT = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$|^\s*0[xX][0-9a-fA-F]+\s*$/;

/** Whether a column of `declaredType` stores `text` as that same text (SQLite's affinity rules). */
function keepsText(declaredType: string | null, text: string): boolean {
  const type = (declaredType ?? '').toUpperCase();
  const textOrBlob = !type.includes('INT') && (type === '' || /CHAR|CLOB|TEXT|BLOB/.test(type));
  return textOrBlob || !NUMERIC_TEXT.test(text);
}

/**
 * Registers EMBEDDING(text, model) and EMBEDDING(text, model, dims) on `db`, both answered by
 * `embed` (dims undefined when not given). Deterministic, as SQLite requires of a function in a
 * generated column; each connection's `embed` answers from what is at hand, never the network.
 */
export function registerEmbeddingFunction(db: Database.Database, embed: (text: unknown, model: unknown, dims: unknown) => Buffer | null): void {
  db.function('embedding', { deterministic: true }, (text: unknown, model: unknown) => embed(text, model, undefined));
  db.function('embedding', { deterministic: true }, (text: unknown, model: unknown, dims: unknown) => embed(text, model, dims));
}

/** EMBEDDING() on a connection, answering for whichever request holds the connection. */
export class EmbeddingCalls {
  /** The round of the request that holds the engine's lock; null between requests. */
  current: EmbeddingRound | null = null;
  /**
   * While a replica applies a log entry: the vectors the primary's calls got, by the calls'
   * arguments as written (`key`), which answer instead of the models; a call the entry does not
   * hold is an error, never a provider call.
   */
  replay: { vectors: Map<string, Float32Array>; key: (model: string, dims: number | undefined, text: string) => string } | null = null;
  /** Told every vector a call answered (the primary's writer, so the log carries it to replicas). */
  onAnswer: ((model: string, dims: number | undefined, text: string, vector: Float32Array) => void) | null = null;
  /** Dims resolveDims gave, by model as written and dims asked; only successes are kept. */
  private readonly resolved = new Map<string, number>();

  constructor(readonly source: EmbeddingSource | null) {}

  /** Registers EMBEDDING() on `db`, answering for the request that holds it. */
  register(db: Database.Database): void {
    registerEmbeddingFunction(db, (text, model, dims) => this.call(text, model, dims));
  }

  /** A new round for a request, or null when no embedding model is configured. */
  newRound(): EmbeddingRound | null {
    return this.source ? new EmbeddingRound(this.source) : null;
  }

  /**
   * The texts a read worker's run missed, with their dims resolved here, where the models are;
   * throws what EMBEDDING() would have on this connection: no such model, dims it cannot make,
   * or in the last run (not `collecting`) a text that should have been at hand.
   */
  resolveMissed(missed: ReadMisses, collecting: boolean): MissingTexts {
    const dims = this.dims(missed.model, missed.dims);
    if (!collecting) throw notAtHand(missed.model);
    return { model: missed.model, dims, texts: missed.texts };
  }

  private call(text: unknown, model: unknown, dims: unknown): Buffer | null {
    const args = embeddingArgs(text, model, dims);
    if (!args) return null;
    if (this.replay) return vectorBlob(this.replayed(args.model, args.dims, args.text));
    const resolved = this.dims(args.model, args.dims);
    const round = this.current;
    if (!round) throw new Error('EMBEDDING() called outside a request');
    const vector = round.lookup(args.model, resolved, args.text);
    this.onAnswer?.(args.model, args.dims, args.text, vector);
    return vectorBlob(vector);
  }

  private replayed(model: string, dims: number | undefined, text: string): Float32Array {
    const vector = this.replay!.vectors.get(this.replay!.key(model, dims, text));
    if (!vector) throw new Error(`a log entry lacks the vector of an EMBEDDING() call with model ${model} its changes need`);
    return vector;
  }

  /** The source's resolveDims, remembered: it runs once per row, and the models do not change while the source lives. */
  private dims(model: string, requested: number | undefined): number {
    if (!this.source) throw new QuiverError('UNKNOWN_MODEL', `EMBEDDING(): no embedding model is configured, so there is no model ${model}`);
    const k = `${model}\u0000${requested ?? ''}`;
    let dims = this.resolved.get(k);
    if (dims === undefined) {
      dims = this.source.resolveDims(model, requested);
      if (this.resolved.size >= MAX_REMEMBERED_DIMS) this.resolved.clear();
      this.resolved.set(k, dims);
    }
    return dims;
  }
}
