/**
 * Views crossing to a read worker (src/sql/workers/view-memories.ts), through a real MessagePort: each
 * part's memory is posted once, later views leave it out and the receiving side puts it back,
 * so the restored view answers as the index did at export, across flushes and merges. A new
 * worker (a new SentMemories) is sent everything again; a view naming a memory the receiver
 * never got is refused, and an index both sides forgot (dropped) is sent whole again.
 */
import { MessageChannel } from 'node:worker_threads';
import { afterEach, expect, it } from 'vitest';
import { IndexViewReader, VectorIndex } from '../../../src/index/index.ts';
import type { PostedStatement, ReadStatement } from '../../../src/sql/workers/read-protocol.ts';
import type { SearchStep } from '../../../src/sql/plan/search-step.ts';
import { ReceivedMemories, SentMemories } from '../../../src/sql/workers/view-memories.ts';

const DIMS = 4;
const QUERY = [0.3, -0.2, 0.9, 0.1];
const channel = new MessageChannel();

afterEach(() => {
  channel.port2.removeAllListeners('message');
});

function post(statements: PostedStatement[]): Promise<PostedStatement[]> {
  return new Promise((resolve) => {
    channel.port2.once('message', resolve);
    channel.port1.postMessage(statements);
  });
}

function statementOf(index: VectorIndex): ReadStatement {
  const step: SearchStep = { index: 'vi', path: 'ann', query: new Float32Array(QUERY), k: 5, efSearch: 10, rows: index.size, args: [] };
  return { sql: 'SELECT 1', args: [], searches: [{ param: 'p', step, index: { view: index.exportView(), originalsSql: null, dims: DIMS } }] };
}

const memoriesOf = (s: PostedStatement) => {
  const view = s.searches![0].index.view;
  return [...view.segments, ...(view.frozen ? [view.frozen] : []), view.tail].map((p) => p.memory !== null);
};

it('posts each memory once, restores views that answer as the index did, and starts over for a new worker', async () => {
  const index = new VectorIndex({ dims: DIMS, metric: 'euclidean', shareable: true, searchLanes: 2, builder: 'inline', autoMaintain: false });
  let next = 0;
  const add = (n: number) => {
    for (let i = 0; i < n; i++, next++) index.insert(next, [Math.sin(next), Math.cos(next), Math.sin(next * 3), 1]);
  };
  const sent = new SentMemories();
  const received = new ReceivedMemories();
  const reader = new IndexViewReader(1);
  const roundTrip = async (sender: SentMemories, expected: boolean[]) => {
    const statement = statementOf(index);
    const posted = await post(sender.strip([statement]));
    expect(memoriesOf(posted[0])).toEqual(expected);
    const [restored] = received.restore(posted);
    expect(reader.search(restored.searches![0].index.view, QUERY, { k: 5 })).toEqual(index.search(QUERY, { k: 5 }));
  };

  add(50);
  await index.flushNow();
  add(10);
  await roundTrip(sent, [true, true]);
  await roundTrip(sent, [false, false]);
  add(30);
  await index.flushNow();
  add(5);
  // The old segment's memory is held; the new segment and the new tail come with theirs.
  await roundTrip(sent, [false, true, true]);
  index.delete(3);
  await index.mergeNow({ all: true });
  await roundTrip(sent, [true, false]);
  await roundTrip(new SentMemories(), [true, true]);
  await index.close();
});

it('refuses a view that leaves out a memory the receiver was never sent', async () => {
  const index = new VectorIndex({ dims: DIMS, metric: 'euclidean', shareable: true, searchLanes: 2, builder: 'inline', autoMaintain: false });
  index.insert(1, QUERY);
  const sent = new SentMemories();
  sent.strip([statementOf(index)]);
  const posted = await post(sent.strip([statementOf(index)]));
  expect(() => new ReceivedMemories().restore(posted)).toThrow(/never sent/);
  await index.close();
});

it('starts over for an index both sides forgot (dropped or re-created), and refuses one only the receiver forgot', async () => {
  const index = new VectorIndex({ dims: DIMS, metric: 'euclidean', shareable: true, searchLanes: 2, builder: 'inline', autoMaintain: false });
  index.insert(1, QUERY);
  const sent = new SentMemories();
  const received = new ReceivedMemories();
  received.restore(await post(sent.strip([statementOf(index)])));
  sent.forget('vi');
  received.forget('vi');
  const whole = await post(sent.strip([statementOf(index)]));
  expect(memoriesOf(whole[0])).toEqual([true]);
  received.restore(whole);
  received.forget('vi');
  const stripped = await post(sent.strip([statementOf(index)]));
  expect(memoriesOf(stripped[0])).toEqual([false]);
  expect(() => received.restore(stripped)).toThrow(/never sent/);
  await index.close();
});
