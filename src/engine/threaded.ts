// Runs the engine on its own thread (run-worker.ts) with the same shape as run(): a target,
// options, progress events as they happen, a report or an error (a policy refusal stays a
// PolicyError). Used by `sshcheck serve`, so that child processes' fork/exec never stops
// its HTTP thread; any long-lived caller (an agent) can use it the same way.
import { Worker } from 'node:worker_threads';
import { SshcheckError } from './errors.js';
import type { ErrorCode } from './errors.js';
import type { ProgressEvent, Report } from './report.js';
import type { Target } from './target.js';
import { PolicyError } from '../policy/target-policy.js';
import type { PolicyDenial } from '../policy/target-policy.js';
import type { FromRunWorker, ToRunWorker, WireRunError, WireRunOptions } from './run-worker.js';

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

export class ThreadedEngine {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /** One run on the engine's thread; `signal` aborts it there. */
  run(target: Target, options: WireRunOptions & { onEvent?: (event: ProgressEvent) => void; signal?: AbortSignal }): Promise<Report> {
    const { onEvent, signal, ...wire } = options;
    const worker = this.thread();
    const id = this.nextId++;
    return new Promise<Report>((resolve, reject) => {
      this.pending.set(id, { ...(onEvent ? { onEvent } : {}), resolve, reject });
      const abort = (): void => worker.postMessage({ type: 'abort', id } satisfies ToRunWorker);
      if (signal?.aborted) abort();
      else signal?.addEventListener('abort', abort, { once: true });
      worker.postMessage({ type: 'run', id, target, options: wire } satisfies ToRunWorker);
    });
  }

  /**
   * Starts the thread now rather than at the first run: loading the engine there costs
   * hundreds of milliseconds of CPU, which a long-lived caller pays at start-up instead of
   * in the middle of its first burst of requests.
   */
  prestart(): void {
    this.thread();
  }

  /** Ends the thread; runs still going are rejected. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./run-worker.js', import.meta.url));
    worker.on('message', (message: FromRunWorker) => {
      const pending = this.pending.get(message.id);
      if (!pending) return;
      if (message.type === 'event') return pending.onEvent?.(message.event);
      this.pending.delete(message.id);
      if (message.type === 'done') pending.resolve(message.report);
      else pending.reject(rebuild(message.error));
    });
    const failAll = (err: Error): void => {
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.reject(new SshcheckError('E_ENGINE', `the engine thread stopped: ${err.message}`, { cause: err }));
      }
      if (this.worker === worker) this.worker = undefined;
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`exit code ${code}`)));
    this.worker = worker;
    return worker;
  }
}
