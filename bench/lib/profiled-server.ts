/**
 * @module bench/lib/profiled-server
 * Quiver's server (`src/api/server.ts`) under V8's sampling CPU profiler, as an entry point for
 * `startServer` when a benchmark is asked for a profile. `node --cpu-prof` would do the same,
 * but Node 20 refuses it in NODE_OPTIONS and `startServer` takes no node flags; the inspector
 * API needs neither. The profile goes to BENCH_PROFILE_FILE when the server exits (its SIGTERM
 * handler calls process.exit), with `<file>.start.json` holding the wall-clock time the profile
 * started, so the benchmark can keep only the samples of the span it measured.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

/** Microseconds between samples: finer than V8's default 1 ms, for statements of ~25 ms. */
const SAMPLING_INTERVAL_US = 200;

const file = process.env.BENCH_PROFILE_FILE;
if (!file) throw new Error('bench/lib/profiled-server.ts: set BENCH_PROFILE_FILE to the .cpuprofile to write');

const session = new Session();
session.connect();
// A session on the main thread answers synchronously, which is what lets the 'exit' handler work.
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US });
session.post('Profiler.start');
writeFileSync(`${file}.start.json`, JSON.stringify({ epochMs: performance.timeOrigin + performance.now() }));

process.on('exit', () => {
  session.post('Profiler.stop', (error, result) => {
    if (error) console.error(`profiled-server: could not stop the profiler: ${error.message}`);
    else writeFileSync(file, JSON.stringify(result.profile));
  });
});

await import('../../src/api/server.ts');
