/**
 * @module exec/writer-thread
 * The writer's thread (see writer-protocol.ts): opens the Writer on the database and serves the
 * engine's requests, reaching the engine's WriterHost through messages. A statement here may
 * run until its deadline; the engine's event loop goes on meanwhile.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { fromWire, toWire, type WireError } from '../workers/index.ts';
import type { WriterHost } from './writer-host.ts';
import { postSearchOptions, type AsyncHostMethod, type CallResult, type FromWriter, type Outcome, type SyncHostMethod, type ToWriter, type WriterThreadData } from './writer-protocol.ts';
import { Writer } from './writer.ts';

const { options, flag, results } = workerData as WriterThreadData;
const port = parentPort!;
const signal = new Int32Array(flag);
const asked = new Map<number, { resolve: (value: unknown) => void; reject: (e: unknown) => void }>();
let nextAsk = 1;
let nextCall = 1;

function post(message: FromWriter): void {
  port.postMessage(message);
}

function settle(outcome: Outcome): unknown {
  if (outcome.ok) return outcome.value;
  throw fromWire(outcome.error, 'engine');
}

/** A WriterHost call the engine answers while this thread waits: the statement running needs it now. */
function callSync(method: SyncHostMethod, args: unknown[]): unknown {
  const id = nextCall++;
  Atomics.store(signal, 0, 0);
  post({ kind: 'call', id, method, args });
  // Atomics.wait also returns for a notify meant for the call before (the engine stores the flag,
  // then notifies, and may be descheduled in between): only the flag says the result is there.
  while (Atomics.load(signal, 0) === 0) Atomics.wait(signal, 0, 0);
  const received = receiveMessageOnPort(results);
  if (!received) throw new Error('writer thread: the engine raised the flag but posted no result');
  const result = received.message as CallResult;
  if (result.id !== id) throw new Error(`writer thread: call ${id} got the result of call ${result.id}`);
  return settle(result.outcome);
}

function ask(method: AsyncHostMethod, args: unknown[]): Promise<unknown> {
  const id = nextAsk++;
  return new Promise((resolve, reject) => {
    asked.set(id, { resolve, reject });
    post({ kind: 'ask', id, method, args });
  });
}

const host: WriterHost = {
  index: (name) => callSync('index', [name]) as ReturnType<WriterHost['index']>,
  search: (name, query, searchOptions) => callSync('search', [name, query, postSearchOptions(searchOptions)]) as ReturnType<WriterHost['search']>,
  resolveDims: (model, dims) => callSync('resolveDims', [model, dims]) as number,
  cached: (model, dims, texts) => callSync('cached', [model, dims, texts]) as ReturnType<WriterHost['cached']>,
  listModels: () => callSync('listModels', []) as ReturnType<WriterHost['listModels']>,
  admit: (kinds) => void callSync('admit', [kinds]),
  // The error crosses as its wire form; the engine answers null when it is not a full disk's.
  diskFailed: (error, what) => {
    const answer = callSync('diskFailed', [toWire(error), what]) as WireError | null;
    return answer === null ? error : fromWire(answer, 'engine');
  },
  show: (what, table) => callSync('show', [what, table]) as ReturnType<WriterHost['show']>,
  commitStarting: () => ask('commitStarting', []) as Promise<void>,
  commitDone: (info) => ask('commitDone', [info]) as Promise<void>,
  fetchEmbeddings: (misses) => ask('fetchEmbeddings', [misses]) as ReturnType<WriterHost['fetchEmbeddings']>,
  optimize: (table) => ask('optimize', [table]) as ReturnType<WriterHost['optimize']>,
  append: (changes) => ask('append', [changes]) as ReturnType<WriterHost['append']>,
  lostCommit: (position) => ask('lostCommit', [position]) as Promise<void>,
};

let writer: Writer;
try {
  writer = Writer.open(options, host);
  post({ kind: 'ready' });
} catch (e) {
  post({ kind: 'failed', error: toWire(e) });
  throw e;
}

port.on('message', (message: ToWriter) => {
  if (message.kind === 'answer') {
    const waiting = asked.get(message.id);
    asked.delete(message.id);
    if (!waiting) return;
    try {
      waiting.resolve(settle(message.outcome));
    } catch (e) {
      waiting.reject(e);
    }
    return;
  }
  const { id, method, args } = message;
  const run = Promise.resolve().then(() => (writer[method] as (...a: unknown[]) => unknown).apply(writer, args));
  run.then(
    (value) => post({ kind: 'reply', id, outcome: { ok: true, value } }),
    (e: unknown) => post({ kind: 'reply', id, outcome: { ok: false, error: toWire(e) } }),
  );
});
