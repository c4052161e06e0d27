// Watching the Socket Mode connection after it started. The SDK reconnects by itself, but
// two ways out are not reported to anyone: a reconnect that fails for good (the app token
// revoked, the API unreachable after its retries) rejects a promise nobody handles, which
// would end the whole bot, Discord included; and a connection that stays lost. Both become
// a `lost` report, so that the bot restarts this adapter with backoff.
import type { SocketModeReceiver } from '@slack/bolt';
import { errorMessage } from '../../src/errors.js';

type SocketClient = SocketModeReceiver['client'];

/** How long the connection may stay lost before the adapter counts as failed (default). */
export const DEFAULT_LOST_MS = 120_000;

/** Starts watching `client` (connected now); returns the function that stops watching. */
export function watchSocket(client: SocketClient, lostMs: number, lost: (err: Error) => void): () => void {
  let watching = true;
  let timer: NodeJS.Timeout | undefined;
  const report = (err: Error): void => {
    if (!watching) return;
    stop();
    lost(err);
  };
  // The SDK's reconnect calls this.start through a timer and drops its rejection; the
  // instance's own start, reached the same way, reports it instead.
  const original = client.start.bind(client);
  const guarded = async (): Promise<unknown> => {
    try {
      return await original();
    } catch (err) {
      report(new Error(`reconnecting in Socket Mode failed: ${errorMessage(err)}`, { cause: err }));
      return undefined;
    }
  };
  Object.defineProperty(client, 'start', { value: guarded, configurable: true, writable: true });
  const onClose = (): void => {
    if (timer || !watching) return;
    timer = setTimeout(() => report(new Error(`the Socket Mode connection was lost and has not come back in ${Math.round(lostMs / 1000)} s`)), lostMs);
  };
  const onConnected = (): void => {
    clearTimeout(timer);
    timer = undefined;
  };
  client.on('close', onClose);
  client.on('connected', onConnected);
  function stop(): void {
    watching = false;
    clearTimeout(timer);
    client.off('close', onClose);
    client.off('connected', onConnected);
  }
  return stop;
}
