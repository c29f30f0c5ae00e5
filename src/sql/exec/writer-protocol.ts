/**
 * @module exec/writer-protocol
 * The messages between the engine and a writer on its own thread (writer-thread-client.ts on
 * the engine's side, writer-thread.ts on the writer's). The engine asks the writer to run
 * requests (`request`, answered by `reply`). The writer asks the engine what a WriterHost
 * answers, two ways: `ask` for the host's asynchronous calls (answered by `answer`), and `call`
 * for its synchronous ones — the writer posts the call, then blocks on a shared flag until the
 * engine has posted the result on a port of their own and raised the flag, and takes the result
 * from the port with receiveMessageOnPort; each result carries its call's id, checked. Only the writer's thread ever blocks; the engine
 * answers from its event loop.
 */
import type { MessagePort } from 'node:worker_threads';
import { AllowedRowBitSet, type SearchOptions } from '../../index/index.ts';
import type { WireError } from '../workers/index.ts';
import type { WriterApi, WriterHost } from './writer-host.ts';
import type { WriterOptions } from './writer.ts';

/** What the writer's thread starts with. */
export interface WriterThreadData {
  options: WriterOptions;
  /** Int32 flag the writer waits on for a synchronous call's result: 0 waiting, 1 posted. */
  flag: SharedArrayBuffer;
  /** Where the engine posts a synchronous call's result. */
  results: MessagePort;
}

/** The WriterHost calls the writer makes synchronously, while a statement runs. */
export type SyncHostMethod = Extract<keyof WriterHost, 'index' | 'search' | 'resolveDims' | 'cached' | 'listModels' | 'admit' | 'diskFailed' | 'show'>;
/** The WriterHost calls the writer awaits. */
export type AsyncHostMethod = Extract<keyof WriterHost, 'commitStarting' | 'commitDone' | 'fetchEmbeddings' | 'optimize' | 'append' | 'lostCommit'>;
/** What the engine asks of the writer. */
export type WriterMethod = keyof WriterApi;

export type Outcome = { ok: true; value: unknown } | { ok: false; error: WireError };

/** A synchronous call's result, posted on the results port with the call's id. */
export interface CallResult {
  id: number;
  outcome: Outcome;
}

/** Engine → writer. */
export type ToWriter = { kind: 'request'; id: number; method: WriterMethod; args: unknown[] } | { kind: 'answer'; id: number; outcome: Outcome };

/** Writer → engine. */
export type FromWriter =
  | { kind: 'reply'; id: number; outcome: Outcome }
  | { kind: 'ask'; id: number; method: AsyncHostMethod; args: unknown[] }
  | { kind: 'call'; id: number; method: SyncHostMethod; args: unknown[] }
  | { kind: 'ready' }
  | { kind: 'failed'; error: WireError };

/** SearchOptions as posted: a filtered search's allowed rows as the bitset's words. */
export type PostedSearchOptions = Omit<SearchOptions, 'filter'> & { allowed?: Uint32Array };

export function postSearchOptions({ filter, ...rest }: SearchOptions): PostedSearchOptions {
  if (filter === undefined) return rest;
  // The writer's searches filter by the planner's bitset (search-step.ts); a predicate cannot cross.
  if (!(filter instanceof AllowedRowBitSet)) throw new Error('a search from the writer thread can filter by an AllowedRowBitSet only');
  return { ...rest, allowed: filter.words };
}

export function receiveSearchOptions({ allowed, ...rest }: PostedSearchOptions): SearchOptions {
  return allowed === undefined ? rest : { ...rest, filter: AllowedRowBitSet.fromWords(allowed) };
}
