/**
 * @module functions/read-embedding-calls
 * EMBEDDING() on a read worker, which has neither the providers nor the cache: it answers from
 * the vectors the engine sent with the read (ReadEmbeddings, see embedding-calls.ts). A text it
 * was not sent is recorded, and the run ends with the list of such texts instead of rows. In a
 * collecting run the miss is answered with a zero placeholder, as on the writer's connection,
 * so one run finds every text the rows hold; in the last run, or when the worker cannot tell
 * the call's dims (a model it does not know, dims no model makes), the run stops at the first
 * miss. Either way the engine decides: it resolves the dims (reporting a bad model or dims as
 * EMBEDDING() does), fetches, and runs the read again. Runs on a read worker's thread.
 */
import type Database from 'better-sqlite3';
import { MAX_VECTOR_DIMS, MIN_VECTOR_DIMS, vectorBlob } from '../../core/index.ts';
import { embeddingArgs, embeddingKey, registerEmbeddingFunction, type ReadEmbeddings, type ReadMisses } from './embedding-calls.ts';

/** Thrown to stop a run at a miss; never reported, since the run answers with its misses. */
const STOP = 'EMBEDDING(): a text the read was not sent';

export class ReadEmbeddingCalls {
  /** The running read's vectors; undefined between reads, and when the engine has no model. */
  private given: ReadEmbeddings | undefined;
  /** Misses by lower-case model and dims as asked, each with the texts already in its list. */
  private readonly missed = new Map<string, { misses: ReadMisses; seen: Set<string> }>();
  /** The statement running, which a miss is reported at. */
  statement = 0;

  /** Registers EMBEDDING() on `db`, answering for the running read. */
  register(db: Database.Database): void {
    registerEmbeddingFunction(db, (text, model, dims) => this.call(text, model, dims));
  }

  /** Starts a read answering from `given`. */
  start(given: ReadEmbeddings | undefined): void {
    this.given = given;
    this.statement = 0;
    this.missed.clear();
  }

  /** Ends the read: what it missed (none when every vector was at hand). */
  finish(): ReadMisses[] {
    const misses = [...this.missed.values()].map((m) => m.misses);
    this.given = undefined;
    this.missed.clear();
    return misses;
  }

  private call(text: unknown, model: unknown, dims: unknown): Buffer | null {
    const args = embeddingArgs(text, model, dims);
    if (!args) return null;
    // Dims no model makes stop the run before a placeholder of that size is made.
    const plausible = args.dims === undefined || (args.dims >= MIN_VECTOR_DIMS && args.dims <= MAX_VECTOR_DIMS);
    const resolved = plausible ? (args.dims ?? this.given?.defaults.get(args.model.toLowerCase())) : undefined;
    const vector = resolved === undefined ? undefined : this.given?.vectors.get(embeddingKey(args.model, resolved, args.text));
    if (vector) return vectorBlob(vector);
    this.record(args.model, args.dims, args.text);
    if (resolved === undefined || !this.given?.collecting) throw new Error(STOP);
    return vectorBlob(new Float32Array(resolved));
  }

  private record(model: string, dims: number | undefined, text: string): void {
    const k = `${model.toLowerCase()}\u0000${dims ?? ''}`;
    let entry = this.missed.get(k);
    if (!entry) this.missed.set(k, (entry = { misses: { model, dims, texts: [], statement: this.statement }, seen: new Set() }));
    if (entry.seen.has(text)) return;
    entry.seen.add(text);
    entry.misses.texts.push(text);
  }
}
