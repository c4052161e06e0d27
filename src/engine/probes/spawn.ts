// The only way the engine starts child processes: an argument array (never a shell), a
// minimal environment (LC_ALL=C so output parses the same everywhere, and no chat tokens
// or other secrets inherited from the bot), a deadline, a byte cap, and SIGKILL on abort.
import { spawn } from 'node:child_process';
import type { ProbeContext } from './context.js';
import type { TimedLine } from '../observations.js';
import { errorMessage } from '../../errors.js';

export interface BoundedSpawnOptions {
  command: string;
  args: readonly string[];
  ctx: ProbeContext;
  /** Kill the child after this long even if the probe's deadline is later. */
  timeoutMs?: number;
  /** Combined stdout+stderr bytes kept; the child is killed when it sends more. */
  maxBytes?: number;
  /** Called with each complete line as it arrives (stdout and stderr interleaved). */
  onLine?: (line: TimedLine, stream: 'stdout' | 'stderr') => void;
  /**
   * A line that settles what the child was run for: the child is stopped there instead of
   * lingering to its own end (the result is neither aborted nor timed out; its lines end there).
   */
  settledBy?: (line: TimedLine) => boolean;
  /** Extra environment variables (added to the minimal one). */
  env?: Record<string, string>;
}

export interface BoundedSpawnResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Lines of both streams in arrival order, stamped on the run's clock. */
  lines: TimedLine[];
  stdout: string;
  stderr: string;
  timedOut: boolean;
  aborted: boolean;
  truncated: boolean;
  /** The child could not be started (ENOENT: not installed; EACCES: not executable). */
  spawnError?: string;
  startedMs: number;
  endedMs: number;
}

const DEFAULT_MAX_BYTES = 256 * 1024;

/**
 * After the child exits, how long its pipes may stay open. A grandchild it left behind (a
 * ProxyCommand, `sh -c '…&'`) holds them until it ends: the child's answer is complete at
 * its exit, and the run must not wait on a process it never asked for.
 */
export const PIPE_GRACE_MS = 100;

export function minimalEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LC_ALL: 'C',
    LANG: 'C',
  };
  if (process.env.HOME) env.HOME = process.env.HOME;
  return { ...env, ...extra };
}

/** Why the child could not run, in words a person can act on; undefined when it ran. */
export function spawnProblem(tool: string, run: Pick<BoundedSpawnResult, 'spawnError'>, packageHint?: string): string | undefined {
  if (run.spawnError === undefined) return undefined;
  if (run.spawnError === 'ENOENT') return `${tool} is not installed${packageHint ? ` (${packageHint})` : ''}`;
  if (run.spawnError === 'EACCES') return `${tool} is not executable by this user`;
  return `cannot run ${tool}: ${run.spawnError}`;
}

/** Resolves (never rejects) when the child has exited and its output is read. */
export function boundedSpawn(options: BoundedSpawnOptions): Promise<BoundedSpawnResult> {
  const { ctx } = options;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const startedMs = ctx.now();
  const budget = Math.max(0, Math.min(options.timeoutMs ?? Infinity, ctx.deadlineMs - startedMs));

  return new Promise((resolve) => {
    const lines: TimedLine[] = [];
    const chunks = { stdout: [] as string[], stderr: [] as string[] };
    const partial = { stdout: '', stderr: '' };
    let bytes = 0;
    let timedOut = false;
    let aborted = false;
    let truncated = false;
    let spawnError: string | undefined;
    let settled = false;

    if (ctx.signal.aborted) {
      resolve({ exitCode: null, signal: null, lines, stdout: '', stderr: '', timedOut, aborted: true, truncated, startedMs, endedMs: ctx.now() });
      return;
    }

    let child;
    try {
      child = spawn(options.command, options.args, {
        env: minimalEnv(options.env),
        stdio: ['ignore', 'pipe', 'pipe'],
        shell: false,
        windowsHide: true,
      });
    } catch (err) {
      // spawn() throws synchronously on some arguments (a NUL byte): that is a failure to
      // start like any other, and probes rely on this promise never rejecting.
      const code = (err as NodeJS.ErrnoException).code ?? errorMessage(err);
      resolve({ exitCode: null, signal: null, lines, stdout: '', stderr: '', timedOut, aborted, truncated, spawnError: code, startedMs, endedMs: ctx.now() });
      return;
    }

    const kill = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, budget);
    const onAbort = (): void => {
      aborted = true;
      kill();
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });

    const feed = (stream: 'stdout' | 'stderr', data: Buffer): void => {
      if (truncated) return;
      let text = data.toString('utf8');
      if (bytes + data.length > maxBytes) {
        text = text.slice(0, Math.max(0, maxBytes - bytes));
        truncated = true;
        kill();
      }
      bytes += data.length;
      chunks[stream].push(text);
      const t = ctx.now();
      const parts = (partial[stream] + text).split('\n');
      partial[stream] = parts.pop() ?? '';
      for (const raw of parts) {
        const line = { t, text: raw.replace(/\r$/, '') };
        lines.push(line);
        options.onLine?.(line, stream);
        if (options.settledBy?.(line) === true) kill();
      }
    };
    child.stdout.on('data', (d: Buffer) => feed('stdout', d));
    child.stderr.on('data', (d: Buffer) => feed('stderr', d));

    child.on('error', (err: NodeJS.ErrnoException) => {
      spawnError = err.code ?? err.message;
    });
    let grace: NodeJS.Timeout | undefined;
    child.on('exit', (exitCode, signal) => {
      grace = setTimeout(() => {
        // One more I/O phase first (timers run before it): after a stalled event loop, what the
        // child wrote before its exit is still in the pipes. What comes later is the grandchild's.
        setImmediate(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          finish(exitCode, signal);
        });
      }, PIPE_GRACE_MS);
    });
    child.on('close', (exitCode, signal) => finish(exitCode, signal));
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      ctx.signal.removeEventListener('abort', onAbort);
      const t = ctx.now();
      for (const stream of ['stdout', 'stderr'] as const) {
        if (partial[stream].length > 0) {
          const line = { t, text: partial[stream].replace(/\r$/, '') };
          lines.push(line);
          options.onLine?.(line, stream);
        }
      }
      const result: BoundedSpawnResult = {
        exitCode,
        signal,
        lines,
        stdout: chunks.stdout.join(''),
        stderr: chunks.stderr.join(''),
        timedOut,
        aborted,
        truncated,
        startedMs,
        endedMs: t,
      };
      if (spawnError !== undefined) result.spawnError = spawnError;
      resolve(result);
    };
  });
}
