/**
 * @module util/private-files
 * Files that hold users' data (the database and its WAL, index segments, the embedding cache,
 * backups and their temporary files) are readable by their owner only: 0600, in directories
 * made 0700 where Quiver makes them. The mode is given when the file is created (open(2) with
 * O_EXCL, mkdir(2)), never set afterwards, so there is no moment in which another user could
 * open the file; the umask only ever takes bits away, so it cannot loosen these modes, and
 * Quiver leaves the process umask alone (it belongs to whoever runs or embeds the engine).
 *
 * SQLite creates a database file 0644 (less the umask), and its -wal, -shm and -journal files
 * with the mode of the database file, so creating the database file here, empty, before SQLite
 * opens it makes all of them private (SQLite takes an empty file for an empty database).
 *
 * Deliberately not done: files and directories that exist already keep their mode; an operator
 * may have chosen it (a group that runs backups, say).
 */
import fs from 'node:fs';

/** Owner may read and write; no one else may do anything. */
export const PRIVATE_FILE_MODE = 0o600;
/** Owner may list, enter and create; no one else may do anything. */
export const PRIVATE_DIR_MODE = 0o700;
/** Bytes copied per read and write by copyToPrivateFile. */
const COPY_CHUNK_BYTES = 1 << 20;

/** Creates `dir` and each missing parent 0700; directories that exist are left as they are. */
export function makePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** Creates `file` empty and 0600 unless it exists, so a library that then opens it (SQLite) keeps that mode. */
export function ensurePrivateFile(file: string): void {
  try {
    fs.closeSync(fs.openSync(file, 'wx', PRIVATE_FILE_MODE));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

/**
 * Copies `from` into `to`, a new file created 0600 (EEXIST if it exists). fs.copyFile would
 * give the copy the source's mode, which may be anyone's to read.
 */
export function copyToPrivateFile(from: string, to: string): void {
  const source = fs.openSync(from, 'r');
  try {
    const target = fs.openSync(to, 'wx', PRIVATE_FILE_MODE);
    try {
      const buffer = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
      for (let position = 0; ; ) {
        const read = fs.readSync(source, buffer, 0, buffer.length, position);
        if (read === 0) break;
        for (let written = 0; written < read; ) written += fs.writeSync(target, buffer, written, read - written);
        position += read;
      }
    } finally {
      fs.closeSync(target);
    }
  } finally {
    fs.closeSync(source);
  }
}
