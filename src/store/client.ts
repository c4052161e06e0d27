// The store for long-lived processes (the bot, `sshcheck serve`): the same calls as Store,
// answered by its own thread (worker.ts), so that a lock held by another process or a slow
// disk costs this event loop nothing. A write that meets a lock is spooled to disk and
// written later (`spooled` tells the caller at once, so admission can refuse instead of
// probing unrecorded). Every Store method is callable through `call`, so a method added to
// Store needs nothing here.
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { SshcheckError } from '../errors.js';
import { Store } from './store.js';
import type { AuditEntry, AuditPatch, AuditRow, Recovery, RunRow, StoreOptions } from './store.js';
import type { Report } from '../engine/report.js';
import type { AuditSource } from './store.js';
import type { CallMessage, FromWorker, Reply, ToWorker, WireError, WorkerInit } from './worker.js';

/** The names of Store's methods. */
export type StoreMethod = { [K in keyof Store]: Store[K] extends (...args: never[]) => unknown ? K : never }[keyof Store];
type ArgsOf<K extends StoreMethod> = Store[K] extends (...args: infer A) => unknown ? A : never;
type ResultOf<K extends StoreMethod> = Store[K] extends (...args: never[]) => infer R ? R : never;

/** A store error from the store's thread; `busy`: another process held the lock. */
export class StoreCallError extends SshcheckError {
  readonly busy: boolean;
  readonly sqliteCode: string | undefined;
  constructor(error: WireError) {
    super('E_STORE', error.message);
    this.busy = error.busy;
    this.sqliteCode = error.code;
  }
}

export interface CallHooks {
  /** The row could not be written now; it is on disk (`file`) and will be written later. */
  spooled?: (file: string) => void;
  /**
   * Nobody waits for this call (a refused request's row, a finished run's update): it may
   * wait up to BACKGROUND_FLUSH_MS to be sent with others. A call that is waited for sends
   * it at once, in order, with everything before it.
   */
  background?: boolean;
}

/**
 * How long a background call may wait to be sent, beyond the end of its turn of the loop.
 * None: a burst's calls already go as one message per turn (a pass of the loop serves dozens
 * to hundreds of requests of a burst), and every millisecond more is a millisecond in which
 * a kill -9 loses refused requests' rows — every request, allowed or refused, gets its row.
 * Graceful exits (close()) send what is waiting first.
 */
export const BACKGROUND_FLUSH_MS = 0;

interface Waiting {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  hooks?: CallHooks;
}

export interface ClientOptions extends Omit<StoreOptions, 'now'> {
  /** Write what crashed processes spooled and close their unfinished rows (bot, serve). */
  recover?: boolean;
  /**
   * Send a call someone waits for when the code that made it is done, not at the end of the
   * loop's turn (serve, which reads replies mid-turn with poll()): one message per such call
   * instead of one per turn.
   */
  prompt?: boolean;
  /**
   * Also open the store on this thread (Store `side`) for the two calls a check waits for
   * before it may probe: its audit row and its history read. Each is one short statement
   * here, against a round trip to the store's thread (a wake-up of that thread and of this
   * one: 0.7-1.6 ms of a check through NATS on two cores). A lock held by another process
   * makes the statement fail at once (busy_timeout 0), and the call goes to the store's
   * thread as before (spooled, or refused). A row written here may land ahead of rows that
   * thread spooled during a lock that has just gone: each keeps its own time.
   */
  direct?: boolean;
}

/** The `direct` connection, or none when it cannot be opened now (the store's thread serves every call). */
function openSide(path: string, options: Omit<StoreOptions, 'now'>, owner: string): Store | undefined {
  try {
    return Store.open(path, { ...options, side: true, owner });
  } catch {
    return undefined;
  }
}

export class StoreClient {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  /** Calls not yet sent to the store's thread (see call()). */
  private outbox: CallMessage[] = [];
  /** A flush is queued for a call someone waits for (end of the task with `prompt`, else of the turn). */
  private flushing = false;
  private later: NodeJS.Timeout | undefined;
  private sent = 0;
  /** Calls someone waits for (not background) sent and not yet answered: what poll() looks for. */
  private awaited = 0;
  private closed: Promise<number> | undefined;
  private onClosed: ((unwritten: number) => void) | undefined;

  private constructor(
    readonly path: string,
    private readonly prompt: boolean,
    private readonly worker: Worker,
    /** This side of the channel to the store's thread: calls out, replies in (see poll()). */
    private readonly port: MessagePort,
    readonly schemaVersion: number,
    readonly owner: string,
    readonly recovery: Recovery | undefined,
    /** The connection on this thread (`direct`), when it could be opened. */
    private readonly direct: Store | undefined,
  ) {
    port.on('message', (message: FromWorker) => this.receive(message));
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', () => {
      port.close();
      this.failAll(new Error('the store thread stopped'));
      this.onClosed?.(0);
    });
  }

  /** Starts the store's thread and opens the store there; throws SshcheckError E_STORE as Store.open does. */
  static open(path: string, options: ClientOptions = {}): Promise<StoreClient> {
    const { recover = false, prompt = false, direct = false, ...storeOptions } = options;
    // A channel of its own rather than the worker's implicit one: a MessagePort can be read
    // synchronously (poll()).
    const { port1, port2 } = new MessageChannel();
    const init: WorkerInit = { path, options: storeOptions, recover, port: port2 };
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: init, transferList: [port2] });
    return new Promise((resolve, reject) => {
      const first = (message: FromWorker): void => {
        worker.off('error', failed);
        if (message.type === 'ready') resolve(new StoreClient(path, prompt, worker, port1, message.schemaVersion, message.owner, message.recovery, direct ? openSide(path, storeOptions, message.owner) : undefined));
        else {
          port1.close();
          void worker.terminate();
          reject(message.type === 'open-error' ? new SshcheckError('E_STORE', message.error.message) : new SshcheckError('E_STORE', `the store thread answered ${message.type} before it was ready`));
        }
      };
      const failed = (err: Error): void => {
        port1.close();
        reject(new SshcheckError('E_STORE', `the store thread failed to start: ${err.message}`, { cause: err }));
      };
      port1.once('message', first);
      worker.once('error', failed);
    });
  }

  /** Messages sent to the store's thread so far (each one wakes it): what batching saves shows here. */
  get messagesSent(): number {
    return this.sent;
  }

  /**
   * Any Store method, run on the store's thread. Background calls are sent together at the
   * end of this turn of the event loop (within BACKGROUND_FLUSH_MS): a burst of refused
   * requests costs a few messages to the store's thread, not one each. Each postMessage wakes
   * that thread, and on a busy 2-core machine the wake-up took this thread off its CPU for
   * 0.1-0.5 ms: the largest cost per refused request of a burst of 300
   * (bench/service-burst.ts). A call someone waits for goes with everything before it at the
   * end of the turn (setImmediate), or with `prompt` once the code that made it is done: one
   * turn of a burst is the whole batch of requests the kernel handed over at once, and an
   * admitted request's row waited behind all of them (its 202 came ~200 ms after the request).
   */
  call<K extends StoreMethod>(method: K, args: ArgsOf<K>, hooks?: CallHooks): Promise<ResultOf<K>> {
    if (this.closed) return Promise.reject(new SshcheckError('E_STORE', 'the store is closed'));
    const id = this.nextId++;
    return new Promise<ResultOf<K>>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject, ...(hooks ? { hooks } : {}) });
      this.outbox.push({ id, method, args: [...(args as unknown[])] });
      if (!hooks?.background) {
        this.awaited += 1;
        if (!this.flushing) {
          this.flushing = true;
          if (this.prompt) queueMicrotask(() => this.flush());
          else setImmediate(() => this.flush());
        }
      } else if (!this.flushing) this.later ??= setTimeout(() => this.flush(), BACKGROUND_FLUSH_MS);
    });
  }

  /** Sends the calls made since the last flush, in order, as one message. */
  private flush(): void {
    if (this.later) clearTimeout(this.later);
    this.flushing = false;
    this.later = undefined;
    if (this.outbox.length === 0) return;
    const message: ToWorker = { type: 'calls', calls: this.outbox };
    this.outbox = [];
    this.sent += 1;
    this.port.postMessage(message);
  }

  /** Calls someone waits for that are not answered yet. */
  get awaitedCalls(): number {
    return this.awaited;
  }

  /**
   * Takes the store thread's replies that are already here, now, instead of when this loop's
   * turn reaches them: a turn under a burst is hundreds of requests, and an admitted one's
   * row, written within a millisecond or two, was answered only after all of them. Called by
   * the service for every request it reads (free when nobody waits for a reply).
   */
  poll(): void {
    if (this.awaited === 0) return;
    for (let m = receiveMessageOnPort(this.port); m !== undefined; m = this.awaited > 0 ? receiveMessageOnPort(this.port) : undefined) this.receive(m.message as FromWorker);
  }

  addAudit(entry: AuditEntry, hooks?: CallHooks): Promise<number> {
    // Background rows go in order with the others, through the store's thread.
    const id = hooks?.background ? undefined : this.here((store) => store.addAudit(entry));
    return id !== undefined ? Promise.resolve(id) : this.call('addAudit', [entry], hooks);
  }

  updateAudit(id: number, patch: AuditPatch, hooks?: CallHooks): Promise<void> {
    return this.call('updateAudit', [id, patch], hooks);
  }

  recordRun(report: Report, source: AuditSource, hooks?: CallHooks): Promise<void> {
    return this.call('recordRun', [report, source], hooks);
  }

  runsFor(host: string, options: { port?: number; limit?: number; sinceMs?: number } = {}): Promise<RunRow[]> {
    return this.call('runsFor', [host, options]);
  }

  lastHealthy(host: string, port: number, vantage: string, sinceMs: number): Promise<RunRow | undefined> {
    const read = this.here((store) => ({ row: store.lastHealthy(host, port, vantage, sinceMs) }));
    return read ? Promise.resolve(read.row) : this.call('lastHealthy', [host, port, vantage, sinceMs]);
  }

  /**
   * A call on this thread's connection (`direct`); undefined when there is none, or when it
   * failed: a lock held elsewhere, or any other error, which the store's thread then meets and
   * reports in its own words (or spools the row).
   */
  private here<R>(fn: (store: Store) => R): R | undefined {
    if (!this.direct || this.closed) return undefined;
    try {
      return fn(this.direct);
    } catch {
      return undefined;
    }
  }

  audit(options: { sinceMs?: number; limit?: number } = {}): Promise<AuditRow[]> {
    return this.call('audit', [options]);
  }

  /** Writes what can be written, closes the connection and ends the thread; resolves with the rows left in the spool. */
  close(): Promise<number> {
    this.closed ??= new Promise<number>((resolve) => {
      this.onClosed = (unwritten) => {
        this.onClosed = undefined;
        resolve(unwritten);
      };
      // Calls made before close() are written before the store closes.
      this.direct?.close();
      this.flush();
      this.port.postMessage({ type: 'close' } satisfies ToWorker);
    });
    return this.closed;
  }

  private receive(message: FromWorker): void {
    if (message.type === 'closed') {
      this.onClosed?.(message.unwritten);
      return;
    }
    if (message.type === 'ready' || message.type === 'open-error') return;
    for (const reply of message.replies) this.answer(reply);
  }

  private answer(reply: Reply): void {
    const waiting = this.waiting.get(reply.id);
    if (!waiting) return;
    if (reply.type === 'spooled') {
      waiting.hooks?.spooled?.(reply.file);
      return;
    }
    this.waiting.delete(reply.id);
    if (!waiting.hooks?.background) this.awaited -= 1;
    if (reply.type === 'result') waiting.resolve(reply.value);
    else waiting.reject(new StoreCallError(reply.error));
  }

  private failAll(err: Error): void {
    this.awaited = 0;
    for (const [id, w] of this.waiting) {
      this.waiting.delete(id);
      w.reject(new SshcheckError('E_STORE', `the store thread failed: ${err.message}`, { cause: err }));
    }
  }
}
