/**
 * @module bench/lib/server-process
 * Runs an HTTP server entry point (Quiver's `src/api/server.ts` or the bench baseline) as a
 * child process for the benchmarks: start it on PORT=0, learn its URL from the
 * `... listening on http://HOST:PORT` line it prints, stop it with SIGTERM. The same approach as
 * the e2e tests' helper, kept separate because bench code does not import from tests/ (the one
 * exception is bench/cluster.ts, which runs the cluster tests' NATS and Quiver harness). Every
 * child is remembered until it exits so `killAllServers` can leave none behind on failure.
 *
 * @example
 * ```ts
 * process.on('exit', killAllServers);
 * const server = await startServer({ name: 'quiver', entry: 'src/api/server.ts', env: { QUIVER_DATA_DIR: dir } });
 * await fetch(`${server.url}/health`);
 * await server.stop();
 * ```
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LISTENING = /listening on (http:\/\/\S+)/;
const START_TIMEOUT_MS = 30_000;
/** Quiver waits up to 10 s for requests in flight; give it a little more before SIGKILL. */
const STOP_TIMEOUT_MS = 15_000;

export interface StartOptions {
  /** Names the process in error messages. */
  name: string;
  /** Entry point relative to the repository root. */
  entry: string;
  /** Set on top of this process's environment, after HOST=127.0.0.1 and PORT=0. */
  env: Record<string, string>;
}

export interface ServerProcess {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** The child's process id, e.g. to read its memory from /proc/<pid>/status. */
  pid: number;
  /** Sends SIGTERM and waits for the exit; SIGKILL if it does not come. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

/** Starts `options.entry` under `node --import tsx` on a free loopback port; resolves once it listens. */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  // `node --import tsx`, not `npx tsx`: SIGTERM then reaches the server, not a wrapper.
  const child = spawn(process.execPath, ['--import', 'tsx', options.entry], {
    cwd: REPO_ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      running.delete(child);
      resolve();
    });
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  const url = await new Promise<string>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${options.name} server ${why}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    };
    const timer = setTimeout(() => fail(`did not print its URL within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(`exited before listening (code ${code}, signal ${signal})`);
    const onData = () => {
      const match = LISTENING.exec(stdout);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      resolve(match[1]);
    };
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });

  return {
    url,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** SIGKILLs every server still running; synchronous, so it can run in a process 'exit' handler. */
export function killAllServers(): void {
  for (const child of running) child.kill('SIGKILL');
}

/**
 * Runs a benchmark's `main` so that no server outlives it: on exit, on SIGINT/SIGTERM (exit
 * code 130) and on failure (printed, exit code 1), every server still running is killed.
 */
export async function runBenchmark(main: () => Promise<void>): Promise<void> {
  process.on('exit', killAllServers);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killAllServers();
      process.exit(130);
    });
  }
  try {
    await main();
  } catch (e) {
    console.error(e);
    killAllServers();
    process.exitCode = 1;
  }
}
