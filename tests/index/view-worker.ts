/**
 * Worker thread of tests/index/view.test.ts: receives views by postMessage and answers their
 * queries with an IndexViewReader on the lane given in workerData, re-ranking quantized views
 * from the originals posted with each request (the stand-in for a read worker's own SQLite).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { IndexViewReader } from '../../src/index/index.ts';
import { filterFrom, type ViewRequest, type ViewResponse } from './view-protocol.ts';

const port = parentPort;
if (port === null) throw new Error('view-worker.ts must run in a worker thread');

let originals = new Map<number, number[]>();
const reader = new IndexViewReader((workerData as { lane: number }).lane, (rowId) => originals.get(rowId));

port.on('message', (request: ViewRequest) => {
  let response: ViewResponse;
  try {
    originals = request.originals;
    const filter = filterFrom(request.filter);
    const options = { k: request.k, efSearch: request.efSearch, filter };
    response = { id: request.id, answers: request.queries.map((q) => reader.search(request.view, q, options)) };
  } catch (e) {
    response = { id: request.id, error: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(response);
});
