// The store's own thread (node:worker_threads): better-sqlite3 is synchronous, and a call
// that waits for another process's lock, or for the disk, must not stop the event loop of
// the bot or `sshcheck serve` (healthz, admission, streams). This thread owns the one
// connection and runs the calls client.ts sends, in order. A row that cannot be written
// because the store is locked is spooled to disk (spool.ts), answered as `spooled` at
// once, and retried here until it is written; reads go on meanwhile (WAL).
import { parentPort, workerData } from 'node:worker_threads';
import { SshcheckError } from '../errors.js';
import { appendSpool, clearSpool, isSpooledMethod } from './spool.js';
import { isBusyError, Store } from './store.js';
import type { Recovery, StoreOptions } from './store.js';

export interface WorkerInit {
  path: string;
  options: Omit<StoreOptions, 'now'>;
  /** Replay gone processes' spools and close their unfinished rows (bot, serve). */
  recover: boolean;
}

export type ToWorker = { type: 'call'; id: number; method: string; args: unknown[] } | { type: 'close' };

export interface WireError {
  message: string;
  code?: string;
  busy: boolean;
}

export type FromWorker =
  | { type: 'ready'; schemaVersion: number; owner: string; recovery?: Recovery }
  | { type: 'open-error'; error: WireError }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: WireError }
  /** The call could not be written now (locked): it is on disk in the spool and will be written. */
  | { type: 'spooled'; id: number; file: string }
  | { type: 'closed'; unwritten: number };

function wire(err: unknown): WireError {
  const code = (err as { code?: unknown } | null)?.code;
  return { message: err instanceof Error ? err.message : String(err), ...(typeof code === 'string' ? { code } : {}), busy: isBusyError(err) };
}

const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 2000;

function serve(port: NonNullable<typeof parentPort>, init: WorkerInit): void {
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
  const pending: Extract<ToWorker, { type: 'call' }>[] = [];
  let retryMs = RETRY_FIRST_MS;
  let timer: NodeJS.Timeout | undefined;

  const apply = (call: Extract<ToWorker, { type: 'call' }>): unknown => (Reflect.get(store, call.method) as (...args: unknown[]) => unknown).apply(store, call.args);

  /** Writes what is spooled, oldest first; stops at the first call that is still locked out. */
  const drain = (): void => {
    while (pending.length > 0) {
      const call = pending[0];
      if (!call) break;
      try {
        post({ type: 'result', id: call.id, value: apply(call) });
      } catch (err) {
        if (isBusyError(err)) return;
        post({ type: 'error', id: call.id, error: wire(err) });
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
      retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
      schedule();
    }, retryMs);
  };

  const spool = (call: Extract<ToWorker, { type: 'call' }>): void => {
    if (!isSpooledMethod(call.method)) return;
    try {
      const file = appendSpool(store.path, store.owner, { method: call.method, args: call.args });
      pending.push(call);
      post({ type: 'spooled', id: call.id, file });
      schedule();
    } catch (err) {
      post({ type: 'error', id: call.id, error: { message: `the store is locked and the row could not be spooled either: ${err instanceof Error ? err.message : String(err)}`, busy: true } });
    }
  };

  port.on('message', (message: ToWorker) => {
    if (message.type === 'close') {
      if (timer) clearTimeout(timer);
      drain();
      const unwritten = pending.length;
      store.close();
      post({ type: 'closed', unwritten });
      port.close();
      return;
    }
    if (!methods.has(message.method)) {
      post({ type: 'error', id: message.id, error: { message: `the store has no method ${message.method.slice(0, 40)}`, busy: false } });
      return;
    }
    const durable = isSpooledMethod(message.method);
    // Rows keep their order: a new row waits behind spooled ones (an update behind its insert).
    // The lock may have gone since the last retry: try the spool first (one busy wait at most,
    // on this thread), so that a row arriving after the lock is written rather than spooled.
    if (durable && pending.length > 0) {
      drain();
      if (pending.length > 0) {
        retryMs = RETRY_FIRST_MS;
        return spool(message);
      }
    }
    try {
      post({ type: 'result', id: message.id, value: apply(message) });
    } catch (err) {
      if (durable && isBusyError(err)) return spool(message);
      post({ type: 'error', id: message.id, error: err instanceof SshcheckError ? { message: err.message, code: err.code, busy: false } : wire(err) });
    }
  });
}

if (parentPort) serve(parentPort, workerData as WorkerInit);
