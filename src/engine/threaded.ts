// Runs the engine on its own thread, or in a process of its own (run-worker.ts), with the
// same shape as run(): a target, options, progress events as they happen, a report or an
// error (a policy refusal stays a PolicyError). Used by `sshcheck serve`, so that child
// processes' fork/exec never stops its HTTP thread; any long-lived caller (an agent) can use
// it the same way. A thread still shares its process's memory map: each fork() a probe makes
// copies the page tables of the whole process and holds its memory lock meanwhile, which
// stalls the HTTP thread too (a burst's 429s took seconds longer while runs spawned). In a
// process of its own (`process: true`) the probes' forks copy only that small process.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SshcheckError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import type { ProgressEvent, Report } from './report.js';
import type { Target } from '../target.js';
import { PolicyError } from '../policy/target-policy.js';
import type { PolicyDenial } from '../policy/target-policy.js';
import type { FromRunWorker, FromRunWorkerBatch, ToRunWorker, WireRunError, WireRunOptions } from './run-worker.js';

interface Pending {
  onEvent?: (event: ProgressEvent) => void;
  resolve: (report: Report) => void;
  reject: (err: Error) => void;
}

function rebuild(error: WireRunError): Error {
  if (error.code === 'E_POLICY' && error.denial !== undefined) return new PolicyError(error.denial as PolicyDenial);
  if (error.code !== undefined) return new SshcheckError(error.code as ErrorCode, error.message);
  return new Error(error.message);
}

/** The other side of run-worker.ts: a worker thread or a forked process, the same messages. */
interface Runner {
  send(message: ToRunWorker): void;
  end(): Promise<void>;
  /** The process's id (process mode). */
  readonly pid?: number;
}

interface RunnerEvents {
  message: (message: FromRunWorker) => void;
  /** The thread or process failed or ended. */
  failed: (err: Error) => void;
}

function threadRunner(events: RunnerEvents): Runner {
  const worker = new Worker(new URL('./run-worker.js', import.meta.url));
  worker.on('message', (batch: FromRunWorkerBatch) => batch.forEach(events.message));
  worker.on('error', events.failed);
  worker.on('exit', (code) => events.failed(new Error(`exit code ${code}`)));
  return {
    send: (m) => worker.postMessage(m),
    end: async () => void (await worker.terminate()),
  };
}

function processRunner(events: RunnerEvents): Runner {
  // Structured clone across the channel, as between threads: a Report arrives as it was sent.
  const child: ChildProcess = fork(fileURLToPath(new URL('./run-worker.js', import.meta.url)), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  child.on('message', (batch) => (batch as FromRunWorkerBatch).forEach(events.message));
  child.on('error', events.failed);
  child.on('exit', (code, signal) => events.failed(new Error(`the engine process exited (${signal ?? `code ${code}`})`)));
  return {
    ...(child.pid !== undefined ? { pid: child.pid } : {}),
    send: (m) => {
      if (child.connected) child.send(m);
    },
    end: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** A prestarted engine that died young waits this long before it is started again, doubling up to RESTART_MAX_MS. */
const RESTART_FIRST_MS = 1000;
const RESTART_MAX_MS = 30_000;

export interface ThreadedEngineOptions {
  /** Run the engine in a child process instead of a thread (see the top of this file). */
  process?: boolean;
  /** The prestarted engine stopped (crashed, killed): why, and in how many ms it is started again. */
  onExit?: (err: Error, restartInMs: number) => void;
}

export class ThreadedEngine {
  private worker: Runner | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Prestarted: kept running, started again when it dies. */
  private warm = false;
  private closing = false;
  private startedAt = 0;
  private restartMs = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ThreadedEngineOptions = {}) {}

  /** The engine process's id (process mode, while it runs). */
  get pid(): number | undefined {
    return this.worker?.pid;
  }

  /** One run on the engine's thread; `signal` aborts it there. */
  run(target: Target, options: WireRunOptions & { onEvent?: (event: ProgressEvent) => void; signal?: AbortSignal }): Promise<Report> {
    const { onEvent, signal, ...wire } = options;
    const worker = this.thread();
    const id = this.nextId++;
    return new Promise<Report>((resolve, reject) => {
      this.pending.set(id, { ...(onEvent ? { onEvent } : {}), resolve, reject });
      const abort = (): void => worker.send({ type: 'abort', id });
      if (signal?.aborted) abort();
      else signal?.addEventListener('abort', abort, { once: true });
      worker.send({ type: 'run', id, target, options: wire });
    });
  }

  /**
   * Starts the thread now rather than at the first run, and again whenever it dies: loading
   * the engine there costs hundreds of milliseconds of CPU, and forking its process ~35 ms of
   * the caller's event loop, which a long-lived caller pays at start-up (or after a crash,
   * off any request's path) instead of in the middle of a burst of requests.
   */
  prestart(): void {
    this.warm = true;
    this.thread();
  }

  /** Ends the thread; runs still going are rejected. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.end();
  }

  private thread(): Runner {
    if (this.worker) return this.worker;
    const message = (message: FromRunWorker): void => {
      const pending = this.pending.get(message.id);
      if (!pending) return;
      if (message.type === 'event') return pending.onEvent?.(message.event);
      this.pending.delete(message.id);
      if (message.type === 'done') pending.resolve(message.report);
      else pending.reject(rebuild(message.error));
    };
    const failed = (err: Error): void => {
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.reject(new SshcheckError('E_ENGINE', `the engine thread stopped: ${err.message}`, { cause: err }));
      }
      if (this.worker !== worker) return;
      this.worker = undefined;
      if (this.warm && !this.closing) this.restart(err);
    };
    const worker = this.options.process ? processRunner({ message, failed }) : threadRunner({ message, failed });
    this.worker = worker;
    this.startedAt = Date.now();
    return worker;
  }

  /**
   * Starts a prestarted engine again after it died: at once when it had run a while, later
   * and later when it keeps dying young (a crash loop does not fork the caller to death). A
   * run asked for meanwhile starts it itself, as before prestart().
   */
  private restart(err: Error): void {
    const lived = Date.now() - this.startedAt;
    this.restartMs = lived >= RESTART_MAX_MS ? 0 : Math.min(RESTART_MAX_MS, Math.max(RESTART_FIRST_MS, this.restartMs * 2));
    this.options.onExit?.(err, this.restartMs);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.closing) this.thread();
    }, this.restartMs);
    // Never what keeps a process alive: one that is done may exit.
    this.restartTimer.unref();
  }
}
