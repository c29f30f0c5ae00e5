/** @module exec — the door of src/sql/exec/. */
export { RestoreError, backupDataDir, restoreDatabase } from './backup.ts';
export type { BackupResult, RestoreResult } from './backup.ts';
export { Engine } from './engine.ts';
export { DATABASE_FILE, DataDirLockedError } from './data-dir.ts';
export { DEFAULT_DISK_RESERVE_BYTES, STORAGE_FULL_RETRY_AFTER_S } from './disk-space.ts';
export type { OpenOptions, TableDescription } from './engine.ts';
export type { ClusterNodeStatus, ReplicatedLog } from './replicated-log.ts';
export type { LogEntry } from './writer-log.ts';
export { notReady } from './engine-stats.ts';
export type { EngineStats } from './engine-stats.ts';
export type { IndexStatus } from './admin.ts';
