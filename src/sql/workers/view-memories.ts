/**
 * @module workers/view-memories
 * Index views cross to a read worker with every shared WebAssembly memory the worker already
 * holds left out. Each memory a worker receives becomes a new wrapper object in its heap, made
 * straight in the old generation, so posting every segment's memory with every read grew the
 * workers' heaps by tens of MiB under load; a memory never changes for its part (a segment's
 * arena, a tail's arena), so once per worker is enough.
 *
 * Both ends keep the same ledger and change it the same way, message by message in order: per
 * index name, the worker holds the memories of the last view of that index it was sent. The
 * engine's side (`SentMemories`, one per worker thread: a new thread starts with a new one)
 * leaves out what the ledger holds; the worker's side (`ReceivedMemories`) puts it back.
 */
import type { IndexViewData } from '../../index/index.ts';
import type { PostedStatement, PostedView, ReadStatement } from './read-protocol.ts';

type Part = { id: number; memory: WebAssembly.Memory | null };

/** The view's parts with their ledger keys (unique for the life of the engine's thread). */
function keyedParts(view: PostedView): [string, Part][] {
  const keyed: [string, Part][] = view.segments.map((s) => [`${view.indexId}/s${s.id}`, s]);
  for (const t of view.frozen === null ? [view.tail] : [view.frozen, view.tail]) keyed.push([`${view.indexId}/t${t.id}`, t]);
  return keyed;
}

/** The engine's side, for one worker thread. */
export class SentMemories {
  private readonly held = new Map<string, Set<string>>();

  /** `statements` as they go to the worker, which then holds their views' memories. */
  strip(statements: ReadStatement[]): PostedStatement[] {
    return statements.map((statement) => {
      if (!statement.searches) return statement;
      const searches = statement.searches.map((search) => {
        const { view } = search.index;
        const held = this.held.get(search.step.index);
        const posted: PostedView = { ...view, segments: view.segments.map((s) => ({ ...s })), frozen: view.frozen && { ...view.frozen }, tail: { ...view.tail } };
        const keyed = keyedParts(posted);
        for (const [key, part] of keyed) if (held?.has(key)) part.memory = null;
        this.held.set(search.step.index, new Set(keyed.map(([key]) => key)));
        return { ...search, index: { ...search.index, view: posted } };
      });
      return { ...statement, searches };
    });
  }

  /** The worker was told to forget index `name` (a `forget` message). */
  forget(name: string): void {
    this.held.delete(name);
  }
}

/** The worker's side. */
export class ReceivedMemories {
  private readonly held = new Map<string, Map<string, WebAssembly.Memory>>();

  /** The statements with every memory their views left out put back. */
  restore(statements: PostedStatement[]): ReadStatement[] {
    return statements.map((statement) => {
      if (!statement.searches) return statement as ReadStatement;
      const searches = statement.searches.map((search) => {
        const { view } = search.index;
        const held = this.held.get(search.step.index);
        const now = new Map<string, WebAssembly.Memory>();
        for (const [key, part] of keyedParts(view)) {
          part.memory ??= held?.get(key) ?? null;
          if (part.memory === null) throw new Error(`read worker: view part ${key} came without its memory, which this worker was never sent`);
          now.set(key, part.memory);
        }
        this.held.set(search.step.index, now);
        // Every part has its memory again: the view is whole.
        return { ...search, index: { ...search.index, view: view as IndexViewData } };
      });
      return { ...statement, searches };
    });
  }

  /** Lets go of index `name`'s memories (dropped or re-created). */
  forget(name: string): void {
    this.held.delete(name);
  }
}
