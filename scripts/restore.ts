/**
 * @module scripts/restore
 * `npm run restore -- --from FILE --data-dir NEW_DIR`
 *
 * Makes NEW_DIR (absent or empty) a Quiver data dir holding the database in backup FILE (from
 * `npm run backup` or `POST /v1/admin/backup`). The file is checked first (SQLite's
 * integrity_check, Quiver's catalog) and a data dir that holds anything is refused, so a
 * restore never overwrites a database. The vector indexes are built from their tables when a
 * server first starts on NEW_DIR. Exits 0 on success, 1 on failure, 2 on bad usage.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { restoreDatabase } from '../src/sql/index.ts';

const USAGE = 'usage: npm run restore -- --from FILE --data-dir NEW_DIR';

function main(): number {
  let flags;
  try {
    ({ values: flags } = parseArgs({ options: { from: { type: 'string' }, 'data-dir': { type: 'string' } } }));
  } catch (e) {
    console.error(`restore: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  if (!flags.from || !flags['data-dir']) {
    console.error(`restore: --from FILE and --data-dir NEW_DIR are both required\n${USAGE}`);
    return 2;
  }
  const dataDir = path.resolve(flags['data-dir']);
  const restored = restoreDatabase(path.resolve(flags.from), dataDir);
  const indexes = restored.vectorIndexes === 1 ? '1 vector index' : `${restored.vectorIndexes} vector indexes`;
  console.log(`restore: ${restored.tables} table(s) restored into ${restored.file} (integrity check ok)`);
  console.log(`start a server on it with QUIVER_DATA_DIR=${dataDir}; its ${indexes} will be built from the tables on the first start`);
  console.log('if the old data dir had an embedding.json, copy it there too: a backup holds the database only');
  return 0;
}

try {
  process.exit(main());
} catch (e) {
  console.error(`restore: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
