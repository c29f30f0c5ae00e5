/**
 * The helpers that create files readable by their owner only: the modes hold under a umask that
 * would allow anything (0000), SQLite keeps the mode of a file made for it (and gives it to the
 * -wal and -shm it makes beside it), files and directories that exist keep their mode, and a
 * private copy is byte for byte the source across its copy chunks.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyToPrivateFile, ensurePrivateFile, makePrivateDir } from '../../src/util/index.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-private-files-'));
let savedUmask: number;
beforeAll(() => {
  // Tests run in forked processes (vitest.config.ts), where the umask can be set.
  savedUmask = process.umask(0o000);
});
afterAll(() => {
  process.umask(savedUmask);
  fs.rmSync(root, { recursive: true, force: true });
});

function modeOf(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

describe('makePrivateDir', () => {
  it('creates the directory and every missing parent 0700, and leaves one that exists as it is', () => {
    fs.mkdirSync(path.join(root, 'open'), { mode: 0o755 });
    const dir = path.join(root, 'open', 'a', 'b');
    makePrivateDir(dir);
    expect([modeOf(path.join(root, 'open', 'a')), modeOf(dir)]).toEqual([0o700, 0o700]);
    expect(modeOf(path.join(root, 'open'))).toBe(0o755);
    makePrivateDir(dir);
    expect(modeOf(dir)).toBe(0o700);
  });
});

describe('ensurePrivateFile', () => {
  it('makes an empty 0600 file that SQLite opens as a new database, with -wal and -shm of the same mode', () => {
    const file = path.join(root, 'fresh.db');
    ensurePrivateFile(file);
    expect(fs.statSync(file).size).toBe(0);
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
      expect(Object.fromEntries(['', '-wal', '-shm'].map((suffix) => [`fresh.db${suffix}`, modeOf(file + suffix)]))).toEqual({
        'fresh.db': 0o600,
        'fresh.db-wal': 0o600,
        'fresh.db-shm': 0o600,
      });
    } finally {
      db.close();
    }
  });

  it('leaves a file that exists alone: its bytes and its mode', () => {
    const file = path.join(root, 'kept.db');
    fs.writeFileSync(file, 'data', { mode: 0o640 });
    ensurePrivateFile(file);
    expect([fs.readFileSync(file, 'utf8'), modeOf(file)]).toEqual(['data', 0o640]);
  });

  it('without it, SQLite would create the file for anyone to read: what this guards against', () => {
    const file = path.join(root, 'sqlite-default.db');
    new Database(file).close();
    expect(modeOf(file) & 0o044).not.toBe(0);
  });
});

describe('copyToPrivateFile', () => {
  it('copies every byte, across more than one chunk, into a new 0600 file whatever the source mode', () => {
    const from = path.join(root, 'source.bin');
    const bytes = Buffer.alloc(2.5 * (1 << 20) + 7);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + (i >> 11)) & 0xff;
    fs.writeFileSync(from, bytes, { mode: 0o644 });
    const to = path.join(root, 'copy.bin');
    copyToPrivateFile(from, to);
    expect(modeOf(to)).toBe(0o600);
    expect(fs.readFileSync(to).equals(bytes)).toBe(true);
  });

  it('never writes over a file that exists', () => {
    const from = path.join(root, 'other.bin');
    fs.writeFileSync(from, 'theirs');
    const to = path.join(root, 'taken.bin');
    fs.writeFileSync(to, 'mine');
    expect(() => copyToPrivateFile(from, to)).toThrow(/EEXIST/);
    expect(fs.readFileSync(to, 'utf8')).toBe('mine');
  });
});
