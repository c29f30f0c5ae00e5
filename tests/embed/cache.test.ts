/**
 * The embedding cache: keys, memory in front of the file, writes off the caller's path, persistence
 * across a clean close, and LRU-ish eviction under both bounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddingCache } from '../../src/embed/cache.ts';
import type { EmbeddingCacheOptions } from '../../src/embed/cache.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function cachePath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-cache-'));
  dirs.push(dir);
  return join(dir, 'embedding-cache.db');
}

/** Resolves once `done()` holds, polling; fails after 5 s. */
async function until(done: () => boolean): Promise<void> {
  for (const started = Date.now(); !done(); await new Promise((resolve) => setTimeout(resolve, 10))) {
    if (Date.now() - started > 5000) throw new Error('timed out waiting');
  }
}

function vec(seed: number, dims = 4): Float32Array {
  return Float32Array.from({ length: dims }, (_, i) => seed + i / 10);
}

/** A cache with a clock the test moves by hand. */
function withClock(options: Partial<EmbeddingCacheOptions> = {}): { cache: EmbeddingCache; clock: { now: number } } {
  const clock = { now: 1000 };
  const cache = new EmbeddingCache({ path: ':memory:', touchAfterMs: 0, now: () => clock.now, ...options });
  return { cache, clock };
}

describe('EmbeddingCache', () => {
  it('returns what was put, undefined for misses, in order, apart by model and dims', () => {
    const { cache } = withClock();
    cache.putMany('m', 4, ['a', 'b'], [vec(1), vec(2)]);
    expect(cache.getMany('m', 4, ['b', 'zzz', 'a'])).toEqual([vec(2), undefined, vec(1)]);
    expect(cache.getMany('other', 4, ['a'])).toEqual([undefined]);
    expect(cache.getMany('m', 3, ['a'])).toEqual([undefined]);
    // Putting the same text again is not a second entry.
    cache.putMany('m', 4, ['a'], [vec(1)]);
    expect(cache.stats().entries).toBe(2);
    cache.close();
  });

  it('survives a reopen, with its counts', () => {
    const path = cachePath();
    const first = new EmbeddingCache({ path });
    first.putMany('m', 4, ['x', 'y', 'z'], [vec(1), vec(2), vec(3)]);
    const stats = first.stats();
    first.close();
    const second = new EmbeddingCache({ path });
    expect(second.getMany('m', 4, ['x', 'y', 'z'])).toEqual([vec(1), vec(2), vec(3)]);
    expect(second.stats()).toEqual(stats);
    second.close();
    // Its own file, in WAL mode, so it never contends with the main database.
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
  });

  it('writes puts in the background, on its writer thread: memory answers at once, the file gets them later', async () => {
    const path = cachePath();
    const cache = new EmbeddingCache({ path, flushDelayMs: 50 });
    const rows = () => {
      const raw = new Database(path, { readonly: true });
      const n = (raw.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n;
      raw.close();
      return n;
    };
    cache.putMany('m', 4, ['a', 'b'], [vec(1), vec(2)]);
    cache.putMany('m', 4, ['c'], [vec(3)]);
    expect(rows()).toBe(0);
    expect(cache.getMany('m', 4, ['a', 'b', 'c'])).toEqual([vec(1), vec(2), vec(3)]);
    await until(() => rows() === 3);
    // flushSoon (what the batcher calls once its requests are sent) hands them over at the next turn.
    cache.putMany('m', 4, ['d'], [vec(4)]);
    cache.flushSoon();
    await until(() => rows() === 4);
    expect(cache.getMany('m', 4, ['a', 'b', 'c', 'd'])).toEqual([vec(1), vec(2), vec(3), vec(4)]);
    cache.close();
  });

  it('drops from memory what the writer thread evicted from the file', async () => {
    // Polling below must not refresh t0's last use (as touchAfterMs: 0 would), or t0 may outlive the eviction.
    const cache = new EmbeddingCache({ path: cachePath(), maxEntries: 10 });
    const texts = Array.from({ length: 20 }, (_, i) => `t${i}`);
    cache.putMany('m', 4, texts.slice(0, 10), texts.slice(0, 10).map((_, i) => vec(i)));
    cache.flushSoon();
    await new Promise((resolve) => setTimeout(resolve, 20));
    cache.putMany('m', 4, texts.slice(10), texts.slice(10).map((_, i) => vec(10 + i)));
    cache.flushSoon();
    // The oldest ten go, from the file and then from memory; the newest stay.
    await until(() => cache.getMany('m', 4, ['t0'], { memoryOnly: true })[0] === undefined);
    expect(cache.getMany('m', 4, ['t0', 't5', 't19'])).toEqual([undefined, undefined, vec(19)]);
    expect(cache.stats().entries).toBeLessThanOrEqual(10);
    cache.close();
  });

  it('writes a large backlog a chunk per turn of the event loop, so no single write stalls the process', async () => {
    const path = cachePath();
    const cache = new EmbeddingCache({ path, writer: 'inline' });
    const texts = Array.from({ length: 1000 }, (_, i) => `t${i}`);
    cache.putMany('m', 4, texts, texts.map((_, i) => vec(i)));
    const raw = new Database(path, { readonly: true });
    const rows = () => (raw.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n;
    cache.flushSoon();
    await new Promise((resolve) => setImmediate(resolve));
    expect(rows()).toBeGreaterThan(0);
    expect(rows()).toBeLessThan(1000);
    for (let turn = 0; turn < 10 && rows() < 1000; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(rows()).toBe(1000);
    raw.close();
    cache.close();
  });

  it('writes what is waiting on a clean close, so a reopen finds it; without a close it is only lost, harmlessly', () => {
    const path = cachePath();
    const first = new EmbeddingCache({ path });
    first.putMany('m', 4, ['kept'], [vec(1)]);
    // Another opening before any write (as after a crash) just misses: the cache has no half entries.
    const crashed = new EmbeddingCache({ path });
    expect(crashed.getMany('m', 4, ['kept'])).toEqual([undefined]);
    crashed.close();
    first.close();
    const second = new EmbeddingCache({ path });
    expect(second.getMany('m', 4, ['kept'])).toEqual([vec(1)]);
    expect(second.stats().entries).toBe(1);
    second.close();
  });

  it('writes nothing to its file while writes are held (the disk is full): held puts stay in memory only', () => {
    const path = cachePath();
    const cache = new EmbeddingCache({ path });
    cache.holdWrites(true);
    cache.putMany('m', 4, ['held'], [vec(1)]);
    expect(cache.stats().entries).toBe(0);
    expect(cache.getMany('m', 4, ['held'])).toEqual([vec(1)]);
    cache.holdWrites(false);
    cache.putMany('m', 4, ['after'], [vec(2)]);
    expect(cache.stats().entries).toBe(1);
    cache.close();
    const reopened = new EmbeddingCache({ path });
    expect(reopened.getMany('m', 4, ['held', 'after'])).toEqual([undefined, vec(2)]);
    reopened.close();
  });

  it('finds many texts in the file at once, in order, with misses among them', () => {
    const path = cachePath();
    const first = new EmbeddingCache({ path });
    const stored = Array.from({ length: 150 }, (_, i) => `stored ${i}`);
    first.putMany('m', 4, stored, stored.map((_, i) => vec(i)));
    first.close();
    const second = new EmbeddingCache({ path });
    const asked = stored.flatMap((text, i) => (i % 3 === 0 ? [text, `missing ${i}`] : [text])).reverse();
    const expected = asked.map((text) => (text.startsWith('stored') ? vec(Number(text.slice(7))) : undefined));
    expect(second.getMany('m', 4, asked)).toEqual(expected);
    // Found once, they are answered from memory.
    expect(second.getMany('m', 4, asked, { memoryOnly: true })).toEqual(expected);
    second.close();
  });

  it('evicts the least recently used entries past maxEntries, down to 90% of it', () => {
    const { cache, clock } = withClock({ maxEntries: 10 });
    for (let i = 0; i < 10; i++) {
      clock.now++;
      cache.putMany('m', 4, [`t${i}`], [vec(i)]);
    }
    expect(cache.stats().entries).toBe(10);
    // Reading t0 and t1 makes them recent; t2 and t3 are now the oldest.
    clock.now++;
    cache.getMany('m', 4, ['t0', 't1']);
    clock.now++;
    cache.putMany('m', 4, ['t10'], [vec(10)]);
    expect(cache.stats().entries).toBe(9);
    const present = cache.getMany('m', 4, Array.from({ length: 11 }, (_, i) => `t${i}`)).map((v) => v !== undefined);
    expect(present).toEqual([true, true, false, false, true, true, true, true, true, true, true]);
    cache.close();
  });

  it('evicts past maxBytes too', () => {
    const probe = withClock().cache;
    probe.putMany('m', 256, ['probe'], [vec(0, 256)]);
    const rowBytes = probe.stats().bytes;
    probe.close();
    const bounded = withClock({ maxBytes: rowBytes * 20 });
    for (let i = 0; i < 50; i++) {
      bounded.clock.now++;
      bounded.cache.putMany('m', 256, [`t${i}`], [vec(i, 256)]);
    }
    const { entries, bytes } = bounded.cache.stats();
    expect(bytes).toBeLessThanOrEqual(rowBytes * 20);
    expect(entries).toBeGreaterThanOrEqual(17);
    expect(entries).toBeLessThanOrEqual(20);
    // The newest survive, the oldest are gone.
    expect(bounded.cache.getMany('m', 256, ['t49', 't0'])).toEqual([vec(49, 256), undefined]);
    bounded.cache.close();
  });

  it('refreshes last use at most once per touchAfterMs', () => {
    const path = cachePath();
    const clock = { now: 1000 };
    const cache = new EmbeddingCache({ path, touchAfterMs: 60_000, now: () => clock.now });
    cache.putMany('m', 4, ['a'], [vec(1)]);
    clock.now += 1000;
    cache.getMany('m', 4, ['a']);
    const lastUsed = () => {
      // Puts and refreshes reach the file with the next flush.
      cache.flush();
      const raw = new Database(path, { readonly: true });
      const row = raw.prepare('SELECT last_used FROM entries').get() as { last_used: number };
      raw.close();
      return row.last_used;
    };
    expect(lastUsed()).toBe(1000);
    clock.now += 60_000;
    cache.getMany('m', 4, ['a']);
    expect(lastUsed()).toBe(62_000);
    cache.close();
  });
});
