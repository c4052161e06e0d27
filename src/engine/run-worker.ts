// The probe engine on its own thread (node:worker_threads) or in a process of its own
// (child_process.fork), for long-lived processes that must stay responsive while checks
// run: every child process a probe starts costs tens of milliseconds of synchronous
// fork/exec, which on the service's main thread delayed /healthz by seconds and 429s by tens
// of seconds under a burst. Runs here are as in-process runs (run.ts), with events and the
// outcome posted back; threaded.ts is the other side.
import { parentPort } from 'node:worker_threads';
import { isSshcheckError, errorMessage } from '../errors.js';
import type { ProgressEvent, Report } from './report.js';
import { run } from './run.js';
import type { RunOptions } from './run.js';
import type { Target } from '../target.js';
import { coalescingOutbox } from './outbox.js';

/** What a run is given across threads: RunOptions without the callbacks and the signal. */
export type WireRunOptions = Omit<RunOptions, 'onEvent' | 'signal'>;

export type ToRunWorker = { type: 'run'; id: number; target: Target; options: WireRunOptions } | { type: 'abort'; id: number };

export interface WireRunError {
  message: string;
  code?: string;
  /** A policy refusal's details (PolicyError.denial). */
  denial?: unknown;
}

export type FromRunWorker = { type: 'event'; id: number; event: ProgressEvent } | { type: 'done'; id: number; report: Report } | { type: 'error'; id: number; error: WireRunError };

/**
 * What crosses the channel: messages in order, batched (outbox.ts). A run emits its events in
 * bursts (ten steps marked running at once, then ten settled); each message sent alone cost
 * ~0.1-0.2 ms of serialising and writing here and as much of reading there, and the burst
 * before a verdict held the run's own I/O back by 2-7 ms.
 */
export type FromRunWorkerBatch = readonly FromRunWorker[];

/** Where the runs come from and their events go: a worker thread's port, or a forked process's IPC channel. */
interface Channel {
  post(messages: FromRunWorkerBatch): void;
  onMessage(handler: (message: ToRunWorker) => void): void;
}

/** The runs in flight, each with its abort: aborting a run kills the probes it started (probes/spawn.ts). */
const controllers = new Map<number, AbortController>();

/**
 * A step's progress may wait this long to travel with the next messages; a run's start, its
 * verdict, its end and its failure never wait. While a run waits for its first evidence the
 * caller's process, the broker and the bot all forwarded each step update, on the same cores
 * as the run itself: in the NATS bench the engine's own time to a verdict was 4.4 ms in the
 * agent's engine process against 2.2 ms alone. People never see the difference: chat
 * threads pace their edits by the second (chat/pacer.ts).
 */
export const STEP_COALESCE_MS = 20;

/** Messages that go once the code that made them is done (see STEP_COALESCE_MS). */
function urgent(message: FromRunWorker): boolean {
  return message.type !== 'event' || message.event.type !== 'step-updated';
}

function serve(channel: Channel): void {
  const post = coalescingOutbox<FromRunWorker>((batch) => channel.post(batch), { urgent, delayMs: STEP_COALESCE_MS });
  channel.onMessage((message: ToRunWorker) => {
    if (message.type === 'abort') {
      controllers.get(message.id)?.abort();
      return;
    }
    const controller = new AbortController();
    controllers.set(message.id, controller);
    run(message.target, { ...message.options, signal: controller.signal, onEvent: (event) => post({ type: 'event', id: message.id, event }) })
      .then((report) => post({ type: 'done', id: message.id, report }))
      .catch((err: unknown) => {
        const denial = (err as { denial?: unknown }).denial;
        post({ type: 'error', id: message.id, error: { message: errorMessage(err), ...(isSshcheckError(err) ? { code: err.code } : {}), ...(denial !== undefined ? { denial } : {}) } });
      })
      .finally(() => controllers.delete(message.id));
  });
}

if (parentPort) {
  const port = parentPort;
  serve({ post: (m) => port.postMessage(m), onMessage: (h) => port.on('message', h) });
} else if (process.send) {
  // A process of its own (threaded.ts, `process: true`): it lives as long as its parent's channel.
  const send = process.send.bind(process);
  // Its parent gone (stopped, or killed without a word): the probes it started go with it
  // (SIGKILL, sent synchronously by each run's abort), not only this process. A send that
  // fails first says the same: left unhandled, its error would end this process and leave
  // the probes running.
  const leave = (): void => {
    for (const controller of controllers.values()) controller.abort();
    process.exit(0);
  };
  serve({ post: (m) => (process.connected ? void send(m, undefined, {}, (err) => err && leave()) : leave()), onMessage: (h) => process.on('message', h) });
  process.on('disconnect', leave);
}
