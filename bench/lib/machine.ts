/** @module bench/lib/machine — the facts about the machine a benchmark section records beside its figures. */
import os from 'node:os';
import Database from 'better-sqlite3';

export interface MachineFacts {
  date: string;
  cpu: string;
  cores: number;
  node: string;
  sqlite: string;
  loadAverage: number;
}

/** Today's date, the CPU, Node's and SQLite's versions, and the 1-minute load average now. */
export function machineFacts(): MachineFacts {
  const cpus = os.cpus();
  const memory = new Database(':memory:');
  const sqlite = memory.prepare('SELECT sqlite_version()').pluck().get() as string;
  memory.close();
  return {
    date: new Date().toISOString().slice(0, 10),
    cpu: cpus[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus.length,
    node: process.version,
    sqlite,
    // Other work on the machine moves the figures; the load says how much there was.
    loadAverage: os.loadavg()[0],
  };
}
