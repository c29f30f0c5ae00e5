/**
 * @module admin
 * `POST /v1/admin/backup` (admin role): a consistent copy of the database, streamed as
 * `application/vnd.sqlite3` while other requests go on. The engine writes the backup to a
 * temporary file with SQLite's backup API (src/sql/exec/backup.ts), readable by this process's
 * user only (0600, though the OS temp dir is everyone's); the file is opened, unlinked at once
 * and streamed from the open descriptor, so it is gone from the disk whether the client reads it
 * all, disconnects half-way, or the process dies. The answer's Content-Length is the
 * file's size, so a client can tell a complete download from a cut one. A temporary dir with
 * no room for the copy is answered 507 STORAGE_FULL. Restore is offline
 * (`npm run restore`): it needs a data dir no server has open.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Hono } from 'hono';
import { QuiverError, isDiskFullError } from '../../core/index.ts';
import { STORAGE_FULL_RETRY_AFTER_S } from '../../sql/index.ts';
import type { SqlEngine } from '../app.ts';
import { requireRole } from '../auth.ts';
import { methodNotAllowed } from './method-not-allowed.ts';

export const BACKUP_CONTENT_TYPE = 'application/vnd.sqlite3';

export interface AdminRoutesOptions {
  /** Where a backup is written before it is streamed; default the OS temp dir. */
  tmpDir?: string;
}

/** Routes under `/v1/admin/`; they sit behind `authenticate` (app.ts) and each requires the admin role. */
export function adminRoutes(engine: SqlEngine, options: AdminRoutesOptions = {}): Hono {
  const tmpDir = options.tmpDir ?? os.tmpdir();
  return new Hono()
    .post('/v1/admin/backup', requireRole('admin'), async (c) => {
      if (!engine.isOpen) throw new QuiverError('DATABASE_CLOSED', 'the database is not open; there is nothing to back up');
      if (!engine.backup) throw new Error('POST /v1/admin/backup needs an engine that can make backups');
      const file = path.join(tmpDir, `quiver-backup-${randomBytes(8).toString('hex')}.db`);
      let fd: number;
      try {
        await engine.backup(file);
        fd = fs.openSync(file, 'r');
      } catch (e) {
        fs.rmSync(file, { force: true });
        // A shutdown closing the database half-way through is not a bug; say so.
        if (!engine.isOpen) throw new QuiverError('DATABASE_CLOSED', 'the database was closed while the backup ran; retry on a running server', { cause: e });
        if (isDiskFullError(e)) {
          throw new QuiverError(
            'STORAGE_FULL',
            "the server's temporary directory has no room for the backup's copy (as large as the database); free space there or point TMPDIR at a larger disk, then retry",
            { cause: e, retryAfterSeconds: STORAGE_FULL_RETRY_AFTER_S },
          );
        }
        throw e;
      }
      const { size } = fs.fstatSync(fd);
      // Unlinked now, read through `fd`: the disk space returns when the stream closes the descriptor.
      fs.rmSync(file, { force: true });
      const body = Readable.toWeb(fs.createReadStream('', { fd, autoClose: true })) as ReadableStream<Uint8Array>;
      return c.body(body, 200, {
        'content-type': BACKUP_CONTENT_TYPE,
        'content-length': String(size),
        'content-disposition': `attachment; filename="${backupFileName(new Date())}"`,
        'cache-control': 'no-store',
      });
    })
    .all('/v1/admin/backup', methodNotAllowed(['POST']));
}

/** `quiver-20240501T120000Z.db`: sorts by time, and is a valid name on every file system. */
export function backupFileName(at: Date): string {
  return `quiver-${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.db`;
}
