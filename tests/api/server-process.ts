/**
 * @module server-process
 * Runs the real server (`src/api/server.ts`) as a child process for end-to-end tests: start it
 * on PORT=0 with a given data dir, learn its URL from the startup line, stop it with a signal
 * and see how it exited. Every child started here is remembered until it exits, so a suite's
 * `afterAll(killAllServers)` leaves no process behind even when a test failed half-way. The CLI
 * scripts (scripts/backup.ts, ...) run to their end with {@link runNodeScript}. Either may be
 * given a umask, to show what a file's mode owes to the code and not to the umask.
 *
 * @example
 * ```ts
 * afterAll(killAllServers);
 * const server = await startServer({ dataDir });
 * await fetch(`${server.url}/health`);
 * expect(await server.stop()).toEqual({ code: 0, signal: null });
 * ```
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LISTENING = /Quiver listening on (http:\/\/\S+) \(data: (.*)\)/;
const DEFAULT_TIMEOUT_MS = 15_000;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  dataDir: string;
  /** Extra environment variables, e.g. QUIVER_MAX_BODY_BYTES. */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** The server's file mode creation mask (e.g. 0o000); by default this process's. */
  umask?: number;
}

export interface ServerProcess {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** The data dir as the server printed it. */
  dataDir: string;
  child: ChildProcess;
  /** Everything the process has written so far. */
  output(): { stdout: string; stderr: string };
  /** Sends `signal` (SIGTERM by default) and resolves with how the process exited. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
}

const running = new Set<ChildProcess>();

interface Spawned {
  child: ChildProcess;
  exited: Promise<Exit>;
  output(): { stdout: string; stderr: string };
}

/**
 * The command that runs TypeScript `script` with `args`: `node --import tsx`, not `npx tsx`, so
 * signals reach the script itself, not a wrapper. Under a given umask it goes through sh, which
 * sets the mask and then execs node in its own place, so signals still reach node.
 */
function nodeCommand(script: string, args: readonly string[], umask: number | undefined): [string, string[]] {
  const node = [process.execPath, '--import', 'tsx', script, ...args];
  if (umask === undefined) return [node[0], node.slice(1)];
  return ['/bin/sh', ['-c', `umask ${umask.toString(8).padStart(4, '0')} && exec "$@"`, 'sh', ...node]];
}

/** Starts `src/api/server.ts` with `env` on top of this process's environment. */
function spawnServer(env: Record<string, string>, umask?: number): Spawned {
  const [command, args] = nodeCommand('src/api/server.ts', [], umask);
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, exited, output: () => ({ stdout, stderr }) };
}

/** Starts the server on a free port and waits for its startup line. */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const { child, exited, output } = spawnServer(
    {
      HOST: '127.0.0.1',
      PORT: '0',
      QUIVER_DATA_DIR: options.dataDir,
      // The server's 64 MiB reserve, written at every start of every test server, would cost the
      // suite gigabytes of writes; 1 MiB still makes and keeps one.
      QUIVER_DISK_RESERVE_MB: '1',
      ...options.env,
    },
    options.umask,
  );

  const listening = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => fail(`did not print its URL within ${timeoutMs} ms`), timeoutMs);
    const onData = () => {
      const match = LISTENING.exec(output().stdout);
      if (match) {
        cleanup();
        resolve(match);
      }
    };
    let settled = false;
    const onExit = (exit: Exit) => {
      if (!settled) fail(`exited before listening (${JSON.stringify(exit)})`);
    };
    function cleanup() {
      settled = true;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
    }
    function fail(why: string) {
      cleanup();
      child.kill('SIGKILL');
      const { stdout, stderr } = output();
      reject(new Error(`server ${why}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }
    child.stdout!.on('data', onData);
    void exited.then(onExit);
  });

  return {
    url: listening[1],
    dataDir: listening[2],
    child,
    output,
    async stop(signal = 'SIGTERM', stopTimeoutMs = DEFAULT_TIMEOUT_MS) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), stopTimeoutMs).unref());
      const result = await Promise.race([exited, timeout]);
      if (result === 'timeout') {
        child.kill('SIGKILL');
        throw new Error(`server did not exit within ${stopTimeoutMs} ms of ${signal}`);
      }
      return result;
    },
  };
}

/** Runs the server until it exits on its own, e.g. on a startup error; kills it after `timeoutMs`. */
export async function runServerToExit(
  env: Record<string, string>,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<Exit & { stdout: string; stderr: string }> {
  const { child, exited, output } = spawnServer(env);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exit = await exited;
  clearTimeout(timer);
  return { ...exit, ...output() };
}

export interface ScriptOptions {
  /** Extra environment variables, e.g. QUIVER_API_KEY. */
  env?: Record<string, string>;
  /** The script's file mode creation mask; by default this process's. */
  umask?: number;
}

/** Runs a TypeScript script of the repository (`scripts/backup.ts`) with `args` to its end: its exit code and output. */
export async function runNodeScript(script: string, args: readonly string[], options: ScriptOptions = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const [command, commandArgs] = nodeCommand(script, args, options.umask);
  try {
    const { stdout, stderr } = await promisify(execFile)(command, commandArgs, { cwd: REPO_ROOT, env: { ...process.env, ...options.env } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const failed = e as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** Kills every server this module started that is still running; for `afterAll`. */
export async function killAllServers(): Promise<void> {
  const exits = [...running].map(
    (child) => new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    }),
  );
  await Promise.all(exits);
}
