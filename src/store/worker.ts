// The store's own thread (node:worker_threads): better-sqlite3 is synchronous, and a call
// that waits for another process's lock, or for the disk, must not stop the event loop of
// the bot or `sshcheck serve` (healthz, admission, streams). This thread owns the one
// connection and runs the calls client.ts sends, in order, a batch at a time (the calls of
// one turn of the caller's loop), consecutive rows in one transaction. A row that cannot be
// written because the store is locked is spooled to disk (spool.ts), answered as `spooled`
// at once, and retried here until it is written; reads go on meanwhile (WAL).
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { SshcheckError, errorMessage } from '../errors.js';
import { appendSpoolCalls, clearSpool, isSpooledMethod } from './spool.js';
import type { SpooledMethod } from './spool.js';
import { isBusyError, Store } from './store.js';
import type { Recovery, StoreOptions } from './store.js';

export interface WorkerInit {
  path: string;
  options: Omit<StoreOptions, 'now'>;
  /** Replay gone processes' spools and close their unfinished rows (bot, serve). */
  recover: boolean;
  /** The channel to the client (its replies can be read synchronously there); else the worker's own. */
  port?: MessagePort;
}

/** One Store method call. */
export interface CallMessage {
  id: number;
  method: string;
  args: unknown[];
}

/**
 * The calls made in one turn of the caller's event loop, in order (client.ts): one message,
 * so that a burst wakes this thread once rather than once per row.
 */
export type ToWorker = { type: 'calls'; calls: CallMessage[] } | { type: 'close' };

export interface WireError {
  message: string;
  code?: string;
  busy: boolean;
}

/** The answer to one call. */
export type Reply =
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: WireError }
  /** The call could not be written now (locked): it is on disk in the spool and will be written. */
  | { type: 'spooled'; id: number; file: string };

export type FromWorker =
  | { type: 'ready'; schemaVersion: number; owner: string; recovery?: Recovery }
  | { type: 'open-error'; error: WireError }
  /** The answers of one batch of calls (or of one retry of the spool), in order: one message. */
  | { type: 'replies'; replies: Reply[] }
  | { type: 'closed'; unwritten: number };

function wire(err: unknown): WireError {
  const code = (err as { code?: unknown } | null)?.code;
  return { message: errorMessage(err), ...(typeof code === 'string' ? { code } : {}), busy: isBusyError(err) };
}

const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 2000;

function serve(port: MessagePort, init: WorkerInit): void {
  const post = (message: FromWorker): void => port.postMessage(message);
  let store: Store;
  try {
    store = Store.open(init.path, init.options);
    let recovery: Recovery | undefined;
    if (init.recover && !store.readonly) {
      try {
        recovery = store.recover();
      } catch (err) {
        // A locked store is recovered by the next start; the service runs meanwhile.
        if (!isBusyError(err)) throw err;
      }
    }
    post({ type: 'ready', schemaVersion: store.schemaVersion, owner: store.owner, ...(recovery ? { recovery } : {}) });
  } catch (err) {
    post({ type: 'open-error', error: wire(err) });
    port.close();
    return;
  }
  const methods = new Set(Object.getOwnPropertyNames(Store.prototype).filter((n) => n !== 'constructor' && n !== 'close' && typeof Reflect.get(store, n) === 'function'));
  const pending: CallMessage[] = [];
  let retryMs = RETRY_FIRST_MS;
  let timer: NodeJS.Timeout | undefined;
  // Answers go out together at the end of each batch (flush): one message, one wake-up of the caller.
  let replies: Reply[] = [];
  const reply = (message: Reply): void => void replies.push(message);
  const flush = (): void => {
    if (replies.length === 0) return;
    post({ type: 'replies', replies });
    replies = [];
  };

  const apply = (call: CallMessage): unknown => (Reflect.get(store, call.method) as (...args: unknown[]) => unknown).apply(store, call.args);

  /** Writes what is spooled, oldest first; stops at the first call that is still locked out. */
  const drain = (): void => {
    while (pending.length > 0) {
      const call = pending[0];
      if (!call) break;
      try {
        reply({ type: 'result', id: call.id, value: apply(call) });
      } catch (err) {
        if (isBusyError(err)) return;
        reply({ type: 'error', id: call.id, error: wire(err) });
      }
      pending.shift();
    }
    clearSpool(store.path, store.owner);
    retryMs = RETRY_FIRST_MS;
  };

  const schedule = (): void => {
    if (timer || pending.length === 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      drain();
      flush();
      retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
      schedule();
    }, retryMs);
  };

  /** Spools calls the lock keeps out (one write and one sync for all of them); they are written in order once it goes. */
  const spool = (calls: readonly CallMessage[]): void => {
    const durable = calls.filter((c) => isSpooledMethod(c.method));
    if (durable.length === 0) return;
    try {
      const file = appendSpoolCalls(
        store.path,
        store.owner,
        durable.map((c) => ({ method: c.method as SpooledMethod, args: c.args })),
      );
      for (const call of durable) {
        pending.push(call);
        reply({ type: 'spooled', id: call.id, file });
      }
      schedule();
    } catch (err) {
      for (const call of durable) reply({ type: 'error', id: call.id, error: { message: `the store is locked and the row could not be spooled either: ${errorMessage(err)}`, busy: true } });
    }
  };

  /** One call on its own: its result, its error, or (a row the lock keeps out) spooled. */
  const one = (call: CallMessage): void => {
    try {
      reply({ type: 'result', id: call.id, value: apply(call) });
    } catch (err) {
      if (isSpooledMethod(call.method) && isBusyError(err)) return spool([call]);
      reply({ type: 'error', id: call.id, error: err instanceof SshcheckError ? { message: err.message, code: err.code, busy: false } : wire(err) });
    }
  };

  /**
   * Consecutive rows (audit rows, runs): in one transaction, so that a burst's hundreds of
   * rows cost one commit and, under a lock, one busy wait rather than one each.
   */
  const rows = (calls: CallMessage[]): void => {
    // Rows keep their order: new rows wait behind spooled ones (an update behind its insert).
    // The lock may have gone since the last retry: try the spool first (one busy wait at most,
    // on this thread), so that rows arriving after the lock are written rather than spooled.
    if (pending.length > 0) {
      drain();
      if (pending.length > 0) {
        retryMs = RETRY_FIRST_MS;
        return spool(calls);
      }
    }
    if (calls.length === 1) return calls.forEach(one);
    let values: unknown[];
    try {
      values = Store.inTransaction(store, () => calls.map(apply));
    } catch (err) {
      // Locked out: every row of the batch would wait as long again, so they are spooled now.
      if (isBusyError(err)) return spool(calls);
      // One row failed and the transaction was rolled back: each on its own, so only that one fails.
      return calls.forEach(one);
    }
    calls.forEach((call, i) => reply({ type: 'result', id: call.id, value: values[i] }));
  };

  const batch = (calls: readonly CallMessage[]): void => {
    let run: CallMessage[] = [];
    const endRun = (): void => {
      if (run.length > 0) rows(run);
      run = [];
    };
    for (const call of calls) {
      if (!methods.has(call.method)) {
        endRun();
        reply({ type: 'error', id: call.id, error: { message: `the store has no method ${call.method.slice(0, 40)}`, busy: false } });
      } else if (isSpooledMethod(call.method)) run.push(call);
      else {
        endRun();
        one(call);
      }
    }
    endRun();
  };

  port.on('message', (message: ToWorker) => {
    if (message.type === 'close') {
      if (timer) clearTimeout(timer);
      drain();
      flush();
      const unwritten = pending.length;
      store.close();
      post({ type: 'closed', unwritten });
      port.close();
      return;
    }
    batch(message.calls);
    flush();
  });
}

const init = workerData as WorkerInit | undefined;
const channel = init?.port ?? parentPort;
if (channel && init) serve(channel, init);
