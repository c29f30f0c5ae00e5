/**
 * @module scripts/backup
 * `npm run backup -- --out FILE (--data-dir DIR | --url URL) [--force]`
 *
 * Writes a consistent backup of a Quiver database to FILE, an SQLite file that
 * `npm run restore` turns into a new data dir. Two sources:
 * - `--data-dir DIR`: reads `DIR/quiver.db` directly, with a read-only connection of its own, in
 *   one read snapshot; a server may be running on DIR and keeps writing meanwhile (WAL).
 * - `--url URL`: asks a running server (`POST URL/v1/admin/backup`). When the server has API
 *   keys, the admin key is read from the environment variable QUIVER_API_KEY (or the one named
 *   by `--key-env`), never from the command line, where other users could see it.
 * FILE appears only when complete (written beside it under a temporary name, then renamed); an
 * existing FILE is kept unless `--force`. FILE's directory is created if missing (0700, as are
 * its missing parents), and FILE and its temporary are readable by their owner only (0600): a
 * backup is the whole database. Exits 0 on success, 1 on failure, 2 on bad usage.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { backupDataDir } from '../src/sql/index.ts';
import { PRIVATE_FILE_MODE, makePrivateDir } from '../src/util/index.ts';

const USAGE = 'usage: npm run backup -- --out FILE (--data-dir DIR | --url URL [--key-env VAR]) [--force]';
const DEFAULT_KEY_ENV = 'QUIVER_API_KEY';
/** The first 16 bytes of every SQLite database file. */
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

class UsageError extends Error {}

async function main(): Promise<number> {
  let flags;
  try {
    ({ values: flags } = parseArgs({
      options: {
        out: { type: 'string' },
        'data-dir': { type: 'string' },
        url: { type: 'string' },
        'key-env': { type: 'string', default: DEFAULT_KEY_ENV },
        force: { type: 'boolean', default: false },
      },
    }));
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  if (!flags.out) throw new UsageError('--out FILE is required');
  if ((flags['data-dir'] === undefined) === (flags.url === undefined)) throw new UsageError('give exactly one of --data-dir DIR and --url URL');
  const out = path.resolve(flags.out);
  if (fs.existsSync(out) && !flags.force) throw new UsageError(`${out} exists; pass --force to replace it`);
  makeOutputDir(path.dirname(out));

  const started = performance.now();
  const bytes = flags.url !== undefined
    ? await backupFromServer(flags.url, process.env[flags['key-env']], out)
    : (await backupDataDir(path.resolve(flags['data-dir']!), out)).bytes;
  const seconds = (performance.now() - started) / 1000;
  console.log(`backup: ${formatBytes(bytes)} written to ${out} in ${seconds.toFixed(1)} s`);
  console.log(`restore it with: npm run restore -- --from ${out} --data-dir NEW_DIR`);
  return 0;
}

/** Streams POST /v1/admin/backup into `out`; returns its size. */
async function backupFromServer(url: string, key: string | undefined, out: string): Promise<number> {
  const endpoint = new URL('v1/admin/backup', url.endsWith('/') ? url : `${url}/`);
  const response = await fetch(endpoint, { method: 'POST', headers: key ? { authorization: `Bearer ${key}` } : {} });
  if (response.status !== 200) {
    const text = await response.text();
    let detail = text.slice(0, 500);
    try {
      const problem = JSON.parse(text) as { code?: string; detail?: string };
      detail = `${problem.code}: ${problem.detail}`;
    } catch {
      // not problem+json: the text as it came
    }
    const hint = response.status === 401 && !key ? ` (set ${DEFAULT_KEY_ENV} to an admin key)` : '';
    throw new Error(`${endpoint} answered ${response.status}: ${detail}${hint}`);
  }
  const expected = Number(response.headers.get('content-length'));
  const partial = `${out}.partial-${randomBytes(6).toString('hex')}`;
  try {
    await pipeline(
      Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>),
      fs.createWriteStream(partial, { flags: 'wx', mode: PRIVATE_FILE_MODE }),
    );
    const { size } = fs.statSync(partial);
    if (Number.isFinite(expected) && size !== expected) throw new Error(`the download was cut: got ${size} of ${expected} bytes`);
    const head = Buffer.alloc(SQLITE_HEADER.length);
    const fd = fs.openSync(partial, 'r');
    try {
      fs.readSync(fd, head, 0, head.length, 0);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (!head.equals(SQLITE_HEADER)) throw new Error('the server answered with something that is not an SQLite file');
    fs.renameSync(partial, out);
    return size;
  } finally {
    fs.rmSync(partial, { force: true });
  }
}

/**
 * Creates the directory the backup goes to, so `--out backups/quiver.db` works on a first run;
 * before the backup starts, so a path that cannot be written fails before a long download.
 */
function makeOutputDir(dir: string): void {
  try {
    makePrivateDir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'it or one of its parents is a file' : e instanceof Error ? e.message : String(e);
    throw new Error(`cannot create the directory ${dir} for --out: ${why}; give --out a path in a directory you can write`);
  }
}

function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      console.error(`backup: ${e.message}\n${USAGE}`);
      process.exit(2);
    }
    console.error(`backup: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
