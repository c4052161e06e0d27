// The watches table (migration 5) as the chat's watch runner uses it: asynchronous whatever
// the store underneath, so the bot's event loop never waits on SQLite when it runs the store
// on its own thread (client.ts), and a plain Store works the same in tests and today's bot.
import type { StoreClient } from './client.js';
import type { Store, WatchEntry, WatchPatch, WatchRow } from './store.js';

export interface WatchStore {
  addWatch(entry: WatchEntry): Promise<void>;
  updateWatch(id: string, patch: WatchPatch): Promise<void>;
  stopWatch(id: string, stoppedMs: number, reason: string): Promise<void>;
  activeWatches(): Promise<WatchRow[]>;
}

type SyncWatches = Pick<Store, 'addWatch' | 'updateWatch' | 'stopWatch' | 'activeWatches'>;

/** A Store used on this thread: each call answered on the next turn of the event loop. */
export function watchStoreOf(store: SyncWatches): WatchStore {
  const later = <T>(op: () => T): Promise<T> => Promise.resolve().then(op);
  return {
    addWatch: (entry) => later(() => store.addWatch(entry)),
    updateWatch: (id, patch) => later(() => store.updateWatch(id, patch)),
    stopWatch: (id, stoppedMs, reason) => later(() => store.stopWatch(id, stoppedMs, reason)),
    activeWatches: () => later(() => store.activeWatches()),
  };
}

/** The store on its own thread (the bot and `sshcheck serve` use one). */
export function watchStoreOfClient(client: Pick<StoreClient, 'call'>): WatchStore {
  return {
    addWatch: (entry) => client.call('addWatch', [entry]),
    updateWatch: (id, patch) => client.call('updateWatch', [id, patch]),
    stopWatch: (id, stoppedMs, reason) => client.call('stopWatch', [id, stoppedMs, reason]),
    activeWatches: () => client.call('activeWatches', []),
  };
}
