/** The persistent embedding cache: keys, persistence, and LRU-ish eviction under both bounds. */
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
